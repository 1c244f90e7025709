"""What the MDB payment devices give the EVA-DTS report: who they are.

Their tubes need nothing here: they are the books' hoppers (``CA15``/``CA17``).
"""

from __future__ import annotations

from drivers.base import Devices
from drivers.mdb.changer_parts import ChangerAcceptor
from drivers.mdb.device import MdbIdentity


def _identity(ident: MdbIdentity) -> tuple[str, str, str]:
    return (ident.serial or "0", ident.model or "MDB", ident.software_version or "0")


def device_audit(devices: Devices | None) -> dict[str, tuple[str, str, str]]:
    """``changer`` (``CA1``) and ``bills`` (``BA1``), for those present."""
    out: dict[str, tuple[str, str, str]] = {}
    if devices is not None and isinstance(devices.acceptor, ChangerAcceptor):
        out["changer"] = _identity(devices.acceptor.changer.identity)
    if devices is not None and devices.bills is not None:
        out["bills"] = _identity(devices.bills.identity)
    return out
