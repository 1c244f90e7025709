"""An MDB changer's own coin moves, booked: refills in service mode, coins paid out
by hand at the changer, and the tube counts its TUBE STATUS reports.

The changer's tubes are the machine's hoppers in the books (``coins.payout``);
these keep the books equal to what the changer counts, each move an
adjustment so that the ledger identities hold.
"""

from __future__ import annotations

import sqlite_utils

from controller.store.inventory import manual_payout, refill_tube, sync_tube
from drivers.base import CoinEvent, CoinEventKind


def book_tube_event(db: sqlite_utils.Database, event: CoinEvent, *, refilling: bool) -> bool:
    """Book one changer event that moves tube coins without credit; False for any other
    event (a credit outside service mode, a status)."""
    if event.kind is CoinEventKind.CREDIT and refilling:
        refill_tube(db, event.value_cents, event.route or "tube")
    elif event.kind is CoinEventKind.MANUAL_PAYOUT and event.value_cents:
        manual_payout(db, event.value_cents, event.count)
    elif event.kind is CoinEventKind.TUBE_COUNT and event.value_cents:
        sync_tube(db, event.value_cents, event.count)
    else:
        return False
    return True
