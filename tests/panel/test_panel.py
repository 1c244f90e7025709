"""The front panel's screen and keys, on a fake clock and a fake LCD."""

from __future__ import annotations

import pytest

from controller.fsm import State
from controller.panel import lcd as panel_module
from controller.panel.lcd import TYPED_S, Panel, PanelSnapshot, status_lines


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Rig:
    def __init__(self) -> None:
        self.snapshot = PanelSnapshot(State.IDLE, 0, False)
        self.selected: list[str] = []
        self.returns = 0
        self.panel = Panel(display=None,  # type: ignore[arg-type]  # _screen only
                           snapshot=lambda: self.snapshot, on_select=self.selected.append,
                           on_coin_return=self.coin_return)

    def coin_return(self) -> None:
        self.returns += 1

    def keys(self, keys: str) -> None:
        for key in keys:
            self.panel.key(key)

    def screen(self) -> tuple[str, str]:
        return self.panel.screen()[0]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(panel_module.time, "monotonic", fake)
    return fake


@pytest.fixture
def rig(clock: Clock) -> Rig:
    return Rig()


def test_a_code_selects_a_slot(rig: Rig) -> None:
    rig.snapshot = PanelSnapshot(State.CREDIT, 100, False)
    rig.keys("A")
    assert rig.screen() == ("SELECT A_", "CREDIT 1.00")
    rig.keys("1")
    assert rig.selected == ["A1"]
    assert rig.screen() == ("CREDIT 1.00", "SELECT ITEM")


def test_a_half_typed_code_is_forgotten(rig: Rig, clock: Clock) -> None:
    rig.keys("A")
    clock.now += TYPED_S + 0.1
    assert rig.screen() == ("HELLO", "INSERT COINS")
    rig.keys("1")  # much later: a lone digit selects nothing
    assert rig.selected == []


def test_star_cancels_the_code_and_returns_coins(rig: Rig) -> None:
    rig.keys("A*1")
    assert rig.selected == [] and rig.returns == 1
    assert rig.screen() == ("HELLO", "INSERT COINS")


def test_hash_and_stray_digits_clear_the_code(rig: Rig) -> None:
    rig.keys("A#1B")
    assert rig.selected == [] and rig.screen()[0] == "SELECT B_"
    rig.keys("C2")  # a new row letter replaces the last
    assert rig.selected == ["C2"]


def test_a_flash_gives_way_when_the_credit_changes(rig: Rig, clock: Clock) -> None:
    rig.snapshot = PanelSnapshot(State.CREDIT, 50, False)
    rig.panel.flash(("A1 PRICE 0.65", "CREDIT 0.50"))
    assert rig.screen() == ("A1 PRICE 0.65", "CREDIT 0.50")
    rig.snapshot = PanelSnapshot(State.CREDIT, 60, False)  # a coin
    assert rig.screen() == ("CREDIT 0.60", "SELECT ITEM")


def test_a_flash_gives_way_when_the_state_changes(rig: Rig) -> None:
    rig.snapshot = PanelSnapshot(State.SERVICE, 0, False)
    rig.panel.flash(("OUT OF SERVICE", "SORRY"))
    rig.snapshot = PanelSnapshot(State.IDLE, 0, False)
    assert rig.screen() == ("HELLO", "INSERT COINS")


def test_a_flash_ends_after_its_time(rig: Rig, clock: Clock) -> None:
    rig.panel.flash(("TAKE YOUR COINS", "0.20"))
    clock.now += panel_module.FLASH_S - 0.1
    assert rig.screen() == ("TAKE YOUR COINS", "0.20")
    clock.now += 0.2
    assert rig.screen() == ("HELLO", "INSERT COINS")


def test_the_vend_screen_wins_over_a_typed_code(rig: Rig) -> None:
    rig.snapshot = PanelSnapshot(State.CREDIT, 100, False)
    rig.keys("B")
    rig.snapshot = PanelSnapshot(State.VENDING, 100, False, vending_slot="A1")
    assert rig.screen() == ("VENDING A1", "PLEASE WAIT")


