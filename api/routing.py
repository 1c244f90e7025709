"""The route table's vocabulary: what a route declares, and the wrapper that enforces it.

Each route says who may call it, its body, query and path parameters, and
what it answers.  The wrapper checks all of that before the handler runs, so
handlers hold only the call to ``controller``; the OpenAPI document is built
from the same declarations.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from api.auth import AuthState, Claims, current_user
from api.encoding import json_response
from api.facade import MachineFacade
from api.validation import EMPTY, Body, Field, parse_query_int, read_body
from controller.errors import Forbidden, NotFound, Unauthorized, ValidationError, VendingError

MACHINE_KEY: web.AppKey[MachineFacade] = web.AppKey("machine")
AUTH_KEY: web.AppKey[AuthState] = web.AppKey("auth", AuthState)
DOCUMENT_KEY: web.AppKey[dict[str, Any]] = web.AppKey("openapi")

ANY_USER: frozenset[str] = frozenset({"buyer", "seller", "operator"})
BUYER: frozenset[str] = frozenset({"buyer"})
SELLER: frozenset[str] = frozenset({"seller"})
OPERATOR: frozenset[str] = frozenset({"operator"})


@dataclass(frozen=True)
class Call:
    """One request, checked: the handler's only argument."""

    request: web.Request
    machine: MachineFacade
    auth: AuthState
    body: dict[str, Any]
    params: dict[str, int]
    user: dict[str, Any] | None = None
    claims: Claims | None = None

    @property
    def me(self) -> dict[str, Any]:
        """The authenticated caller (routes with roles only)."""
        if self.user is None:
            raise Unauthorized()
        return self.user

    @property
    def session_id(self) -> str:
        if self.claims is None:
            raise Unauthorized()
        return self.claims.session_id


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Param:
    """An integer path or query parameter."""

    field: Field
    default: int = 0
    bad: type[VendingError] = ValidationError


@dataclass(frozen=True)
class Route:
    """One API operation."""

    method: str
    path: str
    handler: Handler
    summary: str
    roles: frozenset[str] | None = None
    body: Body | None = None
    status: int = 200
    response: Mapping[str, Any] | None = None
    errors: tuple[int, ...] = ()
    path_params: Mapping[str, Param] = field(default_factory=dict)
    query: Mapping[str, Param] = field(default_factory=dict)
    sim_only: bool = False
    text: str = ""  # the media type of a text answer (text/plain, text/html); JSON if empty
    tag: str = "api"

    @property
    def operation_id(self) -> str:
        words = re.findall(r"[a-z]+", self.path.lower())
        return self.method.lower() + "".join(w.capitalize() for w in words)


_ID_DIGITS = re.compile(r"[1-9][0-9]{0,17}")


def _path_params(route: Route, request: web.Request) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, param in route.path_params.items():
        raw = request.match_info.get(name, "")
        value = int(raw) if _ID_DIGITS.fullmatch(raw) else None
        if value is None or param.field.problem(value) is not None:
            raise param.bad(f"{name} {raw!r} is not valid", fields={name: "not valid"})
        out[name] = value
    return out


def _query_params(route: Route, request: web.Request) -> dict[str, int]:
    if not request.query_string:  # nothing to check: every parameter takes its default
        return {name: param.default for name, param in route.query.items()}
    unknown = sorted(set(request.query) - set(route.query))
    if unknown:
        raise ValidationError(f"unknown query parameter {unknown[0]!r}",
                              fields=dict.fromkeys(unknown, "unknown query parameter"))
    repeated = sorted(k for k in set(request.query) if len(request.query.getall(k)) > 1)
    if repeated:
        raise ValidationError(f"query parameter {repeated[0]!r} given twice",
                              fields=dict.fromkeys(repeated, "given twice"))
    return {name: parse_query_int(request, name, param.default,
                                  minimum=param.field.minimum or 0,
                                  maximum=param.field.maximum or 2**31)
            for name, param in route.query.items()}


def wrap(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of a route: sim check, auth, role, params, body, then the handler."""

    async def handle(request: web.Request) -> web.StreamResponse:
        machine = request.app[MACHINE_KEY]
        auth = request.app[AUTH_KEY]
        if route.sim_only and not machine.simulated:
            raise NotFound("the machine is not simulated")
        user = claims = None
        if route.roles is not None:
            user, claims = await current_user(machine.accounts, auth.tokens,
                                              request.headers.get("Authorization"))
            if user["role"] not in route.roles:
                raise Forbidden(f"only {' or '.join(sorted(route.roles))} accounts may do this")
        params = _query_params(route, request)
        if route.path_params:
            params |= _path_params(route, request)
        if route.body is None and request.content_length is None and not request.body_exists:
            body: dict[str, Any] = {}  # what read_body answers for no body and no fields
        else:
            body = await read_body(request, route.body or EMPTY,
                                   machine.config.api.body_timeout_s)
        return await route.handler(Call(request=request, machine=machine, auth=auth,
                                        body=body, params=params, user=user, claims=claims))

    handle.__name__ = route.operation_id
    handle.__doc__ = route.summary
    return handle


def reply(data: Any, status: int = 200) -> web.Response:
    return json_response(data, status=status)


def no_content() -> web.Response:
    return web.Response(status=204)
