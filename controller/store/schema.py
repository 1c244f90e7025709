"""The schema, as ordered migrations; ``PRAGMA user_version`` is the version.

A migration is applied in one transaction with the version bump: a list of
SQL statements (the first three), or a function that uses sqlite-utils'
table API.  Never edit a migration that has shipped: add
the next one.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from controller.store import faults, sales_book

Migration = list[str] | Callable[[sqlite_utils.Database], None]


def _faults_in_one_table(db: sqlite_utils.Database) -> None:
    """4: faults move from two JSON blobs in ``meta`` (the machine's, and the hoppers'
    left out of change-making) into the ``faults`` table."""
    faults.create_table(db)
    db.execute(
        "INSERT OR IGNORE INTO faults (device, reason, latched, stops_machine, since) "
        "SELECT key, value, 1, 1, 0 FROM json_each("
        "(SELECT value FROM meta WHERE key = 'faults'))")
    db.execute(
        "INSERT OR IGNORE INTO faults (device, reason, latched, stops_machine, since) "
        "SELECT 'hopper:' || key, value, 1, 0, 0 FROM json_each("
        "(SELECT value FROM meta WHERE key = 'hopper_faults'))")
    db.execute("DELETE FROM meta WHERE key IN ('faults', 'hopper_faults')")


MIGRATIONS: list[Migration] = [
    # 1: the whole first schema
    [
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE COLLATE NOCASE,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('buyer', 'seller', 'operator')),
            deposit INTEGER NOT NULL DEFAULT 0 CHECK (deposit >= 0),
            created_at REAL NOT NULL
        )""",
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            refresh_jti TEXT NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            revoked_at REAL,
            revoked_reason TEXT
        )""",
        "CREATE INDEX sessions_user ON sessions(user_id)",
        """CREATE TABLE slots (
            code TEXT PRIMARY KEY,
            position INTEGER NOT NULL UNIQUE,
            capacity INTEGER NOT NULL CHECK (capacity > 0),
            status TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'out_of_order', 'check')),
            status_reason TEXT
        )""",
        """CREATE TABLE products (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            cost INTEGER NOT NULL CHECK (cost > 0 AND cost % 5 = 0),
            amount_available INTEGER NOT NULL CHECK (amount_available >= 0),
            seller_id INTEGER NOT NULL REFERENCES users(id),
            slot TEXT NOT NULL UNIQUE REFERENCES slots(code)
        )""",
        """CREATE TABLE coins (
            coin INTEGER PRIMARY KEY CHECK (coin IN (5, 10, 20, 50, 100)),
            payout INTEGER NOT NULL DEFAULT 0 CHECK (payout >= 0),
            capacity INTEGER NOT NULL DEFAULT 0 CHECK (capacity >= 0),
            cashbox INTEGER NOT NULL DEFAULT 0 CHECK (cashbox >= 0)
        )""",
        """CREATE TABLE panel (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            credit INTEGER NOT NULL DEFAULT 0 CHECK (credit >= 0)
        )""",
        "INSERT INTO panel (id, credit) VALUES (1, 0)",
        """CREATE TABLE vends (
            id INTEGER PRIMARY KEY,
            holder TEXT NOT NULL,
            product_id INTEGER,
            product_name TEXT NOT NULL,
            slot TEXT NOT NULL,
            price INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'unknown')),
            outcome TEXT,
            created_at REAL NOT NULL,
            settled_at REAL
        )""",
        "CREATE INDEX vends_open ON vends(status) WHERE status = 'pending'",
        """CREATE TABLE payouts (
            id INTEGER PRIMARY KEY,
            holder TEXT NOT NULL,
            amount INTEGER NOT NULL CHECK (amount > 0),
            plan TEXT NOT NULL,
            paid TEXT NOT NULL DEFAULT '{}',
            counters TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL CHECK (status IN ('pending', 'settled')),
            reason TEXT NOT NULL,
            created_at REAL NOT NULL,
            settled_at REAL
        )""",
        "CREATE INDEX payouts_open ON payouts(status) WHERE status = 'pending'",
        """CREATE TABLE device_state (
            device TEXT PRIMARY KEY,
            counter INTEGER,
            data TEXT NOT NULL DEFAULT '{}'
        )""",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ts REAL NOT NULL,
            kind TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}'
        )""",
        """CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
           BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
        """CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
           BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
        """CREATE TABLE counters (
            name TEXT PRIMARY KEY,
            lifetime INTEGER NOT NULL DEFAULT 0,
            interim INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE slot_counters (
            slot TEXT PRIMARY KEY,
            vends INTEGER NOT NULL DEFAULT 0,
            value INTEGER NOT NULL DEFAULT 0,
            interim_vends INTEGER NOT NULL DEFAULT 0,
            interim_value INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            interim_failed INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
    ],
    # 2: each hopper's status before its dispense, {coin: [paid, unpaid]}: a refused
    # dispense also moves the counter, and only these figures tell it from a taken one
    [
        "ALTER TABLE payouts ADD COLUMN before_status TEXT NOT NULL DEFAULT '{}'",
    ],
    # 3: fleet commands taken over MQTT, by id, with the reply once they ran (NULL
    # while running): a repeated id is answered from here and never run twice
    [
        """CREATE TABLE fleet_commands (
            id TEXT PRIMARY KEY,
            command TEXT NOT NULL,
            received_at REAL NOT NULL,
            reply TEXT
        )""",
    ],
    _faults_in_one_table,
    # 5: change owed by a payout that cannot be accounted for (a Flow hopper whose
    # figures repeat its last payout's after a crash): never paid, never paid again
    [
        "ALTER TABLE payouts ADD COLUMN owed INTEGER NOT NULL DEFAULT 0",
    ],
    # 6: event rows that a verified backup holds (``meta`` key ``events_archived_id``)
    # may be deleted by the retention rule (``store/retention.py``); newer ones stay
    # append-only
    [
        "DROP TRIGGER events_append_only_delete",
        """CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
           WHEN OLD.id > COALESCE((SELECT CAST(value AS INTEGER) FROM meta
                                   WHERE key = 'events_archived_id'), 0)
           BEGIN SELECT RAISE(ABORT, 'events are append-only until a backup holds them');
           END""",
    ],
    # 7: what the EVA-DTS report needs beyond the counters (store/counters.py):
    # sales per slot and payment device (``CA`` cash, ``DA`` card) with the last sale,
    # occurrences per event code, and the reads and resets of the report.  Sales so far
    # split by the journal's holders; resets so far are the audited collections in the
    # event log.
    [
        """CREATE TABLE slot_sales (
            slot TEXT NOT NULL,
            device TEXT NOT NULL,
            vends INTEGER NOT NULL DEFAULT 0,
            value INTEGER NOT NULL DEFAULT 0,
            interim_vends INTEGER NOT NULL DEFAULT 0,
            interim_value INTEGER NOT NULL DEFAULT 0,
            last_sale_at REAL,
            PRIMARY KEY (slot, device)
        )""",
        # card sales (a ``medium:`` holder, in the journal that is never pruned) are
        # ``DA``; interim since the last audited collection still in the event log
        """INSERT INTO slot_sales (slot, device, vends, value, interim_vends, interim_value,
                                   last_sale_at)
           SELECT c.slot, 'DA', MIN(c.n, sc.vends), MIN(c.v, sc.value),
                  MIN(c.interim_n, sc.interim_vends), MIN(c.interim_v, sc.interim_value),
                  c.last_at
           FROM (SELECT slot, COUNT(*) AS n, SUM(price) AS v, MAX(settled_at) AS last_at,
                        SUM(settled_at > r.at) AS interim_n,
                        SUM(CASE WHEN settled_at > r.at THEN price ELSE 0 END) AS interim_v
                 FROM vends, (SELECT COALESCE(MAX(ts), -1) AS at FROM events
                              WHERE kind = 'cashbox_collected') AS r
                 WHERE status = 'delivered' AND holder LIKE 'medium:%' GROUP BY slot) AS c
           JOIN slot_counters sc ON sc.slot = c.slot WHERE sc.vends > 0""",
        # the rest of each slot's sales were cash
        """INSERT INTO slot_sales (slot, device, vends, value, interim_vends, interim_value,
                                   last_sale_at)
           SELECT sc.slot, 'CA', sc.vends - COALESCE(d.vends, 0),
                  sc.value - COALESCE(d.value, 0),
                  sc.interim_vends - COALESCE(d.interim_vends, 0),
                  sc.interim_value - COALESCE(d.interim_value, 0),
                  (SELECT MAX(v.settled_at) FROM vends v
                   WHERE v.slot = sc.slot AND v.status = 'delivered'
                   AND v.holder NOT LIKE 'medium:%')
           FROM slot_counters sc LEFT JOIN slot_sales d ON d.slot = sc.slot AND d.device = 'DA'
           WHERE sc.vends - COALESCE(d.vends, 0) > 0""",
        """CREATE TABLE event_counts (
            code TEXT PRIMARY KEY,
            lifetime INTEGER NOT NULL DEFAULT 0,
            interim INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE audit_reads (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            reads INTEGER NOT NULL DEFAULT 0,
            resets INTEGER NOT NULL DEFAULT 0,
            last_read_at REAL
        )""",
        """INSERT INTO audit_reads (id, resets)
           SELECT 1, COUNT(*) FROM events WHERE kind = 'cashbox_collected'""",
    ],
    # 8: a product's minimum level (the stock at which its slot counts as low) and
    # whether that was already reported; sales summed per local hour (``sales_book``)
    sales_book.add_min_level_and_sales_hours,
    # 9: card vends (store/card_journal.py): journaled before the reader is asked,
    # again on approval with the stock (``vend_id``), settled once the reader took
    # the outcome; ``refund_owed`` is what a reader that lost the session charged
    # for nothing (an operator pays it back)
    [
        """CREATE TABLE card_vends (
            id INTEGER PRIMARY KEY,
            reader TEXT NOT NULL,
            product_id INTEGER NOT NULL,
            slot TEXT NOT NULL,
            item INTEGER NOT NULL,
            price INTEGER NOT NULL CHECK (price > 0),
            status TEXT NOT NULL CHECK (status IN
                ('requested', 'approved', 'vended', 'settled', 'declined')),
            approved INTEGER,
            vend_id INTEGER REFERENCES vends(id),
            outcome TEXT CHECK (outcome IN ('delivered', 'failed', 'unknown')),
            told TEXT CHECK (told IN ('success', 'failure', 'lost', 'cancelled')),
            charged INTEGER NOT NULL DEFAULT 0,
            refund_owed INTEGER NOT NULL DEFAULT 0 CHECK (refund_owed >= 0),
            created_at REAL NOT NULL,
            settled_at REAL
        )""",
        "CREATE INDEX card_vends_open ON card_vends(status) "
        "WHERE status IN ('requested', 'approved', 'vended')",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)

COUNTER_NAMES: tuple[str, ...] = (
    "cash_in",  # value of every coin accepted
    "cash_to_cashbox",  # ... of which went to the cashbox
    "cash_to_hoppers",  # ... of which went to a hopper
    "change_paid",  # value of coins paid out by the hoppers
    "cash_collected",  # value taken out of the cashbox by an operator
    "adjustments",  # hopper refills (+) and removals (-) by an operator
    "refills",  # value of coins added to hoppers by an operator
    "sales_value",  # value of paid vends
    "sales_count",  # number of paid vends
    "failed_vends",  # vends that delivered nothing
    "overpaid",  # value a hopper paid beyond the change owed (a late coin): a loss
    "cashless_value",  # value of paid vends paid by a card reader (not cash)
    "cashless_count",  # number of those vends
    "cashless_refunds",  # value a card reader charged for nothing: owed back to the card
    "bills_in",  # value of bills stacked (cash in); its interim is the stacker's contents
    "bills_count",  # number of bills stacked
    "manual_paid",  # value of coins an operator paid out by hand at an MDB changer
)
