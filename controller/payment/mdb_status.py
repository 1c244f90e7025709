"""What ``GET /machine`` says of the MDB payment devices: identity, state, tubes, stacker."""

from __future__ import annotations

from typing import Any

from controller.payment.bill_gate import BillGate
from drivers.base import Devices
from drivers.mdb.changer_parts import ChangerAcceptor


def mdb_state(devices: Devices | None, bills: BillGate) -> dict[str, Any]:
    """``changer`` and ``bills`` sections, present only when those devices are."""
    out: dict[str, Any] = {}
    if devices is not None and isinstance(devices.acceptor, ChangerAcceptor):
        changer = devices.acceptor.changer
        setup = changer.setup_info
        out["changer"] = {
            "state": changer.state.value, "detail": changer.detail,
            "level": setup.level if setup else None,
            "identity": changer.identity.as_dict(),
            "tubes": [{"coin": coin, "count": changer.tube_count(coin),
                       "outOfOrder": changer.tube_out_of_order(coin)}
                      for coin in changer.coin_values() if changer.tube_type(coin) is not None],
        }
    status = bills.status_json()
    if status is not None:
        out["bills"] = status
    return out
