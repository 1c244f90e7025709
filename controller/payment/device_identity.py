"""The payment devices' identities: shown in ``GET /machine``, kept for the audit.

Each ccTalk device says who it is at start-up (``drivers.cctalk.identity``);
a device that said nothing (a pulse device, or one not brought in yet) has
``identity: null``.  ``record`` keeps what they said in the store, where the
audit report (``CA1``, ``HA1``) reads it.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from controller.store import Store
from controller.store.device_info import save_identity
from drivers.base import CoinAcceptor, DeviceIdentity, Hopper


def _json(identity: DeviceIdentity | None) -> dict[str, Any] | None:
    return None if identity is None else identity.as_json()


def with_identities(state: dict[str, Any], acceptor: CoinAcceptor | None,
                    hoppers: dict[int, Hopper]) -> dict[str, Any]:
    """``state`` (the ``GET /machine`` answer) with ``acceptor.identity`` and a
    ``hoppers`` list (coin, device, identity); every other field unchanged."""
    acceptor_json = dict(state.get("acceptor") or {})
    acceptor_json["identity"] = _json(acceptor.identity if acceptor is not None else None)
    return {**state, "acceptor": acceptor_json,
            "hoppers": [{"coin": coin, "device": f"hopper:{coin}",
                         "identity": _json(hopper.identity)}
                        for coin, hopper in sorted(hoppers.items())]}


async def record(store: Store, acceptor: CoinAcceptor | None,
                 hoppers: dict[int, Hopper]) -> None:
    """Keep every identity a device gave (one transaction)."""
    found = {f"hopper:{coin}": h.identity for coin, h in hoppers.items()}
    found["acceptor"] = acceptor.identity if acceptor is not None else None
    given = {device: identity.as_json() for device, identity in found.items()
             if identity is not None}
    if not given:
        return

    def save(db: sqlite_utils.Database) -> None:
        for device, identity in given.items():
            save_identity(db, device, identity)

    await store.tx(save)