@pytest.mark.parametrize(("snapshot", "lines"), [
    (PanelSnapshot(State.OUT_OF_SERVICE, 100, False, coin_return_ok=True),
     ("OUT OF SERVICE", "* RETURNS 1.00")),
    (PanelSnapshot(State.OUT_OF_SERVICE, 100, False), ("OUT OF SERVICE", "SORRY")),
    (PanelSnapshot(State.OUT_OF_SERVICE, 0, False, coin_return_ok=True),
     ("OUT OF SERVICE", "SORRY")),
    (PanelSnapshot(State.IDLE, 0, True), ("EXACT CHANGE", "ONLY")),
    (PanelSnapshot(State.CREDIT, 120, True), ("CREDIT 1.20", "EXACT CHANGE")),
    (PanelSnapshot(State.PAYING, 0, False), ("PAYING CHANGE", "PLEASE WAIT")),
    (PanelSnapshot(State.IDLE, 0, True, claim_cents=100), ("DEPOSIT 1.00", "* CANCELS")),
    (PanelSnapshot(State.VENDING, 0, False, vending_slot="A1", claim_cents=50),
     ("VENDING A1", "PLEASE WAIT")),
    (PanelSnapshot(State.CREDIT, 50, False, claim_cents=50), ("CREDIT 0.50", "SELECT ITEM")),
    (PanelSnapshot(State.SERVICE, 0, False, claim_cents=50), ("SERVICE MODE", "")),
    (PanelSnapshot(State.IDLE, 0, True, coins_out=True), ("NO COINS TAKEN", "ACCEPTOR FAULT")),
    (PanelSnapshot(State.CREDIT, 50, False, coins_out=True), ("CREDIT 0.50", "SELECT ITEM")),
])
def test_resting_screens(snapshot: PanelSnapshot, lines: tuple[str, str]) -> None:
    assert status_lines(snapshot) == lines
    assert all(len(line) <= 16 for line in lines)


def test_an_action_keeps_the_screen_until_it_says_what_happened(rig: Rig,
                                                                clock: Clock) -> None:
    """A selection passes through credit and idle: neither resting screen is drawn
    only to be overwritten by the vend screen or the thank-you a moment later."""
    rig.snapshot = PanelSnapshot(State.CREDIT, 65, False)
    rig.panel.lines = ("SELECT A_", "CREDIT 0.65")
    rig.panel.hold()
    assert rig.screen() == ("SELECT A_", "CREDIT 0.65")
    rig.snapshot = PanelSnapshot(State.VENDING, 0, False)
    assert rig.screen() == ("VENDING", "PLEASE WAIT")  # the vend shows at once
    rig.panel.lines = rig.screen()
    rig.snapshot = PanelSnapshot(State.IDLE, 0, False)
    assert rig.screen() == rig.panel.lines
    rig.panel.flash(("THANK YOU", "TAKE YOUR ITEM"))
    assert rig.screen() == ("THANK YOU", "TAKE YOUR ITEM")
    rig.panel.release()
    clock.now += 60
    assert rig.screen() == ("HELLO", "INSERT COINS")


def test_a_fault_shows_while_an_action_holds_the_screen(rig: Rig) -> None:
    rig.snapshot = PanelSnapshot(State.CREDIT, 65, False)
    rig.panel.lines = ("SELECT A_", "CREDIT 0.65")
    rig.panel.hold()
    rig.snapshot = PanelSnapshot(State.OUT_OF_SERVICE, 65, False)
    assert rig.screen() == ("OUT OF SERVICE", "SORRY")
    rig.panel.release()
    rig.snapshot = PanelSnapshot(State.CREDIT, 65, False)
    assert rig.screen() == ("CREDIT 0.65", "SELECT ITEM")


def test_a_card_session_shows_its_funds_or_card() -> None:
    card = PanelSnapshot(State.IDLE, 0, False, card=True, card_funds=500)
    assert status_lines(card) == ("CARD 5.00", "SELECT ITEM")
    unknown = PanelSnapshot(State.IDLE, 0, False, card=True)
    assert status_lines(unknown) == ("CARD", "SELECT ITEM")
    with_coins = PanelSnapshot(State.CREDIT, 50, False, card=True, card_funds=500)
    assert status_lines(with_coins) == ("CREDIT 0.50", "SELECT ITEM")  # coins shown first
    busy = PanelSnapshot(State.VENDING, 0, False, vending_slot="A1", card=True)
    assert status_lines(busy) == ("VENDING A1", "PLEASE WAIT")
