"""``vending fleet --broker URL send MACHINE COMMAND [ARGS_JSON]``: one fleet command.

It reads the machine's retained ``status`` first: a machine that never
reported, or whose last status says it is offline, is not sent anything (a
command queued for a machine that is away could run hours later, when no one
expects it).  Otherwise it publishes ``{id, command, args}`` with a fresh id on
``PREFIX/MACHINE/cmd`` and waits for the ``reply`` with that id.  No reply in
time, or the machine going offline meanwhile, is a ``FleetNoReply`` that says
what is known and the id the machine would answer to.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import aiomqtt

from controller.config import TelemetryConfig
from controller.errors import ValidationError, VendingError
from controller.fleet.publisher import client_options
from controller.fleet.status import printable

REPLY_TIMEOUT_S = 10.0
STATUS_WAIT_S = 2.0  # a retained status comes right after subscribing, if there is one


class FleetNoReply(VendingError, TimeoutError):
    """The machine did not answer the command."""

    code = "no_reply"
    status = 504


def parse_args_json(text: str | None) -> dict[str, Any]:
    """The command's ``args`` from the command line: a JSON object (``{}`` if left out)."""
    if text is None:
        return {}
    try:
        args = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"ARGS_JSON is not JSON: {exc.msg}") from None
    if not isinstance(args, dict):
        raise ValidationError('ARGS_JSON must be a JSON object, like {"enabled": true}')
    return args


def check_machine_id(machine_id: str) -> str:
    if not machine_id or any(ch in machine_id for ch in "/+#") or not machine_id.isprintable():
        raise ValidationError(f"not a machine id: {printable(machine_id)!r}")
    return machine_id


async def send_command(cfg: TelemetryConfig, machine_id: str, command: str,
                       args: dict[str, Any], *, timeout_s: float = REPLY_TIMEOUT_S,
                       command_id: str | None = None) -> dict[str, Any]:
    """Send one command and return the machine's reply ``{id, ok, result | error}``."""
    check_machine_id(machine_id)
    base = f"{cfg.topic_prefix}/{machine_id}"
    command_id = command_id or uuid.uuid4().hex
    client = aiomqtt.Client(**client_options(cfg),
                            identifier=f"vending-send-{uuid.uuid4().hex}", clean_session=True)
    async with client:
        await client.subscribe(f"{base}/reply", qos=1)
        await client.subscribe(f"{base}/status", qos=1)
        messages = aiter(client.messages)
        status = await _retained_status(messages, f"{base}/status")
        name = printable(machine_id)
        if status is None:
            raise FleetNoReply(f"{name} has never reported to this broker: nothing sent")
        if not status.get("online"):
            raise FleetNoReply(f"{name} is offline (its last status says so): nothing sent")
        body = {"id": command_id, "command": command, "args": args}
        await client.publish(f"{base}/cmd", json.dumps(body), qos=1)
        return await _reply(messages, base, command_id, name, timeout_s)


async def _retained_status(messages: Any, status_topic: str) -> dict[str, Any] | None:
    deadline = time.monotonic() + STATUS_WAIT_S
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(anext(messages), left)
        except TimeoutError:
            return None
        if str(message.topic) == status_topic:
            return _json_object(message.payload) or {}
    return None


async def _reply(messages: Any, base: str, command_id: str, name: str,
                 timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(anext(messages), left)
        except TimeoutError:
            break
        body = _json_object(message.payload)
        if body is None:
            continue
        if str(message.topic) == f"{base}/status" and not body.get("online"):
            raise FleetNoReply(f"{name} went offline before it answered; the command may "
                               f"still run when it is back (id {command_id})")
        if str(message.topic) == f"{base}/reply" and body.get("id") == command_id:
            return body
    raise FleetNoReply(f"no reply from {name} within {timeout_s:g} s (are commands on: "
                       f"[telemetry] commands = true?); the id was {command_id}")


def _json_object(payload: Any) -> dict[str, Any] | None:
    try:
        body = json.loads(payload) if payload else None
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError):
        return None
    return body if isinstance(body, dict) else None


def reply_text(reply: dict[str, Any]) -> str:
    """The reply as printed: JSON with every non-ASCII and control character escaped."""
    return json.dumps(reply, indent=2, ensure_ascii=True, sort_keys=True)


async def send_and_print(cfg: TelemetryConfig, machine_id: str, command: str,
                         args_json: str | None, timeout_s: float) -> int:
    """The ``send`` subcommand: the reply on stdout; 0 when the machine says ok, else 1."""
    if not timeout_s > 0:
        raise ValidationError("--timeout must be a positive number of seconds")
    reply = await send_command(cfg, machine_id, command, parse_args_json(args_json),
                               timeout_s=timeout_s)
    print(reply_text(reply))
    return 0 if reply.get("ok") is True else 1
