"""Declarative request validation: each body is a table of fields with types and bounds.

A ``Body`` checks JSON types strictly (``"5"``, ``5.0`` and ``true`` are not
integers), bounds and unknown fields, collects every problem into one
``validation_error`` with ``fields``, and then applies the domain rule of each
field (``check``: a function from ``controller``), so the rules live once.
The same table produces the JSON Schema for the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from controller.errors import PayloadTooLarge, UnsupportedMediaType, ValidationError
from controller.money import is_int

MAX_BODY_BYTES = 64 * 1024
"""Largest request body accepted (413 above)."""

Kind = Literal["integer", "string", "boolean"]


@dataclass(frozen=True)
class Field:
    """One JSON field: its type, bounds and the domain rule that has the last word."""

    kind: Kind
    required: bool = True
    minimum: int | None = None
    maximum: int | None = None
    multiple_of: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    enum: tuple[Any, ...] | None = None
    nullable: bool = False
    check: Callable[[Any], Any] | None = None
    description: str = ""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` does not fit, or None."""
        if value is None:
            return None if self.nullable else "must not be null"
        if self.kind == "integer":
            return self._integer_problem(value)
        if self.kind == "boolean":
            return None if isinstance(value, bool) else "must be a boolean"
        return self._string_problem(value)

    def _integer_problem(self, value: Any) -> str | None:
        if not is_int(value):
            return "must be an integer"
        if self.enum is not None and value not in self.enum:
            return f"must be one of {', '.join(map(str, self.enum))}"
        if self.minimum is not None and value < self.minimum:
            return f"must be at least {self.minimum}"
        if self.maximum is not None and value > self.maximum:
            return f"must be at most {self.maximum}"
        if self.multiple_of is not None and value % self.multiple_of:
            return f"must be a multiple of {self.multiple_of}"
        return None

    def _string_problem(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return "must be a string"
        if self.enum is not None and value not in self.enum:
            return f"must be one of {', '.join(map(str, self.enum))}"
        if self.min_length is not None and len(value) < self.min_length:
            return f"must be at least {self.min_length} characters"
        if self.max_length is not None and len(value) > self.max_length:
            return f"must be at most {self.max_length} characters"
        if self.pattern is not None and not re.search(self.pattern, value):
            return "has characters or a form that is not allowed"
        return None

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": [self.kind, "null"] if self.nullable else self.kind}
        for key, value in (("minimum", self.minimum), ("maximum", self.maximum),
                           ("multipleOf", self.multiple_of), ("minLength", self.min_length),
                           ("maxLength", self.max_length), ("pattern", self.pattern),
                           ("description", self.description or None)):
            if value is not None:
                schema[key] = value
        if self.enum is not None:
            schema["enum"] = [*self.enum, None] if self.nullable else list(self.enum)
        return schema


@dataclass(frozen=True)
class Body:
    """A JSON object with exactly these fields (unknown ones are refused)."""

    fields: Mapping[str, Field] = field(default_factory=dict)
    min_fields: int = 0

    def validate(self, data: object) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ValidationError("the body must be a JSON object")
        problems: dict[str, str] = {}
        for name in data:
            if name not in self.fields:
                problems[name] = "unknown field"
        for name, spec in self.fields.items():
            if name not in data:
                if spec.required:
                    problems[name] = "required"
                continue
            problem = spec.problem(data[name])
            if problem is not None:
                problems[name] = problem
        if problems:
            raise ValidationError(_summary(problems), fields=problems)
        if len(data) < self.min_fields:
            raise ValidationError(f"give at least {self.min_fields} of: {', '.join(self.fields)}")
        self._apply_checks(data)
        return dict(data)

    def _apply_checks(self, data: dict[str, Any]) -> None:
        for name, spec in self.fields.items():
            if spec.check is not None and data.get(name) is not None:
                spec.check(data[name])

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: spec.json_schema() for name, spec in self.fields.items()},
            "additionalProperties": False,
        }
        required = [name for name, spec in self.fields.items() if spec.required]
        if required:
            schema["required"] = required
        if self.min_fields:
            schema["minProperties"] = self.min_fields
        return schema


EMPTY = Body()
"""A route without a body: nothing or ``{}``."""


def _summary(problems: Mapping[str, str]) -> str:
    return "; ".join(f"{name}: {why}" for name, why in problems.items())


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValidationError(f"duplicate field {key!r}", fields={key: "duplicate field"})
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValidationError(f"{name} is not valid JSON")


def _no_lone_surrogates(value: Any) -> None:
    """A ``\\ud800`` escape decodes to a string no UTF-8 encoder (nor SQLite) takes."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            item.encode("utf-8")  # UnicodeEncodeError, a ValueError
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no duplicate keys, no lone surrogates."""
    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates,
                           parse_constant=_no_constant)
        _no_lone_surrogates(value)
        return value
    except (UnicodeError, ValueError, RecursionError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError("the body is not valid JSON") from None


DECODED_ENCODINGS = frozenset({"identity", "gzip", "x-gzip", "deflate"})
"""Content-Encodings of a request body that are decoded; any other is 415."""


def _check_encoding(request: web.Request) -> None:
    codings = [c.strip().lower() for c in request.headers.get("Content-Encoding", "").split(",")]
    unknown = [c for c in codings if c and c not in DECODED_ENCODINGS]
    if unknown:
        raise UnsupportedMediaType(f"Content-Encoding {unknown[0]!r} is not accepted; "
                                   "send the body uncompressed")


async def read_body(request: web.Request, body: Body,
                    timeout_s: float = 10.0) -> dict[str, Any]:
    """Read, size-check, parse and validate a request body against ``body``.

    The whole body must arrive within ``timeout_s`` (a client that trickles
    it byte by byte does not hold the connection for ever).
    """
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body may be at most {MAX_BODY_BYTES} bytes")
    if not request.body_exists:
        return body.validate({})
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    _check_encoding(request)
    try:
        async with asyncio.timeout(timeout_s):
            raw = await request.read()
    except TimeoutError:
        raise ValidationError(f"the body did not arrive within {timeout_s:g} s") from None
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(f"the body may be at most {MAX_BODY_BYTES} bytes") from None
    except (RequestPayloadError, HttpProcessingError, ValueError) as exc:
        # a broken chunk, a Content-Encoding that does not decode
        raise ValidationError(f"the body could not be read: {type(exc).__name__}") from None
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body may be at most {MAX_BODY_BYTES} bytes")
    if not raw:
        return body.validate({})
    return body.validate(parse_json(raw))


def parse_query_int(request: web.Request, name: str, default: int, *, minimum: int,
                    maximum: int) -> int:
    """A non-negative integer query parameter with bounds (digits only)."""
    raw = request.query.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"(0|[1-9][0-9]{0,15})", raw) or not minimum <= int(raw) <= maximum:
        raise ValidationError(f"{name} must be an integer from {minimum} to {maximum}",
                              fields={name: f"{minimum}..{maximum}"})
    return int(raw)
