"""Supervised tasks: every piece of hardware work runs as one.

A task that fails unexpectedly is reported (``on_failure``), and the Machine
turns that into a fault; a dropped HTTP client cannot cancel a motor half-way
because callers await a shielded task, not the work itself.  Tasks spawned as
*actions* (a sale, a payout, a panel selection) are what ``busy`` counts, so
a caller can wait until the machine has finished what it started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class Supervisor:
    def __init__(self, on_failure: Callable[[str, BaseException], None]) -> None:
        self._on_failure = on_failure
        self._tasks: set[asyncio.Task[Any]] = set()
        self._actions: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T] | Awaitable[T], name: str, *,
              action: bool = False) -> asyncio.Task[T]:
        """Run ``coro`` as a supervised task; ``action``: one the machine must finish."""
        task: asyncio.Task[T] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        if action:
            self._actions.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._actions.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._on_failure(task.get_name(), exc)

    @property
    def busy(self) -> bool:
        """An action (sale, payout, panel selection) is still running."""
        return bool(self._actions)

    async def cancel_all(self, timeout_s: float) -> None:
        """Cancel every task and wait for them, each given at most ``timeout_s``."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            _done, stuck = await asyncio.wait(tasks, timeout=timeout_s)
            for task in stuck:
                log.error("task %s did not stop when cancelled", task.get_name())
