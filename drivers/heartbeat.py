"""A device loop's sign of life, for whoever supervises the process.

A driver that runs a long-lived loop (a poll, a scan, a delivery queue) owns
one ``Heartbeat`` and calls ``beat()`` each time round, or ``waiting()`` just
before it waits for something of unbounded delay (a coin that may never come).
A supervisor reads ``silent_s()``: how long the loop has been inside one
round.  A loop stuck in a call that never returns (a wedged serial adapter, a
handler waiting on a stalled disk) goes silent, and the supervisor can stop
telling systemd that all is well.

This module knows nothing of systemd or of the controller: it is a timestamp
with a name.  Not modelled: how long a round may legitimately take; that is
the supervisor's limit.
"""

from __future__ import annotations

import time


class Heartbeat:
    """When a named device loop last showed it was alive (``time.monotonic()``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.alive_at: float | None = None  # None: the loop is not running
        self.idle = False  # waiting for outside events: alive by definition

    def beat(self) -> None:
        """The loop went round once (or starts a round of work)."""
        self.alive_at = time.monotonic()
        self.idle = False

    def waiting(self) -> None:
        """The loop now waits for an outside event that may take any time."""
        self.alive_at = time.monotonic()
        self.idle = True

    def stopped(self) -> None:
        """The loop ended on purpose (close): nothing to supervise."""
        self.alive_at = None
        self.idle = False

    def silent_s(self, now: float | None = None) -> float:
        """Seconds inside the current round; 0 when idle or not running."""
        if self.alive_at is None or self.idle:
            return 0.0
        return max(0.0, (time.monotonic() if now is None else now) - self.alive_at)
