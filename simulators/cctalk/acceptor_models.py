"""How the simulated coin acceptor models differ, where real acceptors do.

A ``SimAcceptorModel`` names what one variant does on the bus, in the ways
that matter to the driver (the names and summaries are
``drivers.cctalk.acceptor_models.ACCEPTOR_MODELS``):

- ``positions``: coin positions the device has (16, or 12 on smaller
  validators); a coin id request (184) beyond them is NAKed when
  ``nak_beyond_positions``, else answered like an unused position;
- ``unused_coin_id``: the answer for a position with no coin: six dots (the
  specification's), or six blanks;
- ``master_inhibit``: header 228 exists; without it the device NAKs it and
  accepts whatever 231 enables;
- ``sorter_paths``: the sorter path (B) a credit carries for a coin that goes
  to its hopper and for one that goes to the cashbox; (0, 0): no sorter;
- ``keeps_inhibits_at_reset``: 231 and 228 survive a reset (kept in
  non-volatile memory) instead of going back to "everything inhibited";
- ``clears_buffer_at_reset``: the five event pairs of 229 are zeroed at a reset
  (the counter is 0 after a reset on every model);
- ``identity``: the answers to 246 (manufacturer), 244 (product code), 241
  (software revision), 4 (comms revision, 3 bytes) and 192 (build code); a
  header missing from it is NAKed (the ``basic`` validator has no 4 and 192).

Not modelled: the power-up silence, teach mode, bill validators, coin id
value codes with a multiplier letter (the config maps those).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.cctalk.acceptor_models import DEFAULT_ACCEPTOR_MODEL
from simulators.cctalk.device import identity_replies


@dataclass(frozen=True, slots=True)
class SimAcceptorModel:
    name: str
    positions: int
    nak_beyond_positions: bool
    unused_coin_id: bytes
    master_inhibit: bool
    sorter_paths: tuple[int, int]  # (to its hopper, to the cashbox)
    keeps_inhibits_at_reset: bool
    clears_buffer_at_reset: bool
    identity: dict[int, bytes] = field(default_factory=dict)



ACCEPTOR_MODELS: dict[str, SimAcceptorModel] = {
    "generic": SimAcceptorModel("generic", 16, nak_beyond_positions=False,
                                unused_coin_id=b"......", master_inhibit=True,
                                sorter_paths=(1, 1), keeps_inhibits_at_reset=False,
                                clears_buffer_at_reset=True,
                                identity=identity_replies("Generic", "CCT-16", "CCT-V2.3",
                                                          (1, 4, 2), "EU-STD")),
    "basic": SimAcceptorModel("basic", 12, nak_beyond_positions=True,
                              unused_coin_id=b"      ", master_inhibit=False,
                              sorter_paths=(0, 0), keeps_inhibits_at_reset=False,
                              clears_buffer_at_reset=True,
                              identity=identity_replies("Generic", "CCT-12", "CCT-V1.0")),
    "retentive": SimAcceptorModel("retentive", 16, nak_beyond_positions=False,
                                  unused_coin_id=b"......", master_inhibit=True,
                                  sorter_paths=(1, 2), keeps_inhibits_at_reset=True,
                                  clears_buffer_at_reset=False,
                                  identity=identity_replies("Generic", "CCT-16R", "CCT-V3.1",
                                                     (1, 4, 3), "EU-NV")),
}


def acceptor_model(name: str = DEFAULT_ACCEPTOR_MODEL) -> SimAcceptorModel:
    """The model called ``name``; ValueError naming the known ones otherwise."""
    try:
        return ACCEPTOR_MODELS[name]
    except KeyError:
        raise ValueError(f"unknown acceptor model {name!r}; known: "
                         f"{', '.join(sorted(ACCEPTOR_MODELS))}") from None
