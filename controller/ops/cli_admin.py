"""The operator's command-line remedies: ``vending user list|remove``, ``vending product remove``.

They work on the database directly, also while ``vending run`` serves it
(SQLite WAL; each change is one ``BEGIN IMMEDIATE`` transaction, so it waits
for the machine's own writes and never lands in the middle of a sale).

What they refuse, and why, is said in the message:
- an account that still holds a deposit: that is the buyer's money, owed
  back in coins; removing the account would make it vanish from the books;
- an account with products, unless ``--with-products``: the squatted slots
  are freed together with the account;
- a product whose vend is running at this moment (try again in a moment).
Removing a product frees its slot in the catalog; the units in the spiral
stay there until an operator takes them out at the machine.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from controller.accounts import rules as accounts
from controller.catalog import rules as catalog
from controller.errors import ConfigError, DepositNotEmpty, HasProducts, MachineBusy, NotFound
from controller.store import open_db
from controller.store.db import transaction
from controller.store.products import get_product

T = TypeVar("T")
OPERATOR = {"id": 0, "role": "operator"}


def add_commands(sub: Any, user_sub: Any, common: argparse.ArgumentParser) -> None:
    """Register the subcommands on the ``vending`` parser."""
    user_sub.add_parser("list", parents=[common], help="list the accounts")
    remove = user_sub.add_parser("remove", parents=[common], help="remove an account")
    remove.add_argument("name")
    remove.add_argument("--with-products", action="store_true",
                        help="also remove the account's products (frees squatted slots)")
    product = sub.add_parser("product", parents=[common], help="manage products")
    product_sub = product.add_subparsers(dest="product_command", required=True)
    prod_remove = product_sub.add_parser("remove", parents=[common],
                                         help="remove a product, whoever sells it")
    prod_remove.add_argument("id", type=int)


def run(args: argparse.Namespace, db_path: Path) -> int:
    """Run ``vending user list|remove`` or ``vending product remove``."""
    if not db_path.exists():
        raise ConfigError(f"{db_path}: no such database")
    db = open_db(db_path)
    try:
        if args.command == "product":
            print(_in_tx(db, lambda d: remove_product(d, args.id)))
        elif args.user_command == "list":
            print("\n".join(list_users(db)))
        else:
            print(_in_tx(db, lambda d: remove_user(d, args.name, args.with_products)))
    finally:
        db.conn.close()
    return 0


def _in_tx(db: sqlite_utils.Database, fn: Callable[[sqlite_utils.Database], T]) -> T:
    try:
        return transaction(db, fn)
    except sqlite3.OperationalError as exc:  # the machine held the database too long
        raise MachineBusy(f"the database is busy ({exc}); try again") from None


def list_users(db: sqlite_utils.Database) -> list[str]:
    """One line per account: id, name, role, deposit, slots held, active sessions."""
    rows = db.conn.execute(
        "SELECT u.id, u.username, u.role, u.deposit, "
        "(SELECT GROUP_CONCAT(slot, ',') FROM (SELECT slot FROM products "
        " WHERE seller_id = u.id ORDER BY slot)) AS slots, "
        "(SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.revoked_at IS NULL "
        " AND s.expires_at > ?) AS sessions "
        "FROM users u ORDER BY u.id", (time.time(),)).fetchall()
    lines = [f"{'id':>5}  {'username':<32} {'role':<8} {'deposit':>8} {'sessions':>8}  slots"]
    for r in rows:
        lines.append(f"{r['id']:>5}  {r['username']:<32} {r['role']:<8} {r['deposit']:>8} "
                     f"{r['sessions']:>8}  {r['slots'] or '-'}")
    return lines


def remove_user(db: sqlite_utils.Database, name: str, with_products: bool) -> str:
    """Remove an account (and with ``with_products`` its products); say what was done."""
    row = accounts.find_login(db, name)
    if row is None:
        raise NotFound(f"no account named {name!r}")
    user_id, username = int(row["id"]), str(row["username"])
    if row["deposit"] > 0:
        raise DepositNotEmpty(
            f"{username} holds a deposit of {row['deposit']} cents: that is the buyer's money, "
            "owed back in coins. The buyer takes it back with POST /reset (or spends it); "
            "remove the account after that. Nothing was changed.")
    products = db.conn.execute("SELECT id, slot FROM products WHERE seller_id = ? "
                               "ORDER BY slot", (user_id,)).fetchall()
    if products and not with_products:
        listed = ", ".join(f"{p['id']} in {p['slot']}" for p in products)
        raise HasProducts(
            f"{username} sells {len(products)} product(s) ({listed}). Remove them with "
            "'vending product remove ID', or run this again with --with-products to remove "
            "them with the account. Nothing was changed.")
    for product in products:
        remove_product(db, int(product["id"]))
    accounts.delete_user(db, user_id)
    freed = f"; slots freed: {', '.join(p['slot'] for p in products)}" if products else ""
    return f"removed {row['role']} {username} (id {user_id}) and its sessions{freed}"


def remove_product(db: sqlite_utils.Database, product_id: int) -> str:
    """Remove any product (an operator's right); refuse while its vend runs."""
    product = get_product(db, product_id)
    running = db.conn.execute("SELECT COUNT(*) FROM vends WHERE product_id = ? "
                              "AND status = 'pending'", (product_id,)).fetchone()[0]
    if running:
        raise MachineBusy(f"product {product_id} is being sold right now; try again in a "
                          "moment. Nothing was changed.")
    catalog.delete_product(db, OPERATOR, product_id)
    seller = db.conn.execute("SELECT username FROM users WHERE id = ?",
                             (product["sellerId"],)).fetchone()
    return (f"removed product {product_id} {product['productName']!r} from slot "
            f"{product['slot']} (seller {seller['username'] if seller else '?'}); "
            f"its {product['amountAvailable']} unit(s) stay in the spiral until taken out")



