"""How many slots one seller may hold (``[api] max_slots_per_seller``).

Without a limit one seller can fill every free slot with products nobody
buys; the limit keeps slots for the others.  Run inside the creating
transaction, so parallel creations cannot pass it together.
"""

from __future__ import annotations

import sqlite_utils

from controller.errors import NoFreeSlot


def check_slot_quota(db: sqlite_utils.Database, seller_id: int, max_slots: int) -> None:
    """Refuse (409 ``no_free_slot``) a new product of a seller who holds ``max_slots``."""
    if max_slots <= 0:
        return
    held = int(db.conn.execute("SELECT COUNT(*) FROM products WHERE seller_id = ?",
                               (seller_id,)).fetchone()[0])
    if held >= max_slots:
        raise NoFreeSlot(f"a seller may hold at most {max_slots} slots on this machine",
                         fields={"slot": f"at most {max_slots} per seller"})
