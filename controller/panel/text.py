"""Every text the front panel's 16x2 LCD shows, in one place.

The resting screen follows the machine's state; a *flash* answers what the
customer just did and gives way as soon as the state or credit it spoke
about changes (``controller.panel.lcd``).  Money is shown as ``1.20``.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.fsm import State
from controller.money import format_cents

Lines = tuple[str, str]


@dataclass(frozen=True)
class PanelSnapshot:
    state: State
    credit_cents: int
    exact_change_only: bool
    vending_slot: str | None = None
    fault: str | None = None
    coin_return_ok: bool = False  # out of service, but the hoppers can pay the credit back
    claim_cents: int | None = None  # a remote deposit waits for a coin of this value
    coins_out: bool = False  # the acceptor is at fault: no coin is taken
    card: bool = False  # a card session is open at the reader
    card_funds: int | None = None  # its funds, when the reader tells them


def status_lines(s: PanelSnapshot) -> Lines:
    """The resting screen for a machine state."""
    if s.state is State.OUT_OF_SERVICE:
        if s.credit_cents > 0 and s.coin_return_ok:
            return "OUT OF SERVICE", f"* RETURNS {format_cents(s.credit_cents)}"
        return OUT_OF_SERVICE
    if s.state is State.SERVICE:
        return "SERVICE MODE", ""
    if s.state is State.BOOTING:
        return "STARTING", "PLEASE WAIT"
    if s.state is State.VENDING:
        return f"VENDING {s.vending_slot or ''}".strip(), "PLEASE WAIT"
    if s.state is State.PAYING:
        return "PAYING CHANGE", "PLEASE WAIT"
    if s.card and s.credit_cents == 0:
        return card_lines(s.card_funds)
    if s.claim_cents is not None and s.credit_cents == 0:
        return f"DEPOSIT {format_cents(s.claim_cents)}", "* CANCELS"
    if s.credit_cents > 0:
        return f"CREDIT {format_cents(s.credit_cents)}", (
            "EXACT CHANGE" if s.exact_change_only else "SELECT ITEM")
    if s.coins_out:
        return NO_COINS
    if s.exact_change_only:
        return "EXACT CHANGE", "ONLY"
    return "HELLO", "INSERT COINS"


def typing_lines(typed: str, credit_cents: int) -> Lines:
    """A half-typed slot code."""
    return f"SELECT {typed}_", f"CREDIT {format_cents(credit_cents)}" if credit_cents else ""


# --- flashes: the answer to what the customer just did ----------------------

OUT_OF_SERVICE: Lines = ("OUT OF SERVICE", "SORRY")
NO_COINS: Lines = ("NO COINS TAKEN", "ACCEPTOR FAULT")
PLEASE_WAIT: Lines = ("PLEASE WAIT", "")
NO_CHANGE: Lines = ("NO CHANGE", "USE EXACT CHANGE")
VEND_FAILED: Lines = ("MAKE ANOTHER", "SELECTION")
THANK_YOU: Lines = ("THANK YOU", "TAKE YOUR ITEM")
COIN_UNKNOWN: Lines = ("COIN REFUSED", "TRY ANOTHER COIN")
COIN_NOT_NOW: Lines = ("COIN REFUSED", "PLEASE WAIT")
COIN_NO_CHANGE: Lines = ("COIN REFUSED", "USE EXACT CHANGE")
DEPOSIT_CANCELLED: Lines = ("DEPOSIT", "CANCELLED")
CARD_DECLINED: Lines = ("CARD DECLINED", "")
CARD_UNAVAILABLE: Lines = ("CARD READER", "OUT OF ORDER")


def present_card(slot: str, price_cents: int) -> Lines:
    """A selection waits for a card at an always-idle reader."""
    return "PRESENT CARD", f"{slot} {format_cents(price_cents)}"


def card_lines(funds_cents: int | None) -> Lines:
    """A card at the reader: its funds (``CARD`` alone when the reader cannot tell)."""
    return ("CARD" if funds_cents is None else f"CARD {format_cents(funds_cents)}",
            "SELECT ITEM")


def invalid_code(slot: str) -> Lines:
    return "INVALID CODE", slot


def sold_out(slot: str) -> Lines:
    return "SOLD OUT", f"{slot} TRY ANOTHER"


def price_short(slot: str, price_cents: int, credit_cents: int) -> Lines:
    return f"{slot} PRICE {format_cents(price_cents)}", f"CREDIT {format_cents(credit_cents)}"


def thank_you_owed(unpaid_cents: int) -> Lines:
    return "THANK YOU", f"OWED {format_cents(unpaid_cents)}"


def change_short(unpaid_cents: int) -> Lines:
    return "CHANGE SHORT", f"OWED {format_cents(unpaid_cents)}"


def take_coins(value_cents: int) -> Lines:
    return "TAKE YOUR COINS", format_cents(value_cents)


def max_credit(max_credit_cents: int) -> Lines:
    return "MAX CREDIT", format_cents(max_credit_cents)
