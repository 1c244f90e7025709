"""``[retention]``: how long old rows of the event log stay once a backup holds them."""

from __future__ import annotations

from dataclasses import dataclass

from controller.config.reader import Section


@dataclass(frozen=True)
class RetentionConfig:
    """An event row is deleted by ``vending backup`` only when all of these hold: a
    verified backup holds it, it is older than ``events_keep_days``, it is not among
    the ``events_keep_rows`` newest, and (with ``[telemetry]``) the broker has it.
    ``events_keep_days = 0`` and ``events_keep_rows = 0`` together keep nothing
    beyond the backup; ``enabled = false`` keeps every row for ever."""

    enabled: bool = True
    events_keep_days: float = 90.0
    events_keep_rows: int = 100_000


def retention_section(s: Section) -> RetentionConfig:
    d = RetentionConfig()
    return RetentionConfig(
        enabled=s.get_bool("enabled", d.enabled),
        events_keep_days=s.get_float("events_keep_days", d.events_keep_days, minval=0,
                                     maxval=36_500),
        events_keep_rows=s.get_int("events_keep_rows", d.events_keep_rows, minval=0,
                                   maxval=10**9),
    )
