"""The ccTalk acceptor event-code table: every code classified, and what alerts."""

from __future__ import annotations

import pytest

from drivers.base import CoinEventKind as K
from drivers.cctalk.acceptor_events import EVENT_CODES, classify

# docs/hardware.md's groups, and what an operator must be told.
EXPECTED: dict[int, tuple[K, bool]] = {
    1: (K.REJECTED, False), 2: (K.INHIBITED, False), 3: (K.REJECTED, False),
    4: (K.SENSOR, False), 5: (K.SENSOR, False), 6: (K.SENSOR_FAULT, True),
    7: (K.SENSOR_FAULT, True), 8: (K.SENSOR, False), 9: (K.SENSOR, False),
    10: (K.SENSOR, False), 11: (K.SENSOR, False), 12: (K.SENSOR, False),
    13: (K.SENSOR_FAULT, True), 14: (K.SENSOR_FAULT, True), 15: (K.SENSOR_FAULT, True),
    16: (K.FRAUD, True), 17: (K.COIN_BACKWARDS, True), 18: (K.COIN_MAY_BE_SWALLOWED, True),
    19: (K.COIN_MAY_BE_SWALLOWED, True), 20: (K.FRAUD, True), 21: (K.SENSOR, False),
    22: (K.SENSOR, False), 23: (K.FRAUD, True), 24: (K.FRAUD, True), 25: (K.FRAUD, True),
    26: (K.SENSOR_FAULT, True), 27: (K.ALARM, False), 28: (K.ALARM, False),
    29: (K.SENSOR_FAULT, True), 30: (K.SENSOR_FAULT, True), 31: (K.SENSOR, False),
    32: (K.SENSOR_FAULT, True), 33: (K.SENSOR, False), 34: (K.ALARM, True),
    35: (K.SENSOR_FAULT, True), 36: (K.COIN_MAY_BE_SWALLOWED, True), 37: (K.SENSOR, False),
    38: (K.SENSOR, False), 39: (K.ALARM, True), 40: (K.FRAUD, True),
    253: (K.ALARM, False), 254: (K.RETURN_LEVER, False), 255: (K.ALARM, True),
}


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_named_codes(code: int) -> None:
    event = classify(code)
    assert (event.kind, event.alert) == EXPECTED[code]
    assert event.code == code and event.meaning and "unknown" not in event.meaning


@pytest.mark.parametrize("code", range(128, 160))
def test_inhibited_by_type(code: int) -> None:
    event = classify(code)
    assert (event.kind, event.alert) == (K.INHIBITED, False)
    assert event.meaning == f"inhibited coin (type {code - 127})"


@pytest.mark.parametrize("code", [41, 100, 127, 160, 200, 252])
def test_unknown_codes_alert(code: int) -> None:
    event = classify(code)
    assert (event.kind, event.alert) == (K.ALARM, True)
    assert event.meaning == f"unknown event code {code}"


def test_every_byte_is_classified_and_the_table_is_complete() -> None:
    assert set(EVENT_CODES) == set(EXPECTED) | set(range(128, 160))
    for code in range(256):
        assert isinstance(classify(code).kind, K)
    with pytest.raises(ValueError):
        classify(256)


def test_hardware_md_fraud_indicators_all_alert() -> None:
    for code in (16, 17, 18, 19, 20, 23, 36, 40):
        assert classify(code).alert, code
