"""How the simulated hopper models differ, as the SCH2 and Flow manuals describe.

A ``SimHopperModel`` names what one firmware variant does on the bus:

- ``security``: what the 167 dispense takes before the count: the hopper's
  serial number (Flow) or any 8 bytes (SCH2 "no encryption" firmware);
- ``cipher_key_required``: the 8-byte form is taken only right after a
  "request cipher key" (160), once per dispense (SCH2); otherwise it is NAKed;
- ``counter_on_refusal``: whether a refused dispense moves the event counter
  (Flow does, SCH2 does not);
- ``dispense_reply_counter``: an accepted dispense answers with the event
  counter (SCH2, SCH3, Flow) or a plain ACK with no data (SCH1-style);
- ``test_reply_len``: the bytes of the test hopper (163) reply: 1 (SCH1),
  2 (SCH2), 3 (SCH3 and, in this simulator, Flow).

Not modelled: the encrypted SCH2/SCH3 variants (the vendor's cipher), which
the controller refuses at config time, and the models' real payout speeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Security = Literal["serial", "zero"]


@dataclass(frozen=True, slots=True)
class SimHopperModel:
    name: str
    security: Security
    cipher_key_required: bool
    counter_on_refusal: bool
    dispense_reply_counter: bool
    test_reply_len: int


HOPPER_MODELS: dict[str, SimHopperModel] = {
    "flow": SimHopperModel("flow", "serial", cipher_key_required=False,
                           counter_on_refusal=True, dispense_reply_counter=True,
                           test_reply_len=3),
    "sch2": SimHopperModel("sch2", "zero", cipher_key_required=True,
                           counter_on_refusal=False, dispense_reply_counter=True,
                           test_reply_len=2),
    "sch1": SimHopperModel("sch1", "serial", cipher_key_required=False,
                           counter_on_refusal=False, dispense_reply_counter=False,
                           test_reply_len=1),
}
DEFAULT_HOPPER_MODEL = "flow"


def hopper_model(name: str) -> SimHopperModel:
    """The model called ``name``; ValueError naming the known ones otherwise."""
    try:
        return HOPPER_MODELS[name]
    except KeyError:
        raise ValueError(f"unknown hopper model {name!r}; known: "
                         f"{', '.join(sorted(HOPPER_MODELS))}") from None
