"""Ended sessions leave the database: expired ones at once, revoked ones after a day.

A session row is a refresh-token family.  Once it has expired it can never
be used again, and keeping it only lets the table grow with every login.
A revoked one is kept a day for whoever looks into why it was revoked (a
reused refresh token); a replayed token of a pruned session is refused all
the same (no row, no session).
"""

from __future__ import annotations

import time

import sqlite_utils

REVOKED_KEPT_S = 24 * 3600.0


def prune_sessions(db: sqlite_utils.Database, now: float | None = None) -> int:
    """Delete ended sessions (inside the caller's transaction); return how many."""
    now = time.time() if now is None else now
    cur = db.conn.execute(
        "DELETE FROM sessions WHERE expires_at <= ? "
        "OR (revoked_at IS NOT NULL AND revoked_at <= ?)", (now, now - REVOKED_KEPT_S))
    return cur.rowcount
