"""A sale at the front panel: a slot code in, a message on the LCD out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from controller import journal, money
from controller.errors import (
    CannotMakeChange,
    InsufficientFunds,
    MachineBusy,
    NotFound,
    OutOfService,
    OutOfStock,
    VendingError,
)
from controller.panel import status_lines
from controller.sales import NOT_SERVING

if TYPE_CHECKING:
    from controller.machine import Machine


async def panel_select(machine: Machine, slot: str) -> None:
    """Check, vend and pay change for the panel credit; say what happened."""
    flash = machine._flash
    if slot not in machine.config.slots.codes:
        flash("INVALID CODE", slot)
        return
    if machine.model.state in NOT_SERVING:
        flash(*status_lines(machine.panel_snapshot()))
        return
    product = await machine.store.run(lambda db: journal.product_in_slot(db, slot))
    if product is None:
        flash("SOLD OUT", f"{slot} TRY ANOTHER")
        return
    price = money.format_cents(int(product["cost"]))
    machine.vending_slot = slot
    try:
        result = await machine.sell(journal.PANEL, int(product["id"]), 1)
    except InsufficientFunds:
        credit = money.format_cents(machine.model.panel_credit_cents)
        flash(f"{slot} PRICE {price}", f"CREDIT {credit}")
        return
    except (OutOfStock, NotFound):
        flash("SOLD OUT", f"{slot} TRY ANOTHER")
        return
    except CannotMakeChange:
        flash("NO CHANGE", "USE EXACT CHANGE")
        return
    except MachineBusy:
        flash("PLEASE WAIT", "")
        return
    except OutOfService:
        flash("OUT OF SERVICE", "SORRY")
        return
    except VendingError:
        flash("OUT OF SERVICE", "SORRY")
        return
    finally:
        machine.vending_slot = None
    if not result.delivered:
        flash("MAKE ANOTHER", "SELECTION")
    elif result.unpaid:
        flash("THANK YOU", f"OWED {money.format_cents(result.unpaid)}")
    else:
        flash("THANK YOU", "TAKE YOUR ITEM")
