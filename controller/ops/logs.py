"""Log lines for journald (or a terminal): one line per meaningful event.

``setup_logging`` writes to stdout.  When stdout is the journal's stream
(systemd sets ``JOURNAL_STREAM`` to its device and inode) every line starts
with its syslog priority (``<3>`` error, ``<4>`` warning, ``<6>`` info), so
``journalctl -p warning`` works and journald adds the time itself; on a
terminal each line carries its time and level.  ``follow_events`` adds one
line per coin, vend and payout from the machine's event stream; faults,
devices and state changes are logged where they happen.

Not done here: rate limiting (journald has its own), structured fields.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

from controller.events import EventStream
from controller.money import format_cents

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
            logging.CRITICAL: 2}
QUIET = {"transitions": logging.WARNING, "aiohttp.access": logging.WARNING}
log = logging.getLogger("vending.events")


class JournalFormatter(logging.Formatter):
    """``<priority>name: message``, the priority repeated on every line of a traceback."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{PRIORITY.get(record.levelno, 6)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def to_journal(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """Whether ``stream`` is the journal's stream (JOURNAL_STREAM is ``dev:inode``)."""
    wanted = (os.environ if env is None else env).get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    return wanted == f"{st.st_dev}:{st.st_ino}"


def setup_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    out = sys.stdout if stream is None else stream
    handler = logging.StreamHandler(out)
    handler.setFormatter(JournalFormatter() if to_journal(out) else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, root.level))


async def follow_events(stream: EventStream) -> None:
    """One log line per coin credited, vend ended and payout made."""
    with stream.subscribe(("coin", "vend", "payout", "resync")) as events:
        async for event in events:
            d = event.data
            if event.kind == "coin":
                log.info("coin %s credited to %s (%s)", format_cents(d["coin"]), d["holder"],
                         d["route"])
            elif event.kind == "vend":
                level = logging.INFO if d["result"] == "paid" else logging.WARNING
                log.log(level, "vend %s %s (%s)", d["slot"], d["result"],
                        format_cents(d.get("cents", 0)))
            elif event.kind == "payout":
                coins = d.get("coins", [])
                level = logging.WARNING if d.get("unpaid") else logging.INFO
                log.log(level, "paid %s to %s in %d coin(s)%s", format_cents(sum(coins)),
                        d["holder"], len(coins),
                        f", {format_cents(d['unpaid'])} still owed" if d.get("unpaid") else "")
            else:
                log.warning("event log fell behind: %d event(s) not logged", d["dropped"])
