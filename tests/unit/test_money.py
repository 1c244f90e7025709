from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller import money
from controller.errors import CannotMakeChange, ValidationError


def brute_force_table(inventory: dict[int, int]) -> dict[int, int]:
    """Fewest coins for every payable amount, by trying every combination of counts."""
    coins = sorted(inventory)
    best: dict[int, int] = {}
    for counts in itertools.product(*(range(inventory[c] + 1) for c in coins)):
        value = sum(c * n for c, n in zip(coins, counts, strict=True))
        total = sum(counts)
        if total < best.get(value, total + 1):
            best[value] = total
    return best


def test_sixty_from_fifty_and_three_twenties_is_three_twenties() -> None:
    assert money.make_change(60, {50: 1, 20: 3}) == {20: 3}


def test_greedy_trap_with_tens() -> None:
    assert money.make_change(30, {20: 1, 10: 0, 5: 0}) is None
    assert money.make_change(80, {50: 1, 20: 4}) == {20: 4}


def test_zero_amount_needs_no_coins() -> None:
    assert money.make_change(0, {}) == {}


def test_require_change_refuses() -> None:
    with pytest.raises(CannotMakeChange):
        money.require_change(15, {10: 5})


inventories = st.fixed_dictionaries({c: st.integers(0, 6) for c in money.COINS_CENTS})


@settings(max_examples=300, deadline=None)
@given(inventory=inventories, amount=st.integers(0, 1000).map(lambda a: a - a % 5))
def test_change_is_optimal_and_never_pays_what_it_cannot(
    inventory: dict[int, int], amount: int
) -> None:
    plan = money.make_change(amount, inventory)
    expected = brute_force_table(inventory).get(amount)
    if expected is None:
        assert plan is None
        return
    assert plan is not None
    assert money.plan_value(plan) == amount
    assert sum(plan.values()) == expected
    for coin, count in plan.items():
        assert 0 < count <= inventory[coin]


@settings(max_examples=60, deadline=None)
@given(inventory=inventories)
def test_every_amount_up_to_1000(inventory: dict[int, int]) -> None:
    # One inventory, every amount: optimal for each against brute force.
    table = brute_force_table(inventory)
    for amount in range(0, 1001, 5):
        plan = money.make_change(amount, inventory)
        expected = table.get(amount)
        assert (plan is None) == (expected is None)
        if plan is not None:
            assert money.plan_value(plan) == amount and sum(plan.values()) == expected


def test_coin_list_is_largest_first() -> None:
    assert money.coin_list({5: 1, 50: 1, 20: 2}) == [50, 20, 20, 5]


@pytest.mark.parametrize("bad", ["5", 5.0, True, 3, 0, -5, None, 200])
def test_coins_are_exactly_the_five_integers(bad: object) -> None:
    with pytest.raises(ValidationError):
        money.validate_coin(bad)


@pytest.mark.parametrize("bad", ["5", 5.0, True, 0, -5, 7, 101])
def test_prices_are_positive_multiples_of_five(bad: object) -> None:
    with pytest.raises(ValidationError):
        money.validate_price(bad)


def test_valid_price() -> None:
    assert money.validate_price(125) == 125


def test_routing_prefers_hopper_until_full() -> None:
    assert money.routes_to_hopper(50, {50: 199}, {50: 200})
    assert not money.routes_to_hopper(50, {50: 200}, {50: 200})
    assert not money.routes_to_hopper(50, {}, {})


def test_acceptance_counts_the_coin_itself() -> None:
    # No change at all, but a 50 going into the 50 hopper can pay itself back.
    assert money.coin_acceptable(50, 0, max_credit=1000, payout={}, capacity={50: 200})
    # With its hopper full the coin goes to the cashbox, yet the full hopper's own
    # coins pay it back: accepted.
    assert money.coin_acceptable(50, 0, max_credit=1000, payout={50: 200}, capacity={50: 200})
    # A 50 with no 50 hopper goes to the cashbox; one 20 cannot pay it back: refused.
    assert not money.coin_acceptable(50, 0, max_credit=1000, payout={20: 1},
                                     capacity={20: 200})
    # Two 20s and a 10 can: accepted.
    assert money.coin_acceptable(50, 0, max_credit=1000, payout={20: 2, 10: 1},
                                 capacity={20: 200, 10: 200})


def test_acceptance_refuses_when_credit_could_not_be_returned() -> None:
    # Credit 5 + coin 50 = 55: with only 50s in the hoppers 55 cannot be paid back.
    assert not money.coin_acceptable(50, 5, max_credit=1000, payout={50: 3}, capacity={50: 200})


def test_acceptance_respects_max_credit() -> None:
    inv = {c: 50 for c in money.COINS_CENTS}
    cap = {c: 200 for c in money.COINS_CENTS}
    assert money.coin_acceptable(100, 900, max_credit=1000, payout=inv, capacity=cap)
    assert not money.coin_acceptable(5, 1000, max_credit=1000, payout=inv, capacity=cap)
    assert not money.coin_acceptable(100, 950, max_credit=1000, payout=inv, capacity=cap)


def test_exact_change_only() -> None:
    assert money.exact_change_only({5: 0, 10: 0, 20: 0, 50: 0})
    assert not money.exact_change_only({5: 2, 10: 1, 20: 1, 50: 1})


def test_format_cents() -> None:
    assert money.format_cents(120) == "1.20"
    assert money.format_cents(5) == "0.05"
