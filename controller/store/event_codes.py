"""EVA-DTS event codes (Appendix C of the standard) for what this machine records.

A fault names its device and a reason (``controller.faults``); its event code
follows from both: the device says which table of Appendix C (``slot`` the
food/snack system ``EJ*``, ``acceptor`` and ``hopper`` the coin mechanism
``EA*``, ``machine`` the control system ``EC*``), the reason says which code.
A vend that delivered nothing is counted apart, as ``ELA`` (product delivery
failure), from the ``failed_vends`` counter: its slot fault adds the cause only
when the motor jammed (``EJB``, ``EJC``).  ``EJL`` is kept for a fault of the
drop sensor itself.  Unknown devices (a reader, a bill validator added later)
have no code until they are given one here.
"""

from __future__ import annotations

DELIVERY_FAILURE = "ELA"  # a vend that delivered nothing
DOOR_OPEN = "EGS"  # the operator's service mode

# (words in the reason, code), first match wins, per device kind
_COMMS = ("not answering", "device_lost", "device_reset", "dispense_unknown",
          "cannot tell", "comms")
_RULES: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "slot": ((("(jam_home)",), "EJB"),  # dispense motor: never left home (jammed, wiring)
             (("(jam_turn)",), "EJC"),  # helix blocked: left home, never came back
             (("drop sensor fault", "drop_sensor"), "EJL")),  # the detector itself
    "hopper": ((_COMMS, "EAR"),  # comms between mech and VMC
               (("jam", "timeout", "short pay", "short_pay"), "EAF"),  # jammed dispenser
               (("sensor", "refused"), "EAN"),  # failed dispenser
               (("empty",), "EAZ")),  # other: ran empty (no code of its own)
    "acceptor": ((_COMMS, "EAR"),
                 (("jam",), "EAD"),  # jammed validator
                 ((), "EAZ")),  # other (events lost, ...)
    "machine": (((), "ECZ"),),  # control system, other
}


def fault_event_code(device: str, reason: str) -> str | None:
    """The event code of a fault of ``device`` for ``reason``; None when it has none
    (a slot whose vend failed without a jam: its ``ELA`` is counted with the vend)."""
    rules = _RULES.get(device.split(":", 1)[0], ())
    text = reason.lower()
    for words, code in rules:
        if not words or any(word in text for word in words):
            return code
    return None
