"""Ended sessions are pruned: at start-up, then every ``session_prune_interval_s``."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from controller.accounts import rules as accounts
from controller.accounts.passwords import hash_password
from controller.accounts.session_pruning import REVOKED_KEPT_S, prune_sessions
from controller.config import ApiConfig, Config
from controller.store import open_db
from tests.api.fake_machine import FakeMachine


def _session_ids(path: Path) -> set[str]:
    db = open_db(path)
    try:
        return {r[0] for r in db.conn.execute("SELECT id FROM sessions")}
    finally:
        db.conn.close()


def test_expired_and_long_revoked_sessions_go(tmp_path: Path) -> None:
    db = open_db(tmp_path / "v.db")
    user = accounts.create_user(db, accounts.NewUser("ann", "buyer", hash_password("x")))
    now = time.time()
    live = accounts.open_session(db, user["id"], ttl_s=3600, now=now)
    expired = accounts.open_session(db, user["id"], ttl_s=60, now=now - 3600)
    revoked_now = accounts.open_session(db, user["id"], ttl_s=3600, now=now)
    accounts.revoke_session(db, revoked_now.session_id, "logout", now=now)
    revoked_long_ago = accounts.open_session(db, user["id"], ttl_s=10 * 86400,
                                             now=now - 2 * REVOKED_KEPT_S)
    accounts.revoke_session(db, revoked_long_ago.session_id, "logout",
                            now=now - 2 * REVOKED_KEPT_S)
    assert prune_sessions(db, now) == 2
    left = {r[0] for r in db.conn.execute("SELECT id FROM sessions")}
    assert left == {live.session_id, revoked_now.session_id}
    assert expired.session_id not in left
    db.conn.close()


@pytest.mark.asyncio
async def test_the_running_api_prunes_on_its_own(tmp_path: Path) -> None:
    config = replace(Config(), api=replace(ApiConfig(), session_prune_interval_s=1))
    machine = FakeMachine(tmp_path, config=config)
    await machine.start()
    try:
        async with TestClient(TestServer(create_app(machine))) as client:
            user = await machine.store.tx(lambda db: accounts.create_user(
                db, accounts.NewUser("bob", "buyer", hash_password("x"))))
            old = await machine.store.tx(lambda db: accounts.open_session(
                db, user["id"], ttl_s=60, now=time.time() - 3600))
            assert old.session_id in _session_ids(tmp_path / "vending.db")
            for _ in range(40):
                if old.session_id not in _session_ids(tmp_path / "vending.db"):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the expired session was not pruned")
            assert (await client.get("/health")).status == 200
    finally:
        await machine.close()
