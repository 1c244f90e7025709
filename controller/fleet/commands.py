"""Commands from the fleet (MQTT ``cmd`` topic): parse, run at most once, answer.

A command is ``{id, command, args}``; the answer is ``{id, ok: true, result}`` or
``{id, ok: false, error: {code, message}}``.  Commands run through the same
Machine methods and catalog rules as the API (a price is a positive multiple of
5 and waits for a running sale).  Each id is claimed in SQLite before it runs
and its reply kept after, so a repeat is answered from the store and never run
again, also after a restart; a command cut short by a crash is answered with
``interrupted`` rather than run twice.  Every command is logged as a
``fleet_command`` event (``by: "fleet"``).

This module speaks JSON only; the MQTT client is in ``controller.fleet.publisher``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from controller.catalog import rules as catalog
from controller.errors import NotFound, ValidationError, VendingError
from controller.store import outbox as telemetry_store

if TYPE_CHECKING:
    from controller.machine import Machine

log = logging.getLogger(__name__)

COMMAND_ID_MAX_CHARS = 100
COMMANDS = ("ping", "service", "set_price", "audit")
MAX_COMMAND_BYTES = 16 * 1024
MAX_DEPTH = 8
"""Nesting of arrays and objects a command may have (its args are flat)."""
MAX_INTEGER_DIGITS = 18
"""An integer fits SQLite's 64 bits; a longer one is refused before it is converted."""
MAX_FLOAT_CHARS = 32


