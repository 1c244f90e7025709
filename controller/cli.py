"""The ``vending`` command: run the machine, add users, audit, check a config.

Every subcommand takes ``--config FILE`` and ``--db PATH``.  With no config
file the built-in simulated machine is used; its database defaults to
``state/vending.db`` under the current directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from controller import config as config_mod
from controller.errors import ConfigError, ValidationError, VendingError
from controller.fleet import cli as fleet_cli
from controller.ops import cli_admin

DEFAULT_DB = Path("state") / "vending.db"


def _parser() -> argparse.ArgumentParser:
    def options(default: object) -> argparse.ArgumentParser:
        p = argparse.ArgumentParser(add_help=False)
        p.add_argument("--config", metavar="FILE", default=default,
                       help="TOML config (default: built-in sim)")
        p.add_argument("--db", metavar="PATH", default=default,
                       help=f"SQLite database (default: {DEFAULT_DB})")
        return p

    # before or after the subcommand; a subcommand's own default must not
    # overwrite a value given before it
    parser = argparse.ArgumentParser(prog="vending", description=__doc__,
                                     parents=[options(None)])
    common = options(argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", parents=[common], help="start the machine and the API")
    run.add_argument("--sim", action="store_true", help="simulated hardware even with a config")
    run.add_argument("--host", help="API address (default from config: 127.0.0.1)")
    run.add_argument("--port", type=int, help="API port (default from config: 8080)")
    run.add_argument("--log-level", default="INFO", type=str.upper,
                     choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                     help="DEBUG shows ccTalk byte traces (default INFO)")
    user = sub.add_parser("user", parents=[common], help="manage users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", parents=[common], help="create a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("operator", "seller", "buyer"))
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input (else prompt)")
    cli_admin.add_commands(sub, user_sub, common)
    aud = sub.add_parser("audit", parents=[common], help="print the EVA-DTS audit report")
    aud.add_argument("--verify", action="store_true", help="check the ledger identities")
    backup = sub.add_parser("backup", parents=[common],
                            help="an online copy of the database (safe while running)")
    backup.add_argument("path", metavar="PATH", help="the copy, or a directory for a dated one")
    backup.add_argument("--keep", type=int, metavar="N",
                        help="with a directory: keep only the N newest copies")
    check = sub.add_parser("check-config", parents=[common], help="validate a config file")
    check.add_argument("file")
    check.add_argument("--wiring", action="store_true",
                       help="print the config's wiring table (Markdown) instead")
    fleet_cli.add_command(sub)
    return parser


def _load(args: argparse.Namespace) -> config_mod.Config:
    return config_mod.load(args.config)


def _db_path(args: argparse.Namespace) -> Path:
    return Path(args.db) if args.db else DEFAULT_DB


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "user" and args.user_command == "add":
            return _user_add(args)
        if args.command in ("user", "product"):
            return cli_admin.run(args, _db_path(args))
        if args.command == "audit":
            return _audit(args)
        if args.command == "backup":
            return _backup(args)
        if args.command == "fleet":
            return fleet_cli.run(args)
        if args.command == "check-config":
            cfg = config_mod.load(args.file)
            if args.wiring:
                from controller.config.wiring import wiring_table

                print(wiring_table(cfg))
                return 0
            print("\n".join(config_mod.describe(cfg)))
            print("config OK")
            return 0
    except ConfigError as exc:
        print(f"vending: config error: {exc.message}", file=sys.stderr)
        return 2
    except VendingError as exc:
        print(f"vending: {exc.message}", file=sys.stderr)
        return 1
    return 2


def _run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    cfg = _load(args)
    if args.sim:
        cfg = replace(cfg, machine=replace(cfg.machine, simulated=True))
    api = cfg.api
    cfg = replace(cfg, api=replace(api, host=args.host or api.host,
                                   port=api.port if args.port is None else args.port))
    from controller.app import serve
    from controller.ops.logs import setup_logging

    setup_logging(args.log_level)

    asyncio.run(serve(cfg, _db_path(args), _stop_signals))
    return 0


def _stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


NO_TERMINAL = ("no terminal to ask for the password: give it on standard input with "
               "--password-stdin, e.g. `echo 'long-secret' | vending user add NAME --role ROLE "
               "--password-stdin`")


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    if not sys.stdin.isatty():  # getpass would read a piped or empty stdin, or die on EOF
        raise ValidationError(NO_TERMINAL)
    try:
        first = getpass.getpass("password: ")
        again = getpass.getpass("again: ")
    except EOFError:
        raise ValidationError(NO_TERMINAL) from None
    if again != first:
        raise ConfigError("the passwords differ")
    return first


def _user_add(args: argparse.Namespace) -> int:
    from controller.accounts import rules as accounts
    from controller.store import open_db

    password = _read_password(args)
    path = _db_path(args)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = open_db(path)
    try:
        user = accounts.create_user_cli(db, args.name, args.role, password)
    finally:
        db.conn.close()
    print(f"created {user['role']} {user['username']} (id {user['id']})")
    return 0


def _backup(args: argparse.Namespace) -> int:
    from controller.errors import StoreError
    from controller.ops.backup import backup_database, prune_archived_events

    if args.path.endswith(("/", os.sep)) and not Path(args.path).is_dir():
        raise StoreError(f"{args.path}: no such directory; create it first (mkdir -p "
                         f"{args.path}), writable by the user running the backup")
    copy = backup_database(_db_path(args), Path(args.path), keep=args.keep)
    print(f"backed up {_db_path(args)} to {copy}")
    cfg = _load(args)
    if cfg.retention.enabled:
        pruned = prune_archived_events(_db_path(args), copy, cfg.retention,
                                       telemetry=cfg.telemetry is not None)
        print(f"retention: {pruned} event row(s) older than the rule deleted "
              "(they are in the backup)")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from controller.ops import audit
    from controller.ops.ledger import read_ledger, verify_lines
    from controller.store import open_db
    from controller.store.db import transaction
    from controller.version import VERSION

    cfg = _load(args)
    path = _db_path(args)
    if not path.exists():
        raise ConfigError(f"{path}: no such database")
    db = open_db(path)
    try:  # a read like any other: counted (EA309), in the database it reads
        report = transaction(db, lambda d: audit.read_report(
            d, cfg, now=time.time(), software_version=VERSION))
        ledger = read_ledger(db)
    finally:
        db.conn.close()
    sys.stdout.write(report)
    if args.verify:
        for line in verify_lines(ledger):
            print(line, file=sys.stderr)
        if not ledger.balanced:
            print("vending: ledger identities do NOT hold", file=sys.stderr)
            return 1
        print("ledger identities hold", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
