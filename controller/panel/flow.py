"""The front panel flow: a customer's keys in, the LCD's answer out.

A slot code sells one unit for the panel credit (``Sales.sell``), ``*`` pays
the credit back; a refused coin is explained.  The panel applies no money
rule itself: it calls the same sale as the API and turns its errors into the
messages of ``controller.panel.text``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from controller.config import Config
from controller.errors import (
    CannotMakeChange,
    InsufficientFunds,
    MachineBusy,
    NotFound,
    OutOfService,
    OutOfStock,
    VendingError,
)
from controller.events import EventStream
from controller.faults import FaultRegistry
from controller.fsm import READY, MachineModel
from controller.panel import text
from controller.panel.lcd import Panel
from controller.panel.text import Lines, PanelSnapshot
from controller.payment.card_desk import CardDesk
from controller.payment.coin_gate import CoinGate
from controller.sale.mechanism import NOT_SERVING
from controller.sale.medium import CardDeclined, CardUnavailable
from controller.sale.sales import PANEL, Sales
from controller.tasks import Supervisor
from drivers.base import CoinEvent, CoinEventKind, Display, Keypad

log = logging.getLogger(__name__)


class FrontPanel:
    def __init__(self, config: Config, model: MachineModel, stream: EventStream,
                 tasks: Supervisor, faults: FaultRegistry, coin_gate: CoinGate,
                 sales: Sales) -> None:
        self._config = config
        self._model = model
        self._stream = stream
        self._tasks = tasks
        self._faults = faults
        self._coin_gate = coin_gate
        self._sales = sales
        self._panel: Panel | None = None
        self._vending_slot: str | None = None
        self.card: CardDesk | None = None  # a card reader, when the machine has one

    async def start(self, display: Display, keypad: Keypad,
                    closers: list[Callable[[], Awaitable[Any]]]) -> None:
        """Start the LCD, the panel's writer and the keypad (closers in start order)."""
        await display.start()
        closers.append(display.close)
        self._panel = Panel(display, self.snapshot, self.select, self.coin_return,
                            on_show=self._shown)
        self._panel.start()
        closers.append(self._panel.close)
        keypad.set_handler(self._panel.key)
        await keypad.start()
        closers.append(keypad.close)

    def refresh(self) -> None:
        if self._panel is not None:
            self._panel.refresh()

    def _flash(self, lines: Lines) -> None:
        if self._panel is not None:
            self._panel.flash(lines)

    def _shown(self, line1: str, line2: str) -> None:
        self._stream.publish("display", lines=[line1, line2])

    def snapshot(self) -> PanelSnapshot:
        session = self.card.session if self.card is not None else None
        return PanelSnapshot(self._model.state, self._model.panel_credit_cents,
                             self._coin_gate.exact_change_only, self._vending_slot,
                             self._faults.first_reason(),
                             coin_return_ok=self._faults.payback_possible(),
                             claim_cents=self._coin_gate.claim_cents,
                             coins_out=self._faults.get("acceptor") is not None,
                             card=session is not None,
                             card_funds=None if session is None else session.funds_cents)

    # --- keys -----------------------------------------------------------------

    def select(self, slot: str) -> None:
        self._held(self._tasks.spawn(self._select(slot), f"panel-select-{slot}", action=True))

    def coin_return(self) -> None:
        """``*``: cancel a waiting remote deposit, else pay the panel credit back."""
        if self._coin_gate.cancel_claim():
            self._flash(text.DEPOSIT_CANCELLED)
            return
        if self.card is not None and self.card.session is not None:
            self._tasks.spawn(self.card.end_session(), "panel-card-end")
        self._held(self._tasks.spawn(self._coin_return(), "panel-coin-return",
                                      action=True))

    def _held(self, action: asyncio.Task[None]) -> None:
        """Keep the LCD's screen while ``action`` runs (see ``Panel.hold``)."""
        panel = self._panel
        if panel is not None:
            panel.hold()
            action.add_done_callback(lambda _task: panel.release())

    async def _select(self, slot: str) -> None:
        """Check, vend and pay change for the panel credit; say what happened."""
        if slot not in self._config.slots.codes:
            self._flash(text.invalid_code(slot))
            return
        if self._model.state in NOT_SERVING:
            self._flash(text.status_lines(self.snapshot()))
            return
        product = await self._sales.product_in_slot(slot)
        if product is None:
            self._flash(text.sold_out(slot))
            return
        card = self.card
        if card is not None and card.can_vend \
                and self._model.panel_credit_cents < int(product["cost"]):
            await self._card_sale(card, slot, product)
            return
        self._vending_slot = slot
        try:
            result = await self._sales.sell(PANEL, int(product["id"]), 1)
        except VendingError as exc:
            self._flash(self._refusal(exc, slot, int(product["cost"])))
            return
        finally:
            self._vending_slot = None
        if not result.delivered:
            self._flash(text.VEND_FAILED)
        elif result.unpaid:
            self._flash(text.thank_you_owed(result.unpaid))
        else:
            self._flash(text.THANK_YOU)

    async def _card_sale(self, card: CardDesk, slot: str, product: dict[str, Any]) -> None:
        """Paid by the card: the spiral turns only after the reader approved; one
        vend per session (it ends after a delivery)."""
        self._vending_slot = slot
        if card.session is None:  # an always-idle reader waits for the card
            self._flash(text.present_card(slot, int(product["cost"])))
        try:
            result = await self._sales.sell_with(card.reader, int(product["id"]))
        except CardDeclined:
            self._flash(text.CARD_DECLINED)
            return
        except CardUnavailable:
            self._flash(text.CARD_UNAVAILABLE)
            return
        except VendingError as exc:
            self._flash(self._refusal(exc, slot, int(product["cost"])))
            return
        finally:
            self._vending_slot = None
        if not result.delivered:
            self._flash(text.VEND_FAILED)
            return
        self._flash(text.THANK_YOU)
        await card.end_session()

    def _refusal(self, exc: VendingError, slot: str, price_cents: int) -> Lines:
        if isinstance(exc, InsufficientFunds):
            return text.price_short(slot, price_cents, self._model.panel_credit_cents)
        if isinstance(exc, OutOfStock | NotFound):
            return text.sold_out(slot)
        if isinstance(exc, CannotMakeChange):
            return text.NO_CHANGE
        if isinstance(exc, MachineBusy):
            return text.PLEASE_WAIT
        return text.OUT_OF_SERVICE

    async def _coin_return(self) -> None:
        if self._model.panel_credit_cents <= 0:
            return
        try:
            coins, unpaid = await self._sales.pay_back(PANEL, "coin_return",
                                                       even_out_of_service=True)
        except VendingError as exc:
            self._flash(text.OUT_OF_SERVICE if isinstance(exc, OutOfService)
                        else text.PLEASE_WAIT)
            return
        if unpaid:
            self._flash(text.change_short(unpaid))
        elif coins:
            self._flash(text.take_coins(sum(coins)))

    # --- coins ----------------------------------------------------------------

    def coin_refused(self, event: CoinEvent, claimed: bool) -> None:
        """Tell the customer at the panel why a coin came back (not a claimed deposit)."""
        if claimed:
            return
        max_credit = self._config.machine.max_credit_cents
        if event.kind is CoinEventKind.REJECTED:
            self._flash(text.COIN_UNKNOWN)
        elif self._model.state not in READY:
            self._flash(text.COIN_NOT_NOW)
        elif self._model.panel_credit_cents + max(event.value_cents, 5) > max_credit:
            self._flash(text.max_credit(max_credit))
        else:
            self._flash(text.COIN_NO_CHANGE)
