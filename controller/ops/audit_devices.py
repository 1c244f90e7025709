"""What the MDB payment devices give the EVA-DTS report: identities and tubes."""

from __future__ import annotations

from controller.ops.audit import DeviceAudit, TubeAudit
from drivers.base import Devices
from drivers.mdb.changer_parts import ChangerAcceptor
from drivers.mdb.device import MdbIdentity


def _identity(ident: MdbIdentity) -> tuple[str, str, str]:
    return (ident.serial or "0", ident.model or "MDB", ident.software_version or "0")


def device_audit(devices: Devices | None) -> DeviceAudit:
    """CA1 and CA15/CA17 from the changer, BA1 from the bill validator (when present)."""
    if devices is None:
        return DeviceAudit()
    changer = bills = None
    tubes: list[TubeAudit] = []
    if isinstance(devices.acceptor, ChangerAcceptor):
        c = devices.acceptor.changer
        changer = _identity(c.identity)
        full = c.tubes.full_mask if c.tubes is not None else 0
        for coin in c.coin_values():
            t = c.tube_type(coin)
            if t is not None:
                tubes.append(TubeAudit(t, coin, c.tube_count(coin), bool(full >> t & 1)))
    if devices.bills is not None:
        bills = _identity(devices.bills.identity)
    return DeviceAudit(changer=changer, bills=bills, tubes=tubes)
