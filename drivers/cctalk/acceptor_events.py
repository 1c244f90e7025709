"""The coin acceptor event codes of the ccTalk generic specification, classified.

An event of header 229 with A = 0 carries a code in B.  Each code has a
meaning (logged with the event), a kind (``CoinEventKind``) and whether an
operator must know of it (``alert``): a fraud attempt, a coin that may have
been swallowed without credit, a sensor or mechanism that needs service.
A coin simply rejected or inhibited, a coin inserted too quickly, or the
customer's return lever are normal use and only logged.

Codes not in the table (41..127, 160..252) are unknown alarms and alert.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.base import CoinEventKind

K = CoinEventKind


@dataclass(frozen=True, slots=True)
class AcceptorEventCode:
    code: int
    kind: CoinEventKind
    meaning: str
    alert: bool = False  # an operator must know (raised as a machine event)


def _table() -> dict[int, AcceptorEventCode]:
    rows: list[tuple[int, CoinEventKind, str, bool]] = [
        (1, K.REJECTED, "reject coin", False),
        (2, K.INHIBITED, "inhibited coin", False),
        (3, K.REJECTED, "multiple window", False),
        (4, K.SENSOR, "wake-up timeout", False),
        (5, K.SENSOR, "validation timeout", False),
        (6, K.SENSOR_FAULT, "credit sensor timeout", True),
        (7, K.SENSOR_FAULT, "sorter opto timeout", True),
        (8, K.SENSOR, "2nd close coin error (coins too close together)", False),
        (9, K.SENSOR, "accept gate not ready", False),
        (10, K.SENSOR, "credit sensor not ready", False),
        (11, K.SENSOR, "sorter not ready", False),
        (12, K.SENSOR, "reject coin not cleared", False),
        (13, K.SENSOR_FAULT, "validation sensor not ready", True),
        (14, K.SENSOR_FAULT, "credit sensor blocked", True),
        (15, K.SENSOR_FAULT, "sorter opto blocked", True),
        (16, K.FRAUD, "credit sequence error", True),
        (17, K.COIN_BACKWARDS, "coin going backwards", True),
        (18, K.COIN_MAY_BE_SWALLOWED, "coin too fast over the credit sensor", True),
        (19, K.COIN_MAY_BE_SWALLOWED, "coin too slow over the credit sensor", True),
        (20, K.FRAUD, "coin-on-string mechanism activated", True),
        (21, K.SENSOR, "dual coin entry opto timeout", False),
        (22, K.SENSOR, "dual coin entry opto not seen", False),
        (23, K.FRAUD, "credit sensor reached too early", True),
        (24, K.FRAUD, "reject coin (repeated sequential trip)", True),
        (25, K.FRAUD, "reject slug", True),
        (26, K.SENSOR_FAULT, "reject sensor blocked", True),
        (27, K.ALARM, "games overload", False),
        (28, K.ALARM, "maximum coin meter pulses exceeded", False),
        (29, K.SENSOR_FAULT, "accept gate open, not closed", True),
        (30, K.SENSOR_FAULT, "accept gate closed, not open", True),
        (31, K.SENSOR, "manifold opto timeout", False),
        (32, K.SENSOR_FAULT, "manifold opto blocked", True),
        (33, K.SENSOR, "manifold not ready", False),
        (34, K.ALARM, "security status changed", True),
        (35, K.SENSOR_FAULT, "motor exception", True),
        (36, K.COIN_MAY_BE_SWALLOWED, "swallowed coin", True),
        (37, K.SENSOR, "coin too fast over the validation sensor", False),
        (38, K.SENSOR, "coin too slow over the validation sensor", False),
        (39, K.ALARM, "coin incorrectly sorted", True),
        (40, K.FRAUD, "external light attack", True),
        (253, K.ALARM, "data block request", False),
        (254, K.RETURN_LEVER, "coin return mechanism activated (flight deck open)", False),
        (255, K.ALARM, "unspecified alarm code", True),
    ]
    table = {code: AcceptorEventCode(code, kind, meaning, alert)
             for code, kind, meaning, alert in rows}
    for type_number in range(1, 33):
        code = 127 + type_number
        table[code] = AcceptorEventCode(code, K.INHIBITED, f"inhibited coin (type {type_number})")
    return table


EVENT_CODES: dict[int, AcceptorEventCode] = _table()


def classify(code: int) -> AcceptorEventCode:
    """The classification of event code ``code`` (0..255)."""
    if not 0 <= code <= 255:
        raise ValueError(f"event code {code} is not a byte")
    known = EVENT_CODES.get(code)
    if known is not None:
        return known
    if code == 0:
        return AcceptorEventCode(0, K.ALARM, "null event")
    return AcceptorEventCode(code, K.ALARM, f"unknown event code {code}", alert=True)
