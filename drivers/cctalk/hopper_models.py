"""The ccTalk hopper models the driver knows, and what it must know of each.

- ``security``: what the dispense (167) carries before the count: the
  hopper's serial number (``serial``: Flow, SCH1-style), 8 bytes after pump
  RNG (161) and request cipher key (160) (``zero``: SCH2 "no encryption"
  firmware, which takes any 8 bytes; zeros are sent), or nothing (``none``:
  a plain hopper that takes the count alone);
- ``counter_moves_on_refusal``: whether the event counter moves on a refused
  dispense too (Flow), so that a moved counter alone does not prove a payout.

What a model answers beyond that (the lifetime dispense count 168, level
sensors, identity) is read from the device, not configured.  The names are
what ``[[hoppers]] model`` accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Security = Literal["serial", "zero", "none"]
SECURITY_MODES: tuple[Security, ...] = ("serial", "zero", "none")


@dataclass(frozen=True, slots=True)
class HopperModel:
    """What the driver must know of a hopper model (firmware variant)."""

    security: Security
    counter_moves_on_refusal: bool


HOPPER_MODELS: dict[str, HopperModel] = {
    "flow": HopperModel("serial", counter_moves_on_refusal=True),  # Suzo-Happ Flow
    "sch2": HopperModel("zero", counter_moves_on_refusal=False),  # SCH2 "no encryption"
    "sch1": HopperModel("serial", counter_moves_on_refusal=False),  # plain-ACK firmware
    "plain": HopperModel("none", counter_moves_on_refusal=False),  # no security bytes
}
