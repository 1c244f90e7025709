"""The ccTalk coin acceptor variants the driver is known to work with.

The driver needs no setting per model: it reads what differs from the device
itself (which positions have a coin id, whether header 228 exists) and copes
with the rest (sorter path 0, a buffer not cleared at reset).  The names are
what ``[acceptor] model`` in the config accepts; on a simulated machine they
select the simulated acceptor (``simulators/cctalk/acceptor_models.py``).
"""

from __future__ import annotations

ACCEPTOR_MODELS: dict[str, str] = {
    "generic": "the generic specification as docs/hardware.md sums it up: 16 coin positions "
               "(unused ones answer '......'), master inhibit 228, a sorter path in every "
               "credit, everything inhibited and the event buffer cleared at a reset",
    "basic": "12 coin positions (13..16 are NAKed, unused ones answer blanks), no master "
             "inhibit (228 is NAKed: coins are refused through 231), no sorter (path 0)",
    "retentive": "inhibits kept through a reset, the event buffer not cleared at a reset "
                 "(old pairs behind a counter of 0), sorter path 1 to a hopper, 2 to the "
                 "cashbox",
}
DEFAULT_ACCEPTOR_MODEL = "generic"
