"""Accounts: ``/user`` (sign up, read, change password, delete)."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web

from api.routing import ANY_USER, Call, Route, no_content, reply
from api.schemas import ref
from api.validation import Body, Field
from controller import accounts

T = TypeVar("T")
NO_CONTROL_CHARS = r"^[^\u0000-\u001f\u007f-\u009f]*$"

USERNAME = Field("string", min_length=3, max_length=32, pattern=accounts.USERNAME_PATTERN,
                 description="3-32 characters of letters, digits, '_', '.', '-' "
                             "(unique, ignoring case)")
PASSWORD = Field("string", min_length=accounts.PASSWORD_MIN_CHARS,
                 max_length=accounts.PASSWORD_MAX_CHARS, pattern=NO_CONTROL_CHARS,
                 check=accounts.validate_password,
                 description="8-128 characters, no control characters")

SIGN_UP = Body({"username": USERNAME, "password": PASSWORD,
                "role": Field("string", enum=accounts.API_ROLES)})
NEW_PASSWORD = Body({"password": PASSWORD})


async def create_user(call: Call) -> web.StreamResponse:
    body = call.body
    user = await call.machine.accounts.sign_up(body["username"], body["password"], body["role"])
    return reply(user, 201)


async def read_user(call: Call) -> web.StreamResponse:
    return reply(call.me)


async def change_password(call: Call) -> web.StreamResponse:
    return reply(await call.machine.accounts.change_password(
        call.me["id"], call.session_id, call.body["password"]))


async def delete_user(call: Call) -> web.StreamResponse:
    await call.machine.accounts.delete(call.me["id"])
    return no_content()


ROUTES = [
    Route("POST", "/user", create_user, "Create a buyer or seller account", body=SIGN_UP,
          status=201, response=ref("User"), errors=(409,), tag="users"),
    Route("GET", "/user", read_user, "The caller's account", roles=ANY_USER,
          response=ref("User"), tag="users"),
    Route("PUT", "/user", change_password,
          "Change the caller's password (other sessions of the account end)",
          roles=ANY_USER, body=NEW_PASSWORD, response=ref("User"), tag="users"),
    Route("DELETE", "/user", delete_user,
          "Delete the caller's account (no deposit and no products left)",
          roles=ANY_USER, status=204, errors=(409,), tag="users"),
]
