"""Re-authentication: a password change or an account deletion needs the password.

A stolen 15-minute access token must not become a permanent takeover, so
``PUT /user`` and ``DELETE /user`` check the account's current password.
The check goes through the login throttle: a token is no free guessing
oracle, and a wrong password is 403 (the token itself is fine).
"""

from __future__ import annotations

import asyncio

from api.routing import Call
from api.throttle import client_key
from controller import accounts
from controller.errors import Forbidden


async def confirm_password(call: Call, password: str) -> None:
    """Return when ``password`` is the caller's current one; 403 (or 429) otherwise."""
    username, store = call.me["username"], call.machine.store
    address = client_key(call.request.remote)
    async with call.auth.throttle.guarded(username, address):
        row = await store.run(lambda db: accounts.find_login(db, username))
        if row is None or not await asyncio.to_thread(accounts.check_password, row, password):
            call.auth.throttle.failed(username, address)
            raise Forbidden("the current password is wrong",
                            fields={"currentPassword" if call.request.method == "PUT"
                                    else "password": "wrong"})
    call.auth.throttle.succeeded(username, address)
