"""``vending fleet``'s options and how they become a broker connection.

Only what applies to a viewer of the broker: the broker, its credentials, the
topic prefix, or a config file whose ``[telemetry]`` section gives them (no
database, no simulated machine).  Further ways of looking at the fleet add
their options in :func:`add_command` and their branch in :func:`run`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace
from typing import Any

from controller import config as config_mod
from controller.config import TelemetryConfig, broker_address
from controller.errors import ConfigError


def add_command(sub: Any) -> argparse.ArgumentParser:
    """The ``fleet`` subcommand on ``sub`` (the ``vending`` subparsers)."""
    fleet: argparse.ArgumentParser = sub.add_parser(
        "fleet", help="the live table of every machine that reports to a broker",
        description="The live table of every machine that reports to an MQTT broker: "
                    "drawn again on every change (at most 4 times a second), reconnecting "
                    "by itself when the broker restarts. Ctrl-C ends it.")
    fleet.add_argument("--broker", metavar="URL",
                       help="mqtt://host[:port] or mqtts://host[:port] "
                            "(default: the config's [telemetry] broker)")
    fleet.add_argument("--once", action="store_true",
                       help="print the table once the retained messages are in, and exit")
    fleet.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                       help="a machine's TOML config: its [telemetry] section gives the "
                            "broker, credentials and topic prefix")
    fleet.add_argument("--topic-prefix", metavar="PREFIX",
                       help="default: the config's, else vending")
    fleet.add_argument("--username", metavar="NAME", help="broker user (default: the config's)")
    fleet.add_argument("--password-file", metavar="FILE",
                       help="a file holding the broker password (default: the config's)")
    fleet.add_argument("--ca-file", metavar="FILE", help="CA certificate for mqtts://")
    fleet.add_argument("--picklist", action="store_true",
                       help="what to bring to fill every slot and hopper, per machine and for "
                            "the whole round (from each machine's retained inventory)")
    fleet.add_argument("--json", action="store_true", help="with --picklist: print JSON")
    fleet_sub = fleet.add_subparsers(dest="fleet_command", metavar="send")
    send = fleet_sub.add_parser(
        "send", help="send one command to a machine and print its reply",
        description="Send one fleet command with a fresh id and print the machine's reply "
                    "(JSON); exit 0 when it is ok. Nothing is sent to a machine that is "
                    "offline or never reported.")
    send.add_argument("machine", metavar="MACHINE", help="its machine_id, like RPV0001")
    send.add_argument("send_command", metavar="COMMAND", help="ping, service, set_price, audit")
    send.add_argument("args_json", metavar="ARGS_JSON", nargs="?",
                      help='the command\'s args as a JSON object, like {"enabled": true}')
    send.add_argument("--timeout", type=float, default=10.0, metavar="S",
                      help="seconds to wait for the reply (default 10)")
    return fleet


def broker_config(args: argparse.Namespace) -> TelemetryConfig:
    """The broker connection from the options, over the config's ``[telemetry]``."""
    path = getattr(args, "config", None)
    configured = config_mod.load(path).telemetry if path else None
    if args.broker is None and configured is None:
        raise ConfigError("give --broker URL (or --config FILE with a [telemetry] section)")
    base = configured or TelemetryConfig()
    broker = args.broker or base.broker
    try:
        broker_address(broker)
    except ValueError as exc:
        raise ConfigError(f"--broker: {exc}") from None
    return replace(base, broker=broker, topic_prefix=args.topic_prefix or base.topic_prefix,
                   username=args.username or base.username,
                   password_file=args.password_file or base.password_file,
                   ca_file=args.ca_file or base.ca_file)


def run(args: argparse.Namespace) -> int:
    """Run ``vending fleet``; the exit status."""
    import aiomqtt

    from controller.fleet.view import watch

    cfg = broker_config(args)
    try:
        if args.fleet_command == "send":
            from controller.fleet.send import send_and_print

            return asyncio.run(send_and_print(cfg, args.machine, args.send_command,
                                              args.args_json, args.timeout))
        if args.picklist:
            from controller.fleet.picklist import print_picklist

            return asyncio.run(print_picklist(cfg, as_json=args.json))
        return asyncio.run(watch(cfg, once=args.once))
    except KeyboardInterrupt:
        return 0
    except aiomqtt.MqttError as exc:  # not the live view: it keeps trying
        print(f"vending: broker {cfg.broker}: {exc}", file=sys.stderr)
        return 1
