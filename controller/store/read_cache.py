"""Answers that change only on a write, kept in memory until a write says otherwise.

The API reads the product list, each product, and the account behind a
session far more often than anything writes them; each read from the store
is a trip to its owner thread.  A ``ReadCache`` keeps those answers and drops
them all when either of two things says the database may have changed:

- the machine's event stream (``controller.events``): the cache subscribes to
  the kinds that announce its writes (``stock`` for products, ``account`` and
  ``credit`` for accounts and deposits; ``resync`` always) and drains its
  queue before every read, so an event published before a read is seen by it;
- the store's change counter (``Store.change_counter``, SQLite's
  ``data_version``), which moves on every commit by any connection: a write
  made outside the event stream (the ``vending user|product remove`` remedies
  of another process, a test's direct write) is seen at the next read too.

A write commits before its call returns, so a read that starts after the
write returned never gets the old answer.  A read that was already on its way
while a write committed is answered but not kept (the generation moved).
The kept object is shared: callers must not change it (the services hand
out copies).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, TypeVar

from controller.events import EventStream

T = TypeVar("T")
_MISSING: Any = object()
DEFAULT_MAX_ENTRIES = 1024


class ReadCache:
    """Keyed answers, dropped together on an event of ``kinds`` or a commit anywhere."""

    def __init__(self, stream: EventStream, kinds: Iterable[str],
                 change_counter: Callable[[], int], *,
                 max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._events = stream.subscribe({*kinds, "resync"}, maxlen=8)
        self._change_counter = change_counter
        self._seen_changes: int | None = None
        self._entries: dict[Hashable, Any] = {}
        self._max_entries = max_entries
        self.generation = 0
        self.hits = self.misses = 0

    def _check(self) -> None:
        """Drop everything if an event came or the database changed since the last check."""
        stale = False
        while self._events.get_nowait() is not None:
            stale = True
        try:
            changes: int | None = self._change_counter()
        except Exception:  # the store is closing or closed: keep nothing
            changes = None
        if changes is None or changes != self._seen_changes:
            self._seen_changes = changes
            stale = True
        if stale:
            self._entries.clear()
            self.generation += 1

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The kept answer for ``key``, else ``await load()`` (kept unless a write came)."""
        self._check()
        value = self._entries.get(key, _MISSING)
        if value is not _MISSING:
            self.hits += 1
            return value  # type: ignore[no-any-return]
        self.misses += 1
        generation = self.generation
        value = await load()
        self._check()
        if self.generation == generation:
            if len(self._entries) >= self._max_entries:
                del self._entries[next(iter(self._entries))]  # the oldest
            self._entries[key] = value
        return value

    def drop(self, key: Hashable) -> None:
        """Forget one answer (it ran out, e.g. a session's expiry)."""
        self._entries.pop(key, None)

    def close(self) -> None:
        self._events.close()
