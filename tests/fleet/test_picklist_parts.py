"""The fleet pick list from broker messages, without a broker: sums, and machines whose
messages are old, bad or hostile (listed with a note, left out of the sums, escaped)."""

from __future__ import annotations

import json
from typing import Any

from controller.fleet.picklist import machine_list, round_json, round_text
from controller.fleet.picture import FleetPicture


def inventory(slots: list[tuple[str, str, int, int]], *, capacity: bool = True,
              payout: int = 20) -> bytes:
    body: dict[str, Any] = {
        "slots": [{"slot": slot, "productName": name, "cost": 50, "amountAvailable": units,
                   "minLevel": low, "status": "ok", **({"capacity": 10} if capacity else {})}
                  for slot, name, units, low in slots],
        "coins": [{"coin": c, "payout": payout, "cashbox": 0,
                   **({"capacity": 200} if capacity else {})} for c in (5, 50)]}
    return json.dumps(body).encode()


def picture(*messages: tuple[str, bytes]) -> FleetPicture:
    seen = FleetPicture("vending")
    for topic, payload in messages:
        seen.take(topic, payload)
    return seen


def test_bad_old_and_hostile_machines_are_named_and_left_out() -> None:
    seen = picture(
        ("vending/RPV1/status", b'{"online": true, "state": "idle", "faults": []}'),
        ("vending/RPV1/inventory", inventory([("A1", "Cola", 3, 3), ("A2", "\x1b[2JWater", 9, 0)])),
        ("vending/RPV2/inventory", inventory([("A1", "Cola", 0, 0)], capacity=False)),
        ("vending/RPV3/inventory", b'{"slots": [{"slot": "A1", "amountAvailable": -4}]}'),
        ("vending/EVIL\x1b]0;x\x07/inventory", inventory([("B1", "Cola", 8, 0)])),
        ("vending/RPV4/status", b'{"online": false}'))
    machines = [machine_list(record) for record in seen.sorted()]
    data = round_json(machines)
    by_id = {m["machine"]: m for m in data["machines"]}
    assert by_id["RPV1"]["online"] is True
    assert by_id["RPV1"]["slots"][1]["productName"] == "\\x1b[2JWater"
    assert by_id["RPV2"]["problem"] == ("inventory without capacities (an older version): "
                                        "left out")
    assert by_id["RPV3"]["problem"].startswith("inventory refused (")
    assert by_id["RPV4"]["problem"] == "no inventory reported"
    assert "EVIL\\x1b]0;x\\x07" in by_id
    assert data["total"]["products"] == [{"productName": "Cola", "bring": 9},
                                         {"productName": "\\x1b[2JWater", "bring": 1}]
    assert data["total"]["coins"] == [{"coin": 5, "bring": 360}, {"coin": 50, "bring": 360}]
    text = round_text(data)
    assert "\x1b" not in text and "\x07" not in text
    assert "RPV4 (OFFLINE)\n  no inventory reported" in text
    assert ["A1", "Cola", "3/10", "3", "7", "LOW"] in [line.split() for line in text.splitlines()]


def test_a_full_machine_needs_nothing() -> None:
    seen = picture(("vending/RPV1/status", b'{"online": true, "state": "idle", "faults": []}'),
                   ("vending/RPV1/inventory", inventory([("A1", "Cola", 10, 2)], payout=200)))
    text = round_text(round_json([machine_list(r) for r in seen.sorted()]))
    assert text.splitlines() == ["RPV1 (online)", "  slots: nothing to bring",
                                 "  coins: nothing to bring", "", "ROUND: 1 machines",
                                 "  products: nothing to bring", "  coins: nothing to bring"]