def error_reply(command_id: Any, code: str, message: str) -> dict[str, Any]:
    return {"id": command_id, "ok": False, "error": {"code": code, "message": message}}


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text`` (outside strings)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValidationError(f"duplicate key {next(k for k in keys if keys.count(k) > 1)!r}")
    return dict(pairs)


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValidationError(f"a number of more than {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _bounded_float(text: str) -> float:
    value = float(text) if len(text) <= MAX_FLOAT_CHARS else math.inf
    if not math.isfinite(value):
        raise ValidationError("a number out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValidationError(f"{name} is not JSON")


def _encodable(value: Any) -> None:
    """Every string encodes to UTF-8 (a lone surrogate escape does not; SQLite refuses it)."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, dict):
        for key, item in value.items():
            _encodable(key)
            _encodable(item)
    elif isinstance(value, list):
        for item in value:
            _encodable(item)


def strict_json(payload: bytes) -> Any:
    """A command's JSON, bounded: size, nesting and numbers, no duplicate keys, no NaN."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise ValidationError(f"the command is over {MAX_COMMAND_BYTES} bytes")
    try:
        text = payload.decode("utf-8")
        if _depth(text) > MAX_DEPTH:
            raise ValidationError(f"the command nests deeper than {MAX_DEPTH} levels")
        body = json.loads(text, object_pairs_hook=_unique_keys, parse_int=_bounded_int,
                          parse_float=_bounded_float, parse_constant=_no_constant)
        _encodable(body)  # depth bounded above: this recursion is short
        return body
    except ValidationError as exc:
        raise ValidationError(f"the command is refused: {exc.message}") from None
    except (ValueError, RecursionError):  # not UTF-8, not JSON, a lone surrogate
        raise ValidationError("the command is not JSON") from None


def parse_command(payload: bytes) -> tuple[str | int, str, dict[str, Any]]:
    """``(id, command, args)`` from a message; ValidationError (with ``id`` if known)."""
    body = strict_json(payload)
    if not isinstance(body, dict):
        raise ValidationError("the command must be a JSON object {id, command, args}")
    command_id = body.get("id")
    if isinstance(command_id, bool) or not (
            isinstance(command_id, int) or (isinstance(command_id, str) and 0 < len(
                command_id) <= COMMAND_ID_MAX_CHARS)):
        raise ValidationError(f"id must be an integer or a string of 1-{COMMAND_ID_MAX_CHARS} "
                              "characters")
    unknown = sorted(set(body) - {"id", "command", "args"})
    command, args = body.get("command"), body.get("args", {})
    if unknown:
        raise _with_id(command_id, f"unknown field {unknown[0]!r}")
    if command not in COMMANDS:
        raise _with_id(command_id, f"unknown command {command!r}; one of {', '.join(COMMANDS)}")
    if not isinstance(args, dict):
        raise _with_id(command_id, "args must be an object")
    return command_id, str(command), args


class CommandError(ValidationError):
    """A command refused before it ran, with the id it came with."""

    def __init__(self, command_id: str | int, message: str) -> None:
        super().__init__(message)
        self.command_id = command_id


def _with_id(command_id: str | int, message: str) -> CommandError:
    return CommandError(command_id, message)


def _only(args: dict[str, Any], *names: str) -> None:
    missing = [n for n in names if n not in args]
    extra = sorted(set(args) - set(names))
    if missing:
        raise ValidationError(f"args: {missing[0]} is required")
    if extra:
        raise ValidationError(f"args: unknown field {extra[0]!r}")


class FleetCommands:
    """Runs fleet commands on one machine; ``handle(payload)`` gives the reply."""

    def __init__(self, machine: Machine) -> None:
        self._machine = machine
        self._runners: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "ping": self._ping, "service": self._service, "set_price": self._set_price,
            "audit": self._audit}

    async def handle(self, payload: bytes) -> dict[str, Any]:
        try:
            command_id, command, args = parse_command(payload)
        except CommandError as exc:
            return await self._refused(exc.command_id, exc)
        except ValidationError as exc:
            return error_reply(None, exc.code, exc.message)
        store = self._machine.store
        seen = await store.run(lambda db: telemetry_store.find_command(db, command_id))
        if seen is not None:
            return seen[1] or error_reply(command_id, "interrupted",
                                          "the machine stopped while this command ran: "
                                          "check its state before sending a new one")
        if not await store.tx(lambda db: telemetry_store.claim_command(db, command_id, command)):
            return error_reply(command_id, "machine_busy", "this command id is running")
        reply = await self._run(command_id, command, args)
        await store.tx(lambda db: telemetry_store.save_reply(db, reply, command, args))
        return reply

    async def _refused(self, command_id: str | int, exc: VendingError) -> dict[str, Any]:
        """A malformed command with an id: answered and logged, and it keeps its id."""
        reply = error_reply(command_id, exc.code, exc.message)
        store = self._machine.store
        if await store.run(lambda db: telemetry_store.find_command(db, command_id)) is None:
            await store.tx(lambda db: telemetry_store.save_reply(db, reply, "invalid", None))
        return reply

    async def _run(self, command_id: str | int, command: str,
                   args: dict[str, Any]) -> dict[str, Any]:
        try:
            result = await self._runners[command](args)
        except VendingError as exc:
            return error_reply(command_id, exc.code, exc.message)
        except Exception as exc:  # an answer is owed whatever went wrong
            log.exception("fleet command %r failed", command)
            return error_reply(command_id, "internal_error", repr(exc))
        return {"id": command_id, "ok": True, "result": result}

    async def _ping(self, args: dict[str, Any]) -> dict[str, Any]:
        _only(args)
        return {"pong": True, **self._machine.health()}

    async def _service(self, args: dict[str, Any]) -> dict[str, Any]:
        _only(args, "enabled")
        if not isinstance(args["enabled"], bool):
            raise ValidationError("args: enabled must be true or false")
        state = await self._machine.set_service(args["enabled"])
        return {"state": state["state"]}

    async def _audit(self, args: dict[str, Any]) -> dict[str, Any]:
        _only(args)
        return {"report": await self._machine.audit_text()}

    async def _set_price(self, args: dict[str, Any]) -> dict[str, Any]:
        _only(args, "slot", "cost")
        slot, cost = args["slot"], catalog.validate_cost(args["cost"])
        if not isinstance(slot, str) or slot.upper() not in self._machine.config.slots.codes:
            raise ValidationError(f"args: no slot {slot!r}")
        products = self._machine.products
        before = next((p for p in await products.list() if p["slot"] == slot.upper()), None)
        if before is None:
            raise NotFound(f"slot {slot.upper()} holds no product")
        # The PUT /product path (it waits for a running vend or payout).  The fleet acts
        # with an operator's authority; the change is made on the owning seller's behalf.
        owner = {"id": int(before["sellerId"]), "role": "seller"}
        after = await products.update(owner, int(before["id"]), {"cost": cost})
        return {"slot": after["slot"], "productId": after["id"], "cost": after["cost"],
                "previousCost": before["cost"]}

