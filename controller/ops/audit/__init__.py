"""The EVA-DTS (DEX) audit report: what route and accounting software reads.

``read_report`` counts one read (``EA309``) and builds the report in the same
transaction, from the store's counters: ``collect`` reads them into an
``AuditData``, ``render`` writes the segments that ``elements.REPORT`` lists,
inside the envelope of ``dex``.  Every read counts, whoever reads: ``GET
/machine/audit`` (route software and the console's download), ``vending
audit`` and the fleet ``audit`` command.  An audited cashbox collection is the
report's reset (``EA310``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace

import sqlite_utils

from controller.config import Config
from controller.ops.audit import dex
from controller.ops.audit.collect import collect, selection_number
from controller.ops.audit.dex import crc16_arc
from controller.ops.audit.elements import segments
from controller.ops.audit.model import AuditData, Identity, Pair, ReadAudit
from controller.store.counters import count_read

__all__ = ["AuditData", "Identity", "Pair", "ReadAudit", "collect", "crc16_arc", "identity",
           "read_report", "render", "selection_number"]


def render(a: AuditData) -> str:
    """The report's text, CRLF line ends, with its G85 and SE."""
    return dex.report(a.identity.sender, segments(a))


def identity(config: Config, software_version: str) -> Identity:
    m = config.machine
    return Identity(sender=m.audit_sender, machine_id=m.machine_id, model=m.model,
                    software_version=software_version,
                    asset_number=m.asset_number or m.machine_id,
                    currency=m.currency, currency_code=m.audit_currency_code)


def in_service_logged(db: sqlite_utils.Database) -> bool:
    """Whether the event log's last word on service mode is "entered" (for a reader
    without the running machine, such as ``vending audit``)."""
    row = db.conn.execute("SELECT data FROM events WHERE kind = 'service' "
                          "ORDER BY id DESC LIMIT 1").fetchone()
    return bool(row is not None and json.loads(row[0]).get("enabled"))


def read_report(db: sqlite_utils.Database, config: Config, *, now: float,
                software_version: str, in_service: bool | None = None,
                devices: Mapping[str, tuple[str, str, str]] | None = None) -> str:
    """Count this read and build the report (call inside one write transaction).
    ``in_service`` None: as the event log says.  ``devices``: the payment devices'
    identities (``AuditData.devices``)."""
    mark = count_read(db, now)
    read = ReadAudit(reads=mark.reads, resets=mark.resets, at=now,
                     previous_at=mark.previous_read_at)
    data = collect(db, identity(config, software_version), read, rows=config.slots.rows,
                   slot_codes=config.slots.codes,
                   in_service=in_service_logged(db) if in_service is None else in_service)
    return render(replace(data, devices=dict(devices or {})))
