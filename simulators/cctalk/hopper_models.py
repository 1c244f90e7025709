"""How the simulated hopper models differ, as the SCH2 and Flow manuals describe.

A ``SimHopperModel`` names what one firmware variant does on the bus:

- ``security``: what the 167 dispense takes before the count: the hopper's
  serial number (Flow), any 8 bytes (``zero``: SCH2 "no encryption"
  firmware) or nothing at all (``none``: a plain hopper takes the count alone);
- ``cipher_key_required``: the 8-byte form is taken only right after a
  "request cipher key" (160), once per dispense (SCH2); otherwise it is NAKed.
  Such a hopper also takes "pump RNG" (161, 8 bytes), which hosts send first;
- ``counter_on_refusal``: whether a refused dispense moves the event counter
  (Flow does, SCH2 does not);
- ``dispense_reply_counter``: an accepted dispense answers with the event
  counter (SCH2, SCH3, Flow) or a plain ACK with no data (SCH1-style);
- ``test_reply_len``: the bytes of the test hopper (163) reply: 1 (SCH1),
  2 (SCH2), 3 (SCH3 and, in this simulator, Flow);
- ``identity``: the answers to 246 (manufacturer), 244 (product code), 241
  (software revision), 4 (comms revision, 3 bytes) and 192 (build code); a
  header missing from it is NAKed, as on a device without it;
- ``answers``: which of 168 (lifetime dispense count), 171 (hopper coin),
  217 (payout level status), 236 (level sensors) and 247 (variable set) the
  model implements (the Flow manual lists all five); the others are NAKed;
- ``variables``: the 247 reply (Flow: current limit, motor stop delay,
  payout timeout, max current, supply voltage, connector address).

Not modelled: the encrypted SCH2/SCH3 variants (the vendor's cipher), which
the controller refuses at config time, and the models' real payout speeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from drivers.cctalk.frame import Header
from simulators.cctalk.device import identity_replies

Security = Literal["serial", "zero", "none"]
ALL_INFO = frozenset({Header.DISPENSE_COUNT, Header.HOPPER_COIN, Header.PAYOUT_LEVEL_STATUS,
                      Header.LEVEL_SENSORS, Header.VARIABLE_SET})


@dataclass(frozen=True, slots=True)
class SimHopperModel:
    name: str
    security: Security
    cipher_key_required: bool
    counter_on_refusal: bool
    dispense_reply_counter: bool
    test_reply_len: int
    identity: dict[int, bytes] = field(default_factory=dict)
    answers: frozenset[int] = frozenset()
    variables: bytes = b""



HOPPER_MODELS: dict[str, SimHopperModel] = {
    "flow": SimHopperModel(
        "flow", "serial", cipher_key_required=False, counter_on_refusal=True,
        dispense_reply_counter=True, test_reply_len=3,
        identity=identity_replies("Suzo-Happ", "Payout", "STC2010-V1.1F-PAYOUT", (1, 3, 2),
                                  "FLOW18"),
        answers=ALL_INFO, variables=bytes((60, 10, 30, 0, 24, 0))),
    "sch2": SimHopperModel(
        "sch2", "zero", cipher_key_required=True, counter_on_refusal=False,
        dispense_reply_counter=True, test_reply_len=2,
        identity=identity_replies("Money Controls", "SCH2", "SCH2-V4.1", (1, 4, 2), "STD"),
        answers=frozenset({Header.HOPPER_COIN, Header.PAYOUT_LEVEL_STATUS,
                           Header.VARIABLE_SET}),
        variables=bytes((50, 10, 30, 0))),
    "sch1": SimHopperModel(
        "sch1", "serial", cipher_key_required=False, counter_on_refusal=False,
        dispense_reply_counter=False, test_reply_len=1,
        identity=identity_replies("Money Controls", "SCH1", "SCH1-V2.0", None, None),
        answers=frozenset({Header.PAYOUT_LEVEL_STATUS})),
    "plain": SimHopperModel(
        "plain", "none", cipher_key_required=False, counter_on_refusal=False,
        dispense_reply_counter=True, test_reply_len=1,
        identity=identity_replies("Generic", "HOPPER-U", "U-1.0", (1, 2, 0), None),
        answers=frozenset({Header.DISPENSE_COUNT, Header.HOPPER_COIN,
                           Header.PAYOUT_LEVEL_STATUS, Header.LEVEL_SENSORS})),
}
DEFAULT_HOPPER_MODEL = "flow"


def hopper_model(name: str) -> SimHopperModel:
    """The model called ``name``; ValueError naming the known ones otherwise."""
    try:
        return HOPPER_MODELS[name]
    except KeyError:
        raise ValueError(f"unknown hopper model {name!r}; known: "
                         f"{', '.join(sorted(HOPPER_MODELS))}") from None
