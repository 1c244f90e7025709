"""What a new password must be: long enough and not one everybody tries first.

The list of common passwords is package data (``controller/data``), read
once.  It is compared case-insensitively, so ``Password1`` counts as the
common ``password1``.  Existing passwords are never re-checked: the policy
applies when a password is set (sign-up, change, ``vending user add``).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from controller.errors import ValidationError

COMMON_PASSWORDS_FILE = "common_passwords.txt"


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("controller").joinpath("data", COMMON_PASSWORDS_FILE).read_text(
        encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def check_not_common(password: str, username: str | None = None) -> None:
    """Refuse a password from the common list, or one that is the account's name."""
    folded = password.strip().lower()
    if folded in common_passwords():
        raise ValidationError("this password is one of the most common ones; choose another",
                              fields={"password": "too common"})
    if username is not None and folded == username.lower():
        raise ValidationError("the password must not be the account's name",
                              fields={"password": "same as the username"})
