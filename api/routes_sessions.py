"""Login sessions: ``/login``, ``/refresh``, ``/logout``, ``/logout/all``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.auth import ACTIVE_SESSION_MESSAGE
from api.routing import ANY_USER, Call, Route, no_content, reply
from api.schemas import ref
from api.throttle import client_key
from api.validation import Body, Field
from controller.accounts import rules as accounts
from controller.errors import Unauthorized

LOGIN = Body({
    "username": Field("string", min_length=1, max_length=64),
    "password": Field("string", min_length=1, max_length=accounts.PASSWORD_MAX_CHARS),
})
REFRESH = Body({"refreshToken": Field("string", min_length=1, max_length=4096)})


def _answer(call: Call, user_id: int, session: accounts.OpenedSession) -> dict[str, Any]:
    answer = call.auth.tokens.pair(user_id, session)
    answer["activeSessions"] = session.other_active
    if session.other_active > 0:
        answer["message"] = ACTIVE_SESSION_MESSAGE
    return answer


async def login(call: Call) -> web.StreamResponse:
    username, password = call.body["username"], call.body["password"]
    address = client_key(call.request.remote)
    async with call.auth.throttle.guarded(username, address):
        row = await call.machine.accounts.check_login(username, password)
        if row is None:
            call.auth.throttle.failed(username, address)
            raise Unauthorized("wrong username or password")
    call.auth.throttle.succeeded(username, address)
    user_id = int(row["id"])
    session = await call.machine.accounts.open_session(user_id, call.auth.tokens.refresh_s)
    return reply(_answer(call, user_id, session))


async def refresh(call: Call) -> web.StreamResponse:
    claims = call.auth.tokens.verify(call.body["refreshToken"], "refresh")
    ttl_s = call.auth.tokens.refresh_s
    assert claims.jti is not None
    jti = claims.jti
    session = await call.machine.accounts.rotate_refresh(claims.session_id, claims.user_id,
                                                         jti, ttl_s)
    if session is None:
        raise Unauthorized("the refresh token is no longer valid; log in again")
    return reply(_answer(call, claims.user_id, session))


async def logout(call: Call) -> web.StreamResponse:
    session_id = call.session_id
    await call.machine.accounts.end_session(session_id, "logout")
    return no_content()


async def logout_all(call: Call) -> web.StreamResponse:
    user_id = call.me["id"]
    count = await call.machine.accounts.end_all_sessions(user_id, "logout_all")
    return reply({"terminated": count})


ROUTES = [
    Route("POST", "/login", login, "Log in: open a session, get an access and refresh token",
          body=LOGIN, response=ref("TokenPair"), errors=(401, 429), tag="sessions"),
    Route("POST", "/refresh", refresh,
          "Swap a refresh token for a new pair (a reused refresh token ends its session)",
          body=REFRESH, response=ref("TokenPair"), errors=(401,), tag="sessions"),
    Route("POST", "/logout", logout, "End the caller's session", roles=ANY_USER, status=204,
          tag="sessions"),
    Route("POST", "/logout/all", logout_all, "End every session of the caller's account",
          roles=ANY_USER, response=ref("Terminated"), tag="sessions"),
]
