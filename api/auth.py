"""Tokens and sessions for the API (the login throttle is ``api.throttle``).

Access and refresh tokens are HS256 JWTs (PyJWT, algorithm pinned) told apart
by the ``typ`` claim and bound to a session (``sid``); the session itself
lives in the store (``controller.accounts.rules``), so revoking it refuses its
access tokens at once.  The signing secret comes from the config or is
generated once and kept in ``jwt.secret`` in the state directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from api.facade import Accounts
from api.throttle import LoginThrottle, RateLimit
from controller.accounts import rules as accounts
from controller.config import ApiConfig
from controller.errors import ConfigError, Unauthorized
from controller.private_files import tighten

log = logging.getLogger(__name__)

ALGORITHM = "HS256"
SECRET_FILE = "jwt.secret"
MIN_SECRET_CHARS = 32
ACTIVE_SESSION_MESSAGE = "There is already an active session using your account"
VERIFIED_TOKENS_KEPT = 1024  # access tokens whose signature was checked, until they expire


# --- the signing secret -------------------------------------------------------


def load_secret(configured: str | None, state_dir: Path) -> str:
    """The configured secret, else the one in ``state_dir/jwt.secret`` (made on first use).

    The file is written to a private temporary name (mode 0600) and linked
    into place, so a reader never sees a half-written secret and two starting
    processes agree on one.
    """
    if configured is not None:
        if len(configured.encode("utf-8")) < MIN_SECRET_CHARS:
            raise ConfigError(f"api.jwt_secret must be at least {MIN_SECRET_CHARS} bytes")
        return configured
    path = state_dir / SECRET_FILE
    if not path.exists():
        _create_secret(path)
    tighten(path)
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < MIN_SECRET_CHARS:
        raise ConfigError(f"{path} holds no usable secret (delete it to make a new one)")
    return secret


def _create_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: use its secret
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --- tokens ---------------------------------------------------------------------


@dataclass(frozen=True)
class Claims:
    """The verified claims the API acts on."""

    user_id: int
    session_id: str
    typ: str
    jti: str | None


class TokenService:
    """Mints and verifies the API's JWTs with one secret."""

    def __init__(self, secret: str, config: ApiConfig) -> None:
        self._secret = secret
        self.access_s = config.access_token_s
        self.refresh_s = config.refresh_token_s
        # token -> (claims, exp): a signature is checked once per token, not per
        # request (PyJWT's checks cost more than the rest of a GET); revocation is
        # still checked per request, in the store, and expiry on every hit.
        self._verified: dict[str, tuple[Claims, int]] = {}

    def _encode(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def pair(self, user_id: int, session: accounts.OpenedSession) -> dict[str, Any]:
        """A fresh access and refresh token for a session (the login/refresh answer)."""
        now = int(time.time())
        base = {"sub": str(user_id), "sid": session.session_id, "iat": now}
        access = self._encode({**base, "typ": "access", "exp": now + self.access_s})
        refresh = self._encode({**base, "typ": "refresh", "jti": session.refresh_jti,
                                "exp": int(session.expires_at)})
        return {"accessToken": access, "refreshToken": refresh, "tokenType": "Bearer",
                "expiresIn": self.access_s}

    def verify(self, token: str, typ: str) -> Claims:
        """The claims of a valid token of type ``typ``; ``unauthorized`` otherwise."""
        if typ != "access":
            return self._decode(token, typ)[0]
        hit = self._verified.get(token)
        if hit is not None:
            if time.time() < hit[1]:
                return hit[0]
            del self._verified[token]  # expired: the full check says so
        claims, exp = self._decode(token, typ)
        self._verified[token] = (claims, exp)
        if len(self._verified) > VERIFIED_TOKENS_KEPT:
            del self._verified[next(iter(self._verified))]  # the oldest
        return claims

    def _decode(self, token: str, typ: str) -> tuple[Claims, int]:
        required = ["exp", "iat", "sub", "sid", "typ"] + (["jti"] if typ == "refresh" else [])
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM],
                                options={"require": required})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except (jwt.InvalidTokenError, UnicodeError, ValueError, TypeError):
            raise Unauthorized("the token is not valid") from None
        sub, sid, jti = claims.get("sub"), claims.get("sid"), claims.get("jti")
        if (claims.get("typ") != typ or not isinstance(sub, str)
                or not re.fullmatch(r"[1-9][0-9]{0,17}", sub)
                or type(claims.get("exp")) is not int or type(claims.get("iat")) is not int
                or not isinstance(sid, str)
                or (typ == "refresh" and not isinstance(jti, str))):
            raise Unauthorized("the token is not valid")
        return Claims(user_id=int(sub), session_id=sid, typ=typ,
                      jti=jti if isinstance(jti, str) else None), int(claims["exp"])


def bearer_token(header: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not header:
        raise Unauthorized("an Authorization: Bearer token is required")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("an Authorization: Bearer token is required")
    return token.strip()


async def current_user(account_service: Accounts, tokens: TokenService,
                       header: str | None) -> tuple[dict[str, Any], Claims]:
    """The caller's account and token claims; the session must still be active."""
    claims = tokens.verify(bearer_token(header), "access")
    user = await account_service.session_user(claims.session_id, claims.user_id)
    if user is None:
        raise Unauthorized("the session has ended")
    return user, claims


class AuthState:
    """The API's auth parts, filled in when the app starts (the secret is file I/O)."""

    def __init__(self, config: ApiConfig) -> None:
        self.config = config
        self.throttle = LoginThrottle(config.login_attempts_per_minute,
                                      config.login_attempts_per_address_per_minute)
        self.signups = RateLimit(config.signups_per_address_per_hour, 3600.0, "sign-ups")
        self._tokens: TokenService | None = None

    async def start(self, state_dir: Path) -> None:
        secret = await asyncio.to_thread(load_secret, self.config.jwt_secret, state_dir)
        self._tokens = TokenService(secret, self.config)

    @property
    def tokens(self) -> TokenService:
        if self._tokens is None:
            raise RuntimeError("the API has not started")
        return self._tokens
