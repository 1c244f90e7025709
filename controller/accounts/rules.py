"""User accounts and login sessions, as synchronous functions on the store's db.

Each function runs on the store's owner thread, inside the caller's
``store.tx`` (writes) or ``store.run`` (reads).  Password hashing is slow on
purpose (scrypt), so it is never done inside a transaction: ``prepare_user``
and ``check_password`` run off the store thread and only their result is
written here.

A session is one refresh-token family: login opens it, every refresh rotates
its ``refresh_jti``, and presenting a refresh token whose jti is no longer the
current one (a stolen, replayed token) revokes the whole family.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from controller.accounts.password_policy import check_not_common
from controller.accounts.passwords import burn_time, hash_password, verify_password
from controller.errors import (
    DepositNotEmpty,
    HasProducts,
    NotFound,
    UsernameTaken,
    ValidationError,
)
from controller.store.credit import user_holder
from controller.store.db import next_id
from controller.store.journal import account_busy

USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"
USERNAME_RE = re.compile(USERNAME_PATTERN)
PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_CHARS = 128
API_ROLES: tuple[str, ...] = ("buyer", "seller")
"""Roles an account may be given through the API."""
ALL_ROLES: tuple[str, ...] = ("buyer", "seller", "operator")
"""Roles the CLI may give (the only way to make an operator)."""


@dataclass(frozen=True)
class NewUser:
    """A validated account, password already hashed, ready to insert."""

    username: str
    role: str
    password_hash: str


@dataclass(frozen=True)
class OpenedSession:
    """What login needs to mint its token pair."""

    session_id: str
    refresh_jti: str
    expires_at: float
    other_active: int
    ended_oldest: int = 0
    """Sessions of the account this login ended (past ``MAX_SESSIONS_PER_ACCOUNT``)."""


# --- validation --------------------------------------------------------------


def validate_username(username: object) -> str:
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        raise ValidationError(
            "username must be 3-32 characters of letters, digits, '_', '.' or '-'",
            fields={"username": "3-32 characters [A-Za-z0-9_.-]"},
        )
    return username


def validate_password(password: object) -> str:
    if (not isinstance(password, str)
            or not PASSWORD_MIN_CHARS <= len(password) <= PASSWORD_MAX_CHARS
            or any(unicodedata.category(ch) == "Cc" for ch in password)):
        raise ValidationError(
            f"password must be {PASSWORD_MIN_CHARS}-{PASSWORD_MAX_CHARS} characters "
            "without control characters",
            fields={"password": f"{PASSWORD_MIN_CHARS}-{PASSWORD_MAX_CHARS} characters"},
        )
    check_not_common(password)
    return password


def validate_role(role: object, allowed: tuple[str, ...] = API_ROLES) -> str:
    if not isinstance(role, str) or role not in allowed:
        raise ValidationError(f"role must be one of {', '.join(allowed)}",
                              fields={"role": f"one of {', '.join(allowed)}"})
    return role


def prepare_user(username: object, password: object, role: object, *,
                 allowed_roles: tuple[str, ...] = API_ROLES) -> NewUser:
    """Validate and hash (slow: call it off the store thread, before the transaction)."""
    return NewUser(
        username=validate_username(username),
        role=validate_role(role, allowed_roles),
        password_hash=hash_password(_not_the_name(validate_password(password), username)),
    )


def _not_the_name(password: str, username: object) -> str:
    check_not_common(password, str(username))
    return password


# --- users ---------------------------------------------------------------------


def user_json(row: dict[str, Any]) -> dict[str, Any]:
    """The public shape of an account: never the password hash."""
    return {"id": row["id"], "username": row["username"], "role": row["role"],
            "deposit": row["deposit"]}


def _user_row(db: sqlite_utils.Database, user_id: int) -> dict[str, Any] | None:
    row = db.conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
    return dict(row) if row is not None else None


def create_user(db: sqlite_utils.Database, new: NewUser) -> dict[str, Any]:
    """Insert a prepared account; ``username_taken`` when the name exists in any case."""
    try:
        cur = db.conn.execute(
            "INSERT INTO users (id, username, password_hash, role, deposit, created_at) "
            "VALUES (?, ?, ?, ?, 0, ?)",
            (next_id(db.conn, "users"), new.username, new.password_hash, new.role,
             time.time()),
        )
    except sqlite3.IntegrityError:
        raise UsernameTaken(fields={"username": "taken"}) from None
    return get_user(db, int(cur.lastrowid or 0))


def create_user_cli(db: sqlite_utils.Database, name: str, role: str,
                    password: str) -> dict[str, Any]:
    """Create any account, operators included (the CLI's ``vending user add``).

    Runs its own transaction on ``db``; do not call it inside ``store.tx``.
    """
    new = prepare_user(name, password, role, allowed_roles=ALL_ROLES)
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        user = create_user(db, new)
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")
    return user


def get_user(db: sqlite_utils.Database, user_id: int) -> dict[str, Any]:
    row = _user_row(db, user_id)
    if row is None:
        raise NotFound("no such user")
    return user_json(row)


def set_password_hash(db: sqlite_utils.Database, user_id: int,
                      password_hash: str) -> dict[str, Any]:
    """Store a new password hash (made with ``hash_password`` off the store thread)."""
    cur = db.conn.execute("UPDATE users SET password_hash = ? WHERE id = ?",
                          (password_hash, user_id))
    if cur.rowcount == 0:
        raise NotFound("no such user")
    return get_user(db, user_id)


def delete_user(db: sqlite_utils.Database, user_id: int) -> None:
    """Delete an account that holds no money and no products (its sessions go with it)."""
    row = _user_row(db, user_id)
    if row is None:
        raise NotFound("no such user")
    if row["deposit"] > 0:
        raise DepositNotEmpty("reset the deposit before deleting the account")
    if account_busy(db, user_holder(user_id)):
        raise DepositNotEmpty("a purchase or payout of this account is still running")
    products = db.conn.execute("SELECT COUNT(*) FROM products WHERE seller_id = ?",
                               (user_id,)).fetchone()[0]
    if products:
        raise HasProducts("delete the account's products first")
    db.conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
    db.conn.execute("DELETE FROM users WHERE id = ?", (user_id,))


# --- login -----------------------------------------------------------------------


def find_login(db: sqlite_utils.Database, username: str) -> dict[str, Any] | None:
    """The account row (with hash) for a login name, any case; None if unknown."""
    row = db.conn.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
    return dict(row) if row is not None else None


def check_password(row: dict[str, Any] | None, password: str) -> bool:
    """Constant-time password check; an unknown account costs the same time."""
    if row is None:
        burn_time(password)
        return False
    return verify_password(password, str(row["password_hash"]))


# --- sessions --------------------------------------------------------------------

_ACTIVE = "revoked_at IS NULL AND expires_at > ?"
MAX_SESSIONS_PER_ACCOUNT = 20
"""Live sessions an account may hold: a login past that ends the oldest."""


def _new_id() -> str:
    return secrets.token_urlsafe(16)


def count_active_sessions(db: sqlite_utils.Database, user_id: int, now: float) -> int:
    return int(db.conn.execute(
        f"SELECT COUNT(*) FROM sessions WHERE user_id = ? AND {_ACTIVE}", (user_id, now),
    ).fetchone()[0])


def open_session(db: sqlite_utils.Database, user_id: int, *, ttl_s: float,
                 now: float | None = None) -> OpenedSession:
    """Open a refresh-token family; report how many other sessions stay active.

    The account keeps at most ``MAX_SESSIONS_PER_ACCOUNT``: its oldest end first."""
    now = time.time() if now is None else now
    ended = _end_oldest_sessions(db, user_id, now, keep=MAX_SESSIONS_PER_ACCOUNT - 1)
    others = count_active_sessions(db, user_id, now)
    session = OpenedSession(session_id=_new_id(), refresh_jti=_new_id(),
                            expires_at=now + ttl_s, other_active=others, ended_oldest=ended)
    db.conn.execute(
        "INSERT INTO sessions (id, user_id, refresh_jti, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (session.session_id, user_id, session.refresh_jti, now, session.expires_at),
    )
    return session


def _end_oldest_sessions(db: sqlite_utils.Database, user_id: int, now: float, *,
                         keep: int) -> int:
    """Revoke the account's active sessions but the ``keep`` newest; how many ended."""
    return int(db.conn.execute(
        f"UPDATE sessions SET revoked_at = ?, revoked_reason = 'too_many_sessions' "
        f"WHERE id IN (SELECT id FROM sessions WHERE user_id = ? AND {_ACTIVE} "
        f"ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?)",
        (now, user_id, now, keep)).rowcount)


def rotate_refresh(db: sqlite_utils.Database, session_id: str, user_id: int, jti: str, *,
                   ttl_s: float, now: float | None = None) -> OpenedSession | None:
    """Swap the session's refresh jti for a new one; None when the token is refused.

    A jti that is not the current one is a replayed (possibly stolen) token:
    the whole session is revoked.  Callers must let this transaction commit
    (return, not raise) so the revocation sticks.
    """
    now = time.time() if now is None else now
    row = db.conn.execute(
        f"SELECT refresh_jti FROM sessions WHERE id = ? AND user_id = ? AND {_ACTIVE}",
        (session_id, user_id, now),
    ).fetchone()
    if row is None:
        return None
    if not secrets.compare_digest(str(row["refresh_jti"]), jti):
        revoke_session(db, session_id, "refresh_reuse", now=now)
        return None
    new_jti = _new_id()
    db.conn.execute("UPDATE sessions SET refresh_jti = ?, expires_at = ? WHERE id = ?",
                    (new_jti, now + ttl_s, session_id))
    return OpenedSession(session_id=session_id, refresh_jti=new_jti, expires_at=now + ttl_s,
                         other_active=count_active_sessions(db, user_id, now) - 1)


def session_user(db: sqlite_utils.Database, session_id: str, user_id: int,
                 now: float | None = None) -> dict[str, Any] | None:
    """The account of an active session, or None (revoked, expired, user gone)."""
    active = active_session(db, session_id, user_id, now)
    return active[0] if active is not None else None


def active_session(db: sqlite_utils.Database, session_id: str, user_id: int,
                   now: float | None = None) -> tuple[dict[str, Any], float] | None:
    """The account of an active session and when the session expires, or None."""
    now = time.time() if now is None else now
    row = db.conn.execute(
        "SELECT u.*, s.expires_at AS session_expires_at FROM sessions s "
        "JOIN users u ON u.id = s.user_id "
        "WHERE s.id = ? AND s.user_id = ? AND s.revoked_at IS NULL AND s.expires_at > ?",
        (session_id, user_id, now),
    ).fetchone()
    if row is None:
        return None
    return user_json(dict(row)), float(row["session_expires_at"])


def revoke_session(db: sqlite_utils.Database, session_id: str, reason: str, *,
                   now: float | None = None) -> bool:
    now = time.time() if now is None else now
    cur = db.conn.execute(
        "UPDATE sessions SET revoked_at = ?, revoked_reason = ? "
        "WHERE id = ? AND revoked_at IS NULL", (now, reason, session_id))
    return cur.rowcount > 0


def revoke_all_sessions(db: sqlite_utils.Database, user_id: int, reason: str, *,
                        now: float | None = None) -> int:
    """Revoke every active session of an account; return how many were active."""
    now = time.time() if now is None else now
    cur = db.conn.execute(
        f"UPDATE sessions SET revoked_at = ?, revoked_reason = ? "
        f"WHERE user_id = ? AND {_ACTIVE}", (now, reason, user_id, now))
    return cur.rowcount


def revoke_other_sessions(db: sqlite_utils.Database, user_id: int, keep_session_id: str, *,
                          reason: str, now: float | None = None) -> int:
    """Revoke every active session of an account but one (after a password change)."""
    now = time.time() if now is None else now
    cur = db.conn.execute(
        f"UPDATE sessions SET revoked_at = ?, revoked_reason = ? "
        f"WHERE user_id = ? AND id != ? AND {_ACTIVE}",
        (now, reason, user_id, keep_session_id, now))
    return cur.rowcount
