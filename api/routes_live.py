"""The two live sockets: ``/live/panel`` (sim mode) and ``/live/console`` (operators).

WebSocket endpoints are not operations of the JSON API, so they are not in
the route table or the OpenAPI document; ``register`` adds them to the app.
See ``api/live.py`` for what they send.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass

import jwt
from aiohttp import web

from api.auth import current_user
from api.live import (
    EVENT_LOG_KINDS,
    MACHINE_KINDS,
    SOCKETS_KEY,
    Feed,
    SocketRegistry,
    open_socket,
    serve,
    subscribe,
)
from api.routing import AUTH_KEY, MACHINE_KEY
from controller.errors import NotFound, Unauthorized
from controller.events import Subscription

PANEL_PATH = "/live/panel"
CONSOLE_PATH = "/live/console"
SOCKET_PATHS = (PANEL_PATH, CONSOLE_PATH)
PANEL_KINDS = MACHINE_KINDS | {"display", "world"}
CONSOLE_KINDS = EVENT_LOG_KINDS
MAX_TOKEN_CHARS = 4096

CLOSE_BAD_MESSAGE = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TRY_LATER = 1013


async def panel_socket(request: web.Request) -> web.StreamResponse:
    machine = request.app[MACHINE_KEY]
    if not machine.simulated:
        raise NotFound("the machine is not simulated")
    ws, place = await open_socket(request, panel=True)
    try:
        sub = subscribe(machine, PANEL_KINDS)
        await serve(ws, request, sub, Feed(machine, sim=True, event_log=False))
    finally:
        request.app[SOCKETS_KEY].leave(place)
    return ws


@dataclass
class Login:
    """The operator a console socket speaks for, and when to look again."""

    token: str
    expires_at: float
    user_id: int


def _read_hello(text: str) -> tuple[str, int | None]:
    """The token (and event id to follow on from) of a console message."""
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError("not JSON") from None
    if not isinstance(data, dict) or set(data) - {"token", "after"}:
        raise ValueError("expected {token, after?}")
    token, after = data.get("token"), data.get("after")
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
        raise ValueError("token must be a string")
    if after is not None and (type(after) is not int or after < 0):
        raise ValueError("after must be a non-negative integer")
    return token, after


async def _check(request: web.Request, token: str) -> Login:
    """The token's login if it is a live operator session; Unauthorized/PermissionError."""
    machine, auth = request.app[MACHINE_KEY], request.app[AUTH_KEY]
    user, _claims = await current_user(machine.accounts, auth.tokens, f"Bearer {token}")
    if user["role"] != "operator":
        raise PermissionError("only operator accounts may follow the console")
    expires = jwt.decode(token, options={"verify_signature": False}).get("exp", 0)
    return Login(token, float(expires), int(user["id"]))


async def _close(ws: web.WebSocketResponse, code: int, reason: str) -> None:
    await ws.close(code=code, message=reason.encode()[:120])


async def _authenticate(ws: web.WebSocketResponse, request: web.Request
                        ) -> tuple[Login, int | None] | None:
    try:
        # one deadline for the first message: pings (answered inside receive) do not move it
        async with asyncio.timeout(request.app[SOCKETS_KEY].auth_timeout_s):
            message = await ws.receive()
    except TimeoutError:
        await _close(ws, CLOSE_UNAUTHORIZED, "send {token} first")
        return None
    if message.type != web.WSMsgType.TEXT:
        await _close(ws, CLOSE_BAD_MESSAGE, "send {token} first")
        return None
    try:
        token, after = _read_hello(message.data)
        return await _check(request, token), after
    except ValueError as exc:
        await _close(ws, CLOSE_BAD_MESSAGE, str(exc))
    except Unauthorized as exc:
        await _close(ws, CLOSE_UNAUTHORIZED, exc.message)
    except PermissionError as exc:
        await _close(ws, CLOSE_FORBIDDEN, str(exc))
    return None


async def _watch_session(ws: web.WebSocketResponse, request: web.Request, login: Login,
                         changes: Subscription) -> None:
    """Close the socket as soon as its session ends: logout, logout/all, a password
    change or account deletion (each an ``account`` event), or the token's expiry."""
    while not ws.closed:
        try:
            async with asyncio.timeout(max(0.05, login.expires_at - time.time())):
                event = await changes.get()
            if event.data.get("userId") not in (None, login.user_id):
                continue  # another account's change
        except TimeoutError:
            pass  # the token expires now
        except StopAsyncIteration:
            return
        token = login.token
        try:
            fresh = await _check(request, token)
        except (Unauthorized, PermissionError) as exc:
            if login.token != token:
                continue  # a refreshed token came in meanwhile: look at that one
            await _close(ws, CLOSE_UNAUTHORIZED, str(exc))
            return
        if login.token == token:
            login.expires_at = fresh.expires_at


async def console_socket(request: web.Request) -> web.StreamResponse:
    machine, registry = request.app[MACHINE_KEY], request.app[SOCKETS_KEY]
    ws, place = await open_socket(request, panel=False)
    changes = machine.stream.subscribe({"account"})  # before the check: no logout is missed
    try:
        hello = await _authenticate(ws, request)
        if hello is None:
            return ws
        login, after = hello
        if not registry.authenticated(place):
            await _close(ws, CLOSE_TRY_LATER, f"at most {registry.limit} consoles at a time")
            return ws
        sub = subscribe(machine, CONSOLE_KINDS)
        feed = Feed(machine, sim=False, event_log=True)
        await feed.start_events_at(after)

        async def on_message(ws: web.WebSocketResponse, text: str) -> None:
            # a refreshed token for the same socket; anything else ends it
            try:
                token, _after = _read_hello(text)
                fresh = await _check(request, token)
            except ValueError as exc:
                await _close(ws, CLOSE_BAD_MESSAGE, str(exc))
            except (Unauthorized, PermissionError) as exc:
                await _close(ws, CLOSE_UNAUTHORIZED, str(exc))
            else:
                login.token, login.expires_at = fresh.token, fresh.expires_at

        watcher = asyncio.create_task(_watch_session(ws, request, login, changes),
                                      name="live-session")
        try:
            await serve(ws, request, sub, feed, on_message)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    finally:
        changes.close()
        registry.discard(ws)
        registry.leave(place)
        await ws.close()
    return ws


async def _close_sockets(app: web.Application) -> None:
    await app[SOCKETS_KEY].close_all()


def register(app: web.Application) -> None:
    """Add the live sockets to ``app`` (and close them when it shuts down)."""
    app[SOCKETS_KEY] = SocketRegistry()
    app.router.add_get(PANEL_PATH, panel_socket)
    app.router.add_get(CONSOLE_PATH, console_socket)
    app.on_shutdown.append(_close_sockets)

