"""Credit: what each holder may spend or be paid back.

A *holder* of credit is ``"panel"`` (the anonymous customer at the machine,
one row of the ``panel`` table) or ``"user:<id>"`` (a buyer account's
``deposit``).  A ``"medium:<name>"`` holder (a card reader) holds its money
itself: it has no credit here, and moving credit to or from it does nothing.
Every function runs on the store's owner thread inside the caller's
transaction.
"""

from __future__ import annotations

import sqlite_utils

from controller.errors import NotFound

PANEL = "panel"


def user_holder(user_id: int) -> str:
    return f"user:{user_id}"


def medium_holder(name: str) -> str:
    return f"medium:{name}"


def is_external(holder: str) -> bool:
    """The holder's money is held by its payment medium, not in this machine."""
    return holder.startswith("medium:")


def holder_user_id(holder: str) -> int | None:
    """The account id of a ``user:<id>`` holder; None for the panel."""
    return int(holder.split(":", 1)[1]) if holder.startswith("user:") else None


def find_credit(db: sqlite_utils.Database, holder: str) -> int | None:
    """The holder's credit; None when the holder is an account that is gone, or a
    payment medium (which holds its money itself)."""
    if is_external(holder):
        return None
    uid = holder_user_id(holder)
    if uid is None:
        row = db.conn.execute("SELECT credit FROM panel WHERE id = 1").fetchone()
    else:
        row = db.conn.execute("SELECT deposit FROM users WHERE id = ?", (uid,)).fetchone()
    return None if row is None else int(row[0])


def get_credit(db: sqlite_utils.Database, holder: str) -> int:
    credit = find_credit(db, holder)
    if credit is None:
        raise NotFound("no such user")
    return credit


def add_credit(db: sqlite_utils.Database, holder: str, delta: int) -> None:
    """Move ``delta`` cents into (or, negative, out of) the holder's credit."""
    if is_external(holder):
        return
    uid = holder_user_id(holder)
    if uid is None:
        db.conn.execute("UPDATE panel SET credit = credit + ? WHERE id = 1", (delta,))
    else:
        db.conn.execute("UPDATE users SET deposit = deposit + ? WHERE id = ?", (delta, uid))
