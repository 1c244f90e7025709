"""Every exception of the project, in one tree.

Each class carries a stable ``code`` (the API error code) and the HTTP
``status`` the API maps it to; the API passes both on unchanged.  The drivers
have their own tree (``drivers.errors``); ``from_driver`` maps it.  Where a
builtin fits, a class also inherits it (``NotFound`` is a ``LookupError``).
"""

from __future__ import annotations

import math
from typing import Any

from drivers.errors import DriverError


class VendingError(Exception):
    """Base of every error the controller raises on purpose."""

    code: str = "internal_error"
    status: int = 500

    def __init__(self, message: str = "", *, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip().splitlines()[0]
        self.fields = fields


# --- request and rule errors (the API maps these 1:1) -----------------------


class ValidationError(VendingError, ValueError):
    """The input is not valid."""

    code = "validation_error"
    status = 400


class ConfigError(VendingError, ValueError):
    """The configuration is not valid."""

    code = "config_error"
    status = 500


class Unauthorized(VendingError):
    """Authentication is missing or not valid."""

    code = "unauthorized"
    status = 401


class Forbidden(VendingError, PermissionError):
    """The caller may not do this."""

    code = "forbidden"
    status = 403


class NotFound(VendingError, LookupError):
    """No such resource."""

    code = "not_found"
    status = 404


class DepositTimeout(VendingError, TimeoutError):
    """No coin of that value was inserted in time."""

    code = "deposit_timeout"
    status = 408


class Conflict(VendingError):
    """The request conflicts with the machine's state."""

    status = 409


class AlreadyRunning(Conflict):
    """Another process runs this machine (its database and devices)."""

    code = "already_running"


class InsufficientFunds(Conflict):
    """The credit does not cover the price."""

    code = "insufficient_funds"


class OutOfStock(Conflict):
    """Not enough units of this product."""

    code = "out_of_stock"


class CannotMakeChange(Conflict):
    """The change cannot be paid from the coins in the machine."""

    code = "cannot_make_change"


class CountedByChanger(Conflict):
    """An MDB changer counts its tubes itself: an operator fills them by inserting coins."""

    code = "counted_by_changer"


class MachineBusy(Conflict):
    """The machine is busy with another action."""

    code = "machine_busy"


class UsernameTaken(Conflict):
    """That username is taken."""

    code = "username_taken"


class SlotTaken(Conflict):
    """That slot already holds a product."""

    code = "slot_taken"


class NoFreeSlot(Conflict):
    """Every slot already holds a product."""

    code = "no_free_slot"


class DepositNotEmpty(Conflict):
    """The account still has a deposit in the machine."""

    code = "deposit_not_empty"


class HasProducts(Conflict):
    """The account still has products in the machine."""

    code = "has_products"


class DepositCancelled(Conflict):
    """The deposit claim was cancelled at the machine's keypad."""

    code = "deposit_cancelled"


class CreditLimit(Conflict):
    """The coin cannot be accepted: credit limit reached or change could not be paid back."""

    code = "credit_limit"


class PayloadTooLarge(VendingError):
    """The request body is too large."""

    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(VendingError):
    """Only application/json is accepted."""

    code = "unsupported_media_type"
    status = 415


class TooManyAttempts(VendingError):
    """Too many failed attempts; try again later."""

    code = "too_many_attempts"
    status = 429


class RetryLater(TooManyAttempts):
    """Too soon; try again in ``retry_after_s`` seconds (the API's ``Retry-After``)."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, math.ceil(retry_after_s))


class OutOfService(VendingError):
    """The machine is out of service."""

    code = "out_of_service"
    status = 503


# --- device errors, mapped from the drivers' own ----------------------------


def from_driver(exc: DriverError) -> OutOfService:
    """A driver's error as the controller reports it: the machine cannot do this now."""
    return OutOfService(f"{exc} ({exc.code})")


class StoreError(VendingError):
    """The store could not complete an operation."""

    code = "store_error"
    status = 500
