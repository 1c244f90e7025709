"""Slowing down password guessing without locking anybody out.

Failed password checks are counted per (account, client address) and per
client address, in a sliding window.  Only the address that has been failing
is slowed down (429 with ``Retry-After``, after a short delay); the same
account from any other address logs in at once, so a hostile neighbour
cannot keep the operator out by typing wrong passwords for her name.

Password checks of one address run a few at a time, and a check still
running counts as a failure until it ends: a check starts only while the
failures so far plus the checks running are below the limit (otherwise it
waits for a running one to end), so a burst of parallel guesses gets
exactly the limit checked, while a burst of parallel correct logins only
waits its turn.

An IPv6 client is counted by its /64 prefix: one host on a LAN can take any
number of addresses from its prefix, but not from other prefixes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from controller.errors import TooManyAttempts


class Throttled(TooManyAttempts):
    """Too many attempts from this address; ``retry_after_s`` says when to come back."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, math.ceil(retry_after_s))


def client_key(remote: str | None) -> str:
    """The address a client is counted by: IPv4 as is, IPv6 by its /64 prefix."""
    if not remote:
        return "unknown"
    try:
        address = ipaddress.ip_address(remote.split("%", 1)[0])
    except ValueError:
        return remote  # a unix socket path or similar: one client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


class SlidingCounter:
    """Events per key in the last ``window_s`` seconds (bounded number of keys)."""

    MAX_KEYS = 20_000

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._times: dict[str, deque[float]] = {}

    def count(self, key: str, now: float) -> int:
        times = self._times.get(key)
        if times is None:
            return 0
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._times[key]
            return 0
        return len(times)

    def wait_s(self, key: str, limit: int, now: float) -> float:
        """Seconds until ``key`` is below ``limit`` again (0: it is now)."""
        if self.count(key, now) < limit:
            return 0.0
        times = self._times[key]
        return times[len(times) - limit] + self.window_s - now

    def add(self, key: str, now: float) -> None:
        if key not in self._times and len(self._times) >= self.MAX_KEYS:
            self._prune(now)
        self._times.setdefault(key, deque()).append(now)

    def forget(self, key: str) -> None:
        self._times.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in list(self._times):
            self.count(key, now)
        while len(self._times) >= self.MAX_KEYS:  # the oldest keys go first
            self._times.pop(next(iter(self._times)))


class LoginThrottle:
    """Failed password checks per (account, address) and per address."""

    WINDOW_S = 60.0
    CHECKS_AT_ONCE_PER_ADDRESS = 4

    def __init__(self, per_account_address: int, per_address: int, *,
                 refusal_delay_s: float = 0.5) -> None:
        self.per_account_address = per_account_address
        self.per_address = per_address
        self.refusal_delay_s = refusal_delay_s
        """A refusal waits this long, holding the address's turn: a guessing
        address gets a few answers a second instead of hundreds."""
        self._failures = SlidingCounter(self.WINDOW_S)
        self._turns: dict[str, _Turns] = {}
        self._running: dict[str, int] = {}  # password checks running, per counted key

    @staticmethod
    def _pair(account: str, address: str) -> str:
        return f"{account.lower()}\x00{address}"

    def check(self, account: str, address: str, now: float | None = None) -> None:
        """Refuse (``Throttled``) when this address has used up its failures."""
        now = time.monotonic() if now is None else now
        wait_s = max(
            self._failures.wait_s(self._pair(account, address), self.per_account_address, now),
            self._failures.wait_s(f"addr\x00{address}", self.per_address, now))
        if wait_s > 0:
            raise Throttled(f"too many failed attempts from your address; try again in "
                            f"{math.ceil(wait_s)} s", retry_after_s=wait_s)

    def failed(self, account: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._failures.add(self._pair(account, address), now)
        self._failures.add(f"addr\x00{address}", now)

    def succeeded(self, account: str, address: str) -> None:
        """The right password: this address's failures for the account are forgotten."""
        self._failures.forget(self._pair(account, address))

    @contextlib.asynccontextmanager
    async def turn(self, address: str) -> AsyncIterator[_Turns]:
        """Wait for one of the address's few password-check turns."""
        entry = self._turns.get(address)
        if entry is None:
            entry = self._turns[address] = _Turns(
                asyncio.Semaphore(self.CHECKS_AT_ONCE_PER_ADDRESS))
        entry.users += 1
        try:
            async with entry.gate:
                yield entry
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._turns[address]

    def _room(self, keys: tuple[str, str], now: float) -> bool:
        """Failures so far plus checks running stay below both limits with one more."""
        limits = (self.per_account_address, self.per_address)
        return all(self._failures.count(key, now) + self._running.get(key, 0) < limit
                   for key, limit in zip(keys, limits, strict=True))

    @contextlib.asynccontextmanager
    async def guarded(self, account: str, address: str) -> AsyncIterator[None]:
        """A password check under the throttle: wait a turn, refuse when used up."""
        keys = (self._pair(account, address), f"addr\x00{address}")
        async with self.turn(address) as turns:
            while True:
                try:
                    self.check(account, address)
                except Throttled:
                    await asyncio.sleep(self.refusal_delay_s)
                    raise
                if self._room(keys, time.monotonic()):
                    break
                await turns.settled.wait()  # a running check may use up the last failure
            for key in keys:
                self._running[key] = self._running.get(key, 0) + 1
            try:
                yield
            finally:
                for key in keys:
                    left = self._running[key] - 1
                    if left:
                        self._running[key] = left
                    else:
                        del self._running[key]
                turns.check_ended()


@dataclass
class _Turns:
    """An address's password-check turns, and a signal when one of its checks ends."""

    gate: asyncio.Semaphore
    users: int = 0
    settled: asyncio.Event = field(default_factory=asyncio.Event)

    def check_ended(self) -> None:
        ended, self.settled = self.settled, asyncio.Event()
        ended.set()


class RateLimit:
    """At most ``limit`` events per key in ``window_s`` (sign-ups per address)."""

    def __init__(self, limit: int, window_s: float, what: str) -> None:
        self.limit = limit
        self.what = what
        self._events = SlidingCounter(window_s)

    def take(self, key: str, now: float | None = None) -> None:
        """Count one event for ``key``, or refuse (``Throttled``) when the limit is reached."""
        now = time.monotonic() if now is None else now
        wait_s = self._events.wait_s(key, self.limit, now)
        if wait_s > 0:
            raise Throttled(f"too many {self.what} from your address; try again in "
                            f"{math.ceil(wait_s)} s", retry_after_s=wait_s)
        self._events.add(key, now)
