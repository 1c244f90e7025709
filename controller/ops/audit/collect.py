"""Reading the store into an ``AuditData`` (inside the read's transaction).

Every selection the machine has or had is sent (``slots``), in front order,
with its product if it holds one.  ``PA107`` (selection not present) is 1 for a
slot that is no longer in the config, or whose motor never left home at its
last vend (a motor missing or unwired; a jam shows the same).  Events: ``ELA``
counts the vends that delivered nothing (``failed_vends``) and is active while
a slot is out of order for it; every other code counts the faults recorded
with it (``store.event_codes``) and is active while such a fault is; ``EGS``
counts the entries into service mode and is active during one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlite_utils

from controller.money import COINS_CENTS
from controller.ops.audit.model import (
    ZERO,
    AuditData,
    CoinTube,
    DeviceId,
    DeviceSales,
    EventAudit,
    Identity,
    Pair,
    ReadAudit,
    SelectionAudit,
)
from controller.store.card_journal import reader_identity
from controller.store.device_info import identities
from controller.store.event_codes import DELIVERY_FAILURE, DOOR_OPEN, fault_event_code

# PA109: the minimum level the slot's product asks for (``products.min_level``).
MIN_LEVEL_SQL = "p.min_level"


def selection_number(slot: str, rows: str) -> str:
    """PA101 of a slot: its row's number then its column (``A1`` is ``11``)."""
    row = rows.find(slot[0])
    return f"{row + 1 if row >= 0 else ord(slot[0]) - ord('A') + 1}{slot[1:]}"


def collect(db: sqlite_utils.Database, identity: Identity, read: ReadAudit, *,
            rows: str, slot_codes: Iterable[str], in_service: bool,
            acceptor_model: str = "CCTALK-ACC") -> AuditData:
    """Read the counters, the stock and the faults into an AuditData."""
    c = {str(r[0]): Pair(int(r[1]), int(r[2]))
         for r in db.conn.execute("SELECT name, lifetime, interim FROM counters")}

    def pair(name: str) -> Pair:
        return c.get(name, ZERO)

    def total(a: str, b: str) -> Pair:
        return Pair(pair(a).lifetime + pair(b).lifetime, pair(a).interim + pair(b).interim)

    return AuditData(
        identity=identity, read=read,
        sales_value=total("sales_value", "cashless_value"),
        sales_count=total("sales_count", "cashless_count"),
        cash_sales_value=pair("sales_value"), cash_sales_count=pair("sales_count"),
        cash_in=pair("cash_in"), cash_to_cashbox=pair("cash_to_cashbox"),
        cash_to_hoppers=pair("cash_to_hoppers"), change_paid=pair("change_paid"),
        refills=pair("refills"), acceptor_model=acceptor_model,
        **_device_ids(db),
        selections=_selections(db, rows, set(slot_codes)), tubes=_tubes(db),
        events=_events(db, pair("failed_vends"), in_service), counters=c,
        card_reader=reader_identity(db),
    )


def _selections(db: sqlite_utils.Database, rows: str,
                configured: set[str]) -> list[SelectionAudit]:
    sales: dict[str, list[tuple[DeviceSales, float | None]]] = {}
    for r in db.conn.execute("SELECT slot, device, vends, value, interim_vends, interim_value, "
                             "last_sale_at FROM slot_sales ORDER BY slot, device"):
        sales.setdefault(str(r[0]), []).append((DeviceSales(
            str(r[1]), Pair(int(r[2]), int(r[4])), Pair(int(r[3]), int(r[5]))),
            None if r[6] is None else float(r[6])))
    out = []
    for r in db.conn.execute(
            "SELECT s.code, s.capacity, s.status, s.status_reason, p.name, p.cost, "
            f"p.amount_available, {MIN_LEVEL_SQL}, sc.vends, sc.value, sc.interim_vends, "
            "sc.interim_value FROM slots s LEFT JOIN products p ON p.slot = s.code "
            "LEFT JOIN slot_counters sc ON sc.slot = s.code ORDER BY s.position"):
        code = str(r[0])
        stuck = r[2] == "out_of_order" and "jam_home" in str(r[3] or "")
        mine = sales.get(code, [])
        times = [at for _, at in mine if at is not None]
        out.append(SelectionAudit(
            selection=selection_number(code, rows),
            price=None if r[5] is None else int(r[5]), name=str(r[4] or ""),
            present=code in configured and not stuck,
            level=int(r[6] or 0), min_level=int(r[7] or 0), capacity=int(r[1]),
            vends=Pair(int(r[8] or 0), int(r[10] or 0)),
            value=Pair(int(r[9] or 0), int(r[11] or 0)),
            by_device=[d for d, _ in mine], last_sale_at=max(times, default=None)))
    return out


def _device_ids(db: sqlite_utils.Database) -> dict[str, Any]:
    """CA1's acceptor and HA1's hoppers, as they identified themselves (kept in the
    store by the running machine); nothing for a device that never did."""
    known = identities(db)
    acceptor = known.get("acceptor")
    hoppers = sorted((n for n in known if n.startswith("hopper:")),
                     key=lambda n: int(n.split(":")[1]))
    return {"acceptor": None if acceptor is None else DeviceId.from_identity(acceptor),
            "hoppers": [DeviceId.from_identity(known[n]) for n in hoppers]}


def _tubes(db: sqlite_utils.Database) -> list[CoinTube]:
    """Every hopper, its coin numbered by its place in the coin set."""
    return [CoinTube(COINS_CENTS.index(int(r[0])), int(r[0]), int(r[1]),
                     int(r[1]) >= int(r[2]))
            for r in db.conn.execute("SELECT coin, payout, capacity FROM coins "
                                     "WHERE capacity > 0 ORDER BY coin")]


def _events(db: sqlite_utils.Database, failed_vends: Pair,
            in_service: bool) -> list[EventAudit]:
    counts = {str(r[0]): Pair(int(r[1]), int(r[2]))
              for r in db.conn.execute("SELECT code, lifetime, interim FROM event_counts")}
    counts[DELIVERY_FAILURE] = failed_vends
    active: set[str] = {DOOR_OPEN} if in_service else set()
    for device, reason in db.conn.execute("SELECT device, reason FROM faults"):
        code = fault_event_code(str(device), str(reason))
        if code is not None:
            active.add(code)
        if str(device).startswith("slot:"):
            active.add(DELIVERY_FAILURE)
    return [EventAudit(code, counts.get(code, ZERO), code in active)
            for code in sorted(set(counts) | active)
            if code in active or counts.get(code, ZERO).interim > 0]
