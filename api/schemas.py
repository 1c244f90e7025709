"""JSON Schemas of the API's answers (components of the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from controller.money import COINS_CENTS


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None,
        *, closed: bool = True) -> dict[str, Any]:
    """An object schema with these required (and optional) properties."""
    return {"type": "object", "properties": {**required, **(optional or {})},
            "required": list(required), "additionalProperties": not closed}


INT = {"type": "integer"}
STR = {"type": "string"}
COIN = {"type": "integer", "enum": list(COINS_CENTS)}
CHANGE = array(COIN)
ANY_OBJECT: dict[str, Any] = {"type": "object"}

COMPONENTS: dict[str, dict[str, Any]] = {
    "Error": obj({"error": obj(
        {"code": STR, "message": STR},
        {"fields": {"type": "object", "additionalProperties": STR}})}),
    "User": obj({"id": INT, "username": STR,
                 "role": {"type": "string", "enum": ["buyer", "seller", "operator"]},
                 "deposit": INT}),
    "Product": obj({"id": INT, "productName": STR, "cost": INT, "amountAvailable": INT,
                    "sellerId": INT, "slot": STR, "minLevel": INT}),
    "TokenPair": obj(
        {"accessToken": STR, "refreshToken": STR,
         "tokenType": {"type": "string", "enum": ["Bearer"]},
         "expiresIn": INT, "activeSessions": INT},
        {"message": STR}),
    "Terminated": obj({"terminated": INT}),
    "Deposit": obj({"deposit": INT}),
    "Purchase": obj({"totalSpent": INT, "product": ref("Product"), "amount": INT,
                     "change": CHANGE, "deposit": INT}),
    "Reset": obj({"deposit": {"type": "integer", "enum": [0]}, "change": CHANGE}),
    "Collected": obj({"collected": INT}),
    "Fault": obj({"device": STR, "reason": STR, "latched": {"type": "boolean"}}),
    "Health": obj({"status": STR, "state": STR}, {"faults": array(ref("Fault"))},
                  closed=False),
    "MachineState": ANY_OBJECT,
    "CoinStock": obj({"coin": COIN, "payout": INT, "capacity": INT, "cashbox": INT,
                      "fault": {"type": ["string", "null"]}}),
    "Inventory": obj({"coin": COIN, "payout": INT, "capacity": INT, "cashbox": INT,
                      "fault": {"type": ["string", "null"]},
                      "coins": array(ref("CoinStock"))}),
    "Event": obj({"id": INT}, closed=False),
    "Sales": obj({
        "hours": array(obj({"start": {"type": "string", "format": "date-time"}, "count": INT,
                            "cents": INT})),
        "days": array(obj({"date": {"type": "string", "format": "date"}, "count": INT,
                           "cents": INT})),
        "products": array(obj({"slot": STR, "productName": STR, "count": INT, "cents": INT})),
        "media": array(obj({"medium": STR, "count": INT, "cents": INT}))}),
    "Picklist": obj({
        "slots": array(obj({"slot": STR, "productName": STR, "amountAvailable": INT,
                            "capacity": INT, "minLevel": INT, "bring": INT})),
        "products": array(obj({"productName": STR, "bring": INT})),
        "coins": array(obj({"coin": COIN, "payout": INT, "capacity": INT, "bring": INT}))}),
    "SimState": obj({"display": array(STR), "tray": array(STR), "returned": array(COIN),
                     "state": STR}, closed=False),
    "SimTray": obj({"tray": array(STR), "returned": array(COIN)}, closed=False),
    "SimAnswer": ANY_OBJECT,
}
