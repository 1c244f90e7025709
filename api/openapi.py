"""The OpenAPI 3.1 document, built from the same route table the app serves."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from api.routing import Route
from api.schemas import COMPONENTS, ref
from api.validation import EMPTY

_ERROR_TEXT: dict[int, str] = {
    400: "validation_error: bad JSON, wrong type, unknown field, value out of range",
    401: "unauthorized: missing, bad, expired or revoked token",
    403: "forbidden: wrong role or not the owner",
    404: "not_found",
    408: "deposit_timeout",
    409: "a conflict with the machine's state (see the error code)",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_attempts",
    503: "out_of_service",
}


def _error_statuses(route: Route) -> list[int]:
    statuses = {400, *route.errors}
    if route.method in ("POST", "PUT"):
        statuses |= {413, 415}
    if route.roles is not None:
        statuses |= {401, 403}
    if route.path_params or route.sim_only:
        statuses.add(404)
    return sorted(statuses)


def _success(route: Route) -> dict[str, Any]:
    if route.status == 204:
        return {"description": "done (no body)"}
    if route.text:
        return {"description": "ok", "content": {route.text: {"schema": {"type": "string"}}}}
    schema = dict(route.response) if route.response is not None else {}
    return {"description": "ok", "content": {"application/json": {"schema": schema}}}


def _responses(route: Route) -> dict[str, Any]:
    responses: dict[str, Any] = {str(route.status): _success(route)}
    for status in _error_statuses(route):
        responses[str(status)] = {"description": _ERROR_TEXT[status],
                                  "content": {"application/json": {"schema": ref("Error")}}}
    return responses


def _parameters(route: Route) -> list[dict[str, Any]]:
    params = [{"name": name, "in": "path", "required": True,
               "schema": param.field.json_schema()}
              for name, param in route.path_params.items()]
    params += [{"name": name, "in": "query", "required": False,
                "schema": {**param.field.json_schema(), "default": param.default}}
               for name, param in route.query.items()]
    return params


def _operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": route.operation_id, "summary": route.summary,
                          "tags": [route.tag], "responses": _responses(route)}
    if route.roles is not None:
        op["security"] = [{"bearer": []}]
        op["description"] = f"Allowed roles: {', '.join(sorted(route.roles))}."
    else:
        op["security"] = []
    if route.sim_only:
        op["description"] = "Simulated machine only (404 on real hardware)."
    params = _parameters(route)
    if params:
        op["parameters"] = params
    if route.body is not None or (route.method == "POST" and route.roles is None):
        body = route.body or EMPTY
        schema = body.json_schema()
        # a POST without a token must say application/json (sim mode's cross-site guard)
        public_post = route.method == "POST" and route.roles is None
        op["requestBody"] = {
            "required": bool(schema.get("required") or body.min_fields or public_post),
            "content": {"application/json": {"schema": schema}}}
    return op


def build(routes: Iterable[Route], *, version: str = "1") -> dict[str, Any]:
    """The whole document for ``routes``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Vending machine API", "version": version,
                 "description": "Users, products, deposit/buy/reset, sessions, machine "
                                "maintenance and simulator control. Money is integer cents."},
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "bearerFormat": "JWT"}},
        },
    }
