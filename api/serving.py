"""The API's listening socket, guarded against clients that hold connections and send nothing.

aiohttp serves each connection with a ``RequestHandler``; here a subclass
adds what a LAN API needs against a hostile neighbour:

- a connection must send a complete request head within
  ``request_head_timeout_s`` of connecting, or it is closed (between
  requests on a kept-alive connection aiohttp's keep-alive timeout, three
  head deadlines, closes one whose next head has not arrived);
- at most ``max_connections`` at once and ``max_connections_per_address``
  from one client address, shared fairly (``api.connection_table``): when
  the table is full, an idle connection of the address holding the most
  makes room, otherwise the newcomer gets a short 503 and is closed; a
  blank line is not a request head, so it neither makes a connection busy
  nor meets the head deadline;
- aiohttp's own parser errors (a malformed request line, an oversized
  header) are answered in the API's JSON error shape and logged as one line,
  never a traceback;
- a burst of connections waits in a long kernel queue (``LISTEN_QUEUE``) and is
  taken a few at a time (``ACCEPT_BATCH``), so none is dropped half-open;
- the event loop's "accept() out of system resource" report (the file limit
  reached) is one rate-limited warning line, not a traceback per connection.

Used by ``vending run``; the tests of the API's handlers use aiohttp's own
test server, the tests of this module a real socket.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import ssl
import time
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError
from aiohttp.web_request import BaseRequest

from api.connection_table import SERVER_NAME, ConnectionGuard
from api.throttle import client_key
from controller.config import ApiConfig
from controller.errors import ConfigError

log = logging.getLogger(__name__)

FD_RESERVE = 128
"""File descriptors kept for the database, serial ports, GPIO and logs."""
LINGER_S = 2.0
KEEPALIVE_FACTOR = 3
"""An idle kept-alive connection may wait this many head deadlines for its next request:
a client that pauses a little between requests keeps its connection."""
_HEAD_ENDS = (b"\r\n\r\n", b"\n\n")
ACCEPT_BATCH = 32
"""Connections taken from the kernel per pass of the event loop (asyncio's ``backlog``):
a small batch keeps a burst from running the process out of files between passes."""
LISTEN_QUEUE = 4096
"""The kernel's queue of connections not yet accepted (capped by ``net.core.somaxconn``).
A burst of connections waits there for its turn; with a short queue the kernel drops the
last handshake step of a burst (with SYN cookies: forgets the connection), leaving the
client a connection the server never knew of, which no head deadline can close."""


class GuardedRequestHandler(web.RequestHandler):
    """aiohttp's connection handler with a request-head deadline and a fair connection table."""

    def __init__(self, manager: web.Server, guard: ConnectionGuard, head_timeout_s: float,
                 **kwargs: Any) -> None:
        super().__init__(manager, loop=asyncio.get_running_loop(),
                         keepalive_timeout=head_timeout_s * KEEPALIVE_FACTOR, **kwargs)
        self.guard = guard
        self.head_timeout_s = head_timeout_s
        self.address = "unknown"
        self.admitted = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._awaiting_head = False
        self._head_started = False
        self._head_tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self.address = client_key(peer[0] if isinstance(peer, tuple) and peer else None)
        refusal = self.guard.admit(self, self.address)
        if refusal is not None:
            assert isinstance(transport, asyncio.Transport)
            transport.write(refusal)
            transport.close()
            return
        self.admitted = True
        self._awaiting_head = True
        super().connection_made(transport)
        self._head_timer = asyncio.get_running_loop().call_later(
            self.head_timeout_s, self.close_idle, "no request head in time")

    def data_received(self, data: bytes) -> None:
        if not self.admitted:
            return
        if self._awaiting_head:
            self._watch_for_head(data)
        super().data_received(data)

    def _watch_for_head(self, data: bytes) -> None:
        """A head is a non-blank line and the rest up to an empty line: blank lines
        before it (which HTTP parsers skip) do not make a connection busy."""
        if not self._head_started:
            data = data.lstrip(b"\r\n")
            if not data:
                return
            self._head_started = True
        seen = self._head_tail + data
        if any(end in seen for end in _HEAD_ENDS):
            self._head_arrived()
        else:
            self._head_tail = seen[-3:]

    def _head_arrived(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._awaiting_head = False
        self._head_tail = b""
        self.guard.busy(self, self.address)

    def request_started(self) -> None:
        """A request's handling starts, a pipelined one too (its head came in the same
        read as the answered one's): the connection is busy until it is answered."""
        if self.admitted and self._awaiting_head:
            self._head_arrived()

    async def finish_response(self, request: BaseRequest, resp: web.StreamResponse,
                              start_time: float | None) -> tuple[web.StreamResponse, bool]:
        """The answer is written: a kept-alive connection is idle until its next head
        (aiohttp's keep-alive timeout closes it when that does not come)."""
        done = await super().finish_response(request, resp, start_time)
        if self.admitted and not self._awaiting_head:
            self._awaiting_head, self._head_started = True, False
            self.guard.idle(self, self.address)
        return done

    def close_idle(self, why: str) -> None:
        """Close a connection that is waiting for a request head."""
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        log.debug("closing a connection from %s: %s", self.address, why)
        self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.admitted:
            return
        self.admitted = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self.guard.release(self, self.address)
        super().connection_lost(exc)

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """aiohttp's own errors (a request it cannot parse) in the API's JSON shape."""
        if status >= 500:
            log.error("error handling a request from %s", self.address, exc_info=exc)
            code, text = "internal_error", "internal error"
        elif isinstance(exc, ContentEncodingError):  # br or zstd without its decoder
            log.info("refused a compressed body from %s", self.address)
            status, code = 415, "unsupported_media_type"
            text = "this Content-Encoding is not accepted; send the body uncompressed"
        else:
            log.info("refused a malformed request from %s: %s", self.address,
                     message or type(exc).__name__)
            code, text = "validation_error", f"malformed request: {message or 'bad request'}"
        response = web.json_response({"error": {"code": code, "message": text}},
                                     status=status, headers={"Server": SERVER_NAME})
        response.force_close()
        return response


def connection_cap(configured: int) -> int:
    """``configured``, or fewer when the process may not open that many files.

    The soft ``RLIMIT_NOFILE`` is raised towards the hard one first
    (systemd's ``LimitNOFILE`` sets both).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = configured + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
            soft = new_soft
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < wanted:
        cap = max(8, soft - FD_RESERVE)
        log.warning("the file limit is %d: serving at most %d connections (set LimitNOFILE)",
                    soft, cap)
        return cap
    return configured


class AcceptErrorLog:
    """A loop exception handler that reports a full file table once per interval."""

    MESSAGE = "socket.accept() out of system resource"

    def __init__(self, previous: Any, interval_s: float = 10.0) -> None:
        self.previous = previous
        self.interval_s = interval_s
        self.last_s = -interval_s
        self.suppressed = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != self.MESSAGE:
            if self.previous is not None:
                self.previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if now - self.last_s < self.interval_s:
            self.suppressed += 1
            return
        log.warning("cannot accept connections: %s (%d reports since the last)",
                    context.get("exception"), self.suppressed)
        self.last_s, self.suppressed = now, 0


def tls_context(config: ApiConfig) -> ssl.SSLContext | None:
    """The server's TLS context when ``[api] tls_cert_file`` and ``tls_key_file`` are set."""
    if config.tls_cert_file is None or config.tls_key_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.tls_cert_file, config.tls_key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"[api] tls_cert_file/tls_key_file: cannot load "
                          f"{config.tls_cert_file} with {config.tls_key_file}: {exc}") from None
    return context


async def listen(runner: web.AppRunner, config: ApiConfig, *,
                 ssl_context: Any = None) -> tuple[asyncio.Server, ConnectionGuard]:
    """Serve ``runner``'s app on ``config.host:config.port`` through the guard.

    Close the returned server (``close()``), then ``runner.cleanup()``, then
    ``wait_closed()``.
    """
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(AcceptErrorLog(loop.get_exception_handler()))
    server = runner.server
    assert server is not None, "runner.setup() first"
    guard = ConnectionGuard(max_connections=connection_cap(config.max_connections),
                            max_per_address=config.max_connections_per_address)

    # no access log (one line per request); a body left unread after the answer
    # (refused or trickling) is drained for 2 s at most before the connection closes
    options: dict[str, Any] = {"access_log": None, "lingering_time": LINGER_S}

    make_request = server.request_factory

    def request_factory(message: Any, payload: Any, handler: web.RequestHandler, writer: Any,
                        task: Any) -> BaseRequest:
        if isinstance(handler, GuardedRequestHandler):
            handler.request_started()
        return make_request(message, payload, handler, writer, task)

    server.request_factory = request_factory  # read by each handler made below

    def protocol() -> GuardedRequestHandler:
        return GuardedRequestHandler(server, guard, config.request_head_timeout_s, **options)

    listener = await loop.create_server(protocol, config.host, config.port, ssl=ssl_context,
                                        backlog=ACCEPT_BATCH)
    for sock in listener.sockets:
        with sock.dup() as listening:  # the same socket: a longer queue, the same batch
            listening.listen(LISTEN_QUEUE)
    return listener, guard
