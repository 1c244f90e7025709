"""Accounts: ``/user`` (sign up, read, change password, delete)."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web

from api.reauth import confirm_password
from api.routing import ANY_USER, Call, Route, no_content, reply
from api.schemas import ref
from api.throttle import client_key
from api.validation import Body, Field
from controller.accounts import rules as accounts
from controller.accounts.password_policy import check_not_common
from controller.config import ApiConfig
from controller.errors import Forbidden, UsernameTaken

T = TypeVar("T")
NO_CONTROL_CHARS = r"^[^\u0000-\u001f\u007f-\u009f]*$"

USERNAME = Field("string", min_length=3, max_length=32, pattern=accounts.USERNAME_PATTERN,
                 description="3-32 characters of letters, digits, '_', '.', '-' "
                             "(unique, ignoring case)")
PASSWORD = Field("string", min_length=accounts.PASSWORD_MIN_CHARS,
                 max_length=accounts.PASSWORD_MAX_CHARS, pattern=NO_CONTROL_CHARS,
                 check=accounts.validate_password,
                 description="8-128 characters, no control characters, not one of the most "
                             "common passwords, not the username")



def sign_up_body(roles: tuple[str, ...]) -> Body:
    """``POST /user``'s body: the roles are those ``[api] signup_roles`` allows."""
    return Body({"username": USERNAME, "password": PASSWORD,
                 "role": Field("string", enum=roles or accounts.API_ROLES)})


CURRENT_PASSWORD = Field("string", min_length=1, max_length=accounts.PASSWORD_MAX_CHARS,
                         description="the account's password now (re-authentication)")
NEW_PASSWORD = Body({"currentPassword": CURRENT_PASSWORD, "password": PASSWORD})
CONFIRM_DELETE = Body({"password": CURRENT_PASSWORD})


async def create_user(call: Call) -> web.StreamResponse:
    body = call.body
    if not call.machine.config.api.signup_roles:
        raise Forbidden("this machine takes no sign-ups; ask an operator for an account")
    name = body["username"]
    # counted before the name is looked up: past the limit a taken name and a free one
    # get the same 429, so sign-up is no way to test which names exist
    call.auth.signups.take(client_key(call.request.remote))
    if await call.machine.accounts.find_login(name) is not None:
        raise UsernameTaken(fields={"username": "taken"})  # before paying for a hash
    user = await call.machine.accounts.sign_up(name, body["password"], body["role"])
    return reply(user, 201)


async def read_user(call: Call) -> web.StreamResponse:
    return reply(call.me)


async def change_password(call: Call) -> web.StreamResponse:
    check_not_common(call.body["password"], call.me["username"])
    await confirm_password(call, call.body["currentPassword"])
    return reply(await call.machine.accounts.change_password(
        call.me["id"], call.session_id, call.body["password"]))


async def delete_user(call: Call) -> web.StreamResponse:
    await confirm_password(call, call.body["password"])
    await call.machine.accounts.delete(call.me["id"])
    return no_content()


def routes(config: ApiConfig) -> list[Route]:
    """The account routes, sign-up fitted to the roles the config allows."""
    return [
        Route("POST", "/user", create_user, "Create a buyer or seller account",
              body=sign_up_body(config.signup_roles), status=201, response=ref("User"),
              errors=(403, 409, 429), tag="users"),
        Route("GET", "/user", read_user, "The caller's account", roles=ANY_USER,
              response=ref("User"), tag="users"),
        Route("PUT", "/user", change_password,
              "Change the caller's password (other sessions of the account end)",
              roles=ANY_USER, body=NEW_PASSWORD, response=ref("User"), errors=(429,),
              tag="users"),
        Route("DELETE", "/user", delete_user,
              "Delete the caller's account (no deposit and no products left)",
              roles=ANY_USER, body=CONFIRM_DELETE, status=204, errors=(409, 429), tag="users"),
    ]
