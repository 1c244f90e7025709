"""Accounts and login sessions as the API and the CLI change them.

Each method is one store transaction of ``controller.accounts.rules``; password
hashes (scrypt, slow on purpose) are made on a thread of their own before
it, so a flood of sign-ups cannot take the threads that logins check
passwords on.  Deleting an account waits for a running sale and refuses one
whose deposit coin is awaited at the slot.

Every change of an account or a session is published as an ``account`` event.
The account behind a session (``session_user``, asked on every authenticated
request) is answered from a ``ReadCache`` dropped on ``account`` and ``credit``
events and on every commit to the database; the session's expiry is checked
on every answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlite_utils

from controller.accounts import rules as accounts
from controller.accounts.passwords import hash_password
from controller.accounts.session_pruning import prune_sessions
from controller.errors import DepositNotEmpty, UsernameTaken
from controller.events import EventStream
from controller.store import Store
from controller.store.read_cache import ReadCache

T = TypeVar("T")

# New password hashes (scrypt: ~40 ms and 16 MiB each) run on one thread of their own.
_HASHING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="new-password")


async def _hashed(fn: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, fn, *args)


class AccountService:
    def __init__(self, store: Store, quiet: asyncio.Lock,
                 has_open_claim: Callable[[int], bool], stream: EventStream) -> None:
        self._store = store
        self._quiet = quiet
        self._has_open_claim = has_open_claim
        self._stream = stream
        self._sessions = ReadCache(stream, {"account", "credit"}, store.change_counter)

    async def _changed(self, user_id: int | None, write: Awaitable[T]) -> T:
        """Await a write of ``user_id``'s account or sessions, then say so (even if it failed)."""
        try:
            return await write
        finally:
            self._stream.publish("account", userId=user_id)

    async def sign_up(self, username: str, password: str, role: str) -> dict[str, Any]:
        """A buyer or seller account (``username_taken`` before paying for a hash)."""
        if await self.find_login(username) is not None:
            raise UsernameTaken(fields={"username": "taken"})
        new = await _hashed(accounts.prepare_user, username, password, role)
        return await self._store.tx(lambda db: accounts.create_user(db, new))

    async def find_login(self, username: str) -> dict[str, Any] | None:
        return await self._store.run(lambda db: accounts.find_login(db, username))

    async def check_login(self, username: str, password: str) -> dict[str, Any] | None:
        """The account when the password is right (constant time), else None."""
        row = await self.find_login(username)
        if not await asyncio.to_thread(accounts.check_password, row, password):
            return None
        return row

    async def change_password(self, user_id: int, session_id: str,
                              password: str) -> dict[str, Any]:
        """A new password; every other session of the account ends."""
        password_hash = await _hashed(hash_password, password)

        def change(db: sqlite_utils.Database) -> dict[str, Any]:
            user = accounts.set_password_hash(db, user_id, password_hash)
            accounts.revoke_other_sessions(db, user_id, session_id, reason="password_changed")
            return user

        return await self._changed(user_id, self._store.tx(change))

    async def delete(self, user_id: int) -> None:
        async with self._quiet:  # not while this account buys or is paid
            if self._has_open_claim(user_id):
                raise DepositNotEmpty("a deposit of this account is awaited at the coin slot")
            await self._changed(user_id, self._store.tx(
                lambda db: accounts.delete_user(db, user_id)))

    # --- sessions -------------------------------------------------------------

    async def open_session(self, user_id: int, ttl_s: float) -> accounts.OpenedSession:
        """A new session; past the account's limit its oldest ended (an ``account`` event)."""
        session = await self._store.tx(
            lambda db: accounts.open_session(db, user_id, ttl_s=ttl_s))
        if session.ended_oldest:
            self._stream.publish("account", userId=user_id)
        return session

    async def rotate_refresh(self, session_id: str, user_id: int, jti: str,
                             ttl_s: float) -> accounts.OpenedSession | None:
        return await self._changed(user_id, self._store.tx(lambda db: accounts.rotate_refresh(
            db, session_id, user_id, jti, ttl_s=ttl_s)))

    async def session_user(self, session_id: str, user_id: int) -> dict[str, Any] | None:
        """The account of an active session (a copy), or None."""
        key = (session_id, user_id)
        active = await self._sessions.get(key, lambda: self._store.run(
            lambda db: accounts.active_session(db, session_id, user_id)))
        if active is None:
            self._sessions.drop(key)  # asked again next time: an ended session stays ended
            return None
        user, expires_at = active
        if time.time() >= expires_at:
            self._sessions.drop(key)
            return None
        return dict(user)

    async def end_session(self, session_id: str, reason: str) -> bool:
        return await self._changed(None, self._store.tx(
            lambda db: accounts.revoke_session(db, session_id, reason)))

    async def end_all_sessions(self, user_id: int, reason: str) -> int:
        return await self._changed(user_id, self._store.tx(
            lambda db: accounts.revoke_all_sessions(db, user_id, reason)))

    async def prune_sessions(self) -> int:
        """Delete ended sessions (kept a while for the record); how many went."""
        return await self._store.tx(prune_sessions)
