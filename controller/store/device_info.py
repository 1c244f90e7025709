"""What each device said it is at start-up (its identity), kept beside its state.

``device_state.data`` holds a JSON object per device (``acceptor``,
``hopper:50``); its ``identity`` is the last identity the device gave
(``drivers.base.DeviceIdentity.as_json``), so the audit report, read by
another process, names the devices as the running machine found them.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils


def save_identity(db: sqlite_utils.Database, device: str, identity: dict[str, Any]) -> None:
    """Keep ``identity`` for ``device`` (replacing the one before); the counter stays."""
    row = db.conn.execute("SELECT data FROM device_state WHERE device = ?",
                          (device,)).fetchone()
    data = json.loads(row[0]) if row and row[0] else {}
    if data.get("identity") == identity:
        return
    data["identity"] = identity
    db.conn.execute("INSERT INTO device_state (device, data) VALUES (?, ?) "
                    "ON CONFLICT(device) DO UPDATE SET data = excluded.data",
                    (device, json.dumps(data)))


def identities(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    """Device name -> its last identity, for every device that gave one."""
    found: dict[str, dict[str, Any]] = {}
    for device, data in db.conn.execute("SELECT device, data FROM device_state"):
        identity = json.loads(data or "{}").get("identity")
        if isinstance(identity, dict):
            found[str(device)] = identity
    return found
