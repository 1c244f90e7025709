"""What a simulated hopper says about itself, beyond paying: the requests a host
sends at start-up and at rest.

- 168 lifetime dispense count: 3 bytes, least significant first; it counts
  every coin that left the hopper and survives resets (the Flow saves it to
  EEPROM before a reset), so a host that read it before a dispense knows
  after any crash exactly how many coins left;
- 171 hopper coin: the coin id the hopper is set up for (``EU050A``);
- 217 payout level status: bit 0 at or below the low level, bit 1 at or above
  the high level, bits 4 and 5 say both sensors are fitted;
- 236 level sensors (Flow): bit 0 empty, bit 1 full;
- 247 variable set: the model's fixed bytes.

A model answers only the ones it implements (``SimHopperModel.answers``);
the hopper NAKs the others.  Not modelled: writing the variable set, the
level plates' hysteresis.
"""

from __future__ import annotations

from drivers.cctalk.frame import Header

COUNT_BYTES = 3
LOW_SENSOR_FITTED = 0x10
HIGH_SENSOR_FITTED = 0x20


def coin_id(coin_cents: int) -> bytes:
    return f"EU{coin_cents:03d}A".encode("ascii")


def dispense_count_bytes(count: int) -> bytes:
    return (count % (1 << 8 * COUNT_BYTES)).to_bytes(COUNT_BYTES, "little")


def level_status(coins: int, low_level: int, high_level: int) -> bytes:
    """The 217 reply for ``coins`` in the hopper."""
    bits = LOW_SENSOR_FITTED | HIGH_SENSOR_FITTED
    if coins <= low_level:
        bits |= 0x01
    if coins >= high_level:
        bits |= 0x02
    return bytes((bits,))


def level_sensors(coins: int, low_level: int, high_level: int) -> bytes:
    """The 236 reply (Flow): bit 0 empty, bit 1 full."""
    return bytes((int(coins <= low_level) | int(coins >= high_level) << 1,))


def info_reply(header: int, *, coin_cents: int, dispense_count: int, coins: int,
               low_level: int, high_level: int, variables: bytes) -> bytes | None:
    """The data of one of the five replies; None for another header."""
    if header == Header.DISPENSE_COUNT:
        return dispense_count_bytes(dispense_count)
    if header == Header.HOPPER_COIN:
        return coin_id(coin_cents)
    if header == Header.PAYOUT_LEVEL_STATUS:
        return level_status(coins, low_level, high_level)
    if header == Header.LEVEL_SENSORS:
        return level_sensors(coins, low_level, high_level)
    if header == Header.VARIABLE_SET:
        return variables
    return None
