"""The money rules, pure and typed: coins, prices, change, acceptance, routing.

Money is integer cents everywhere.  Nothing here does I/O; the service layer
calls these functions inside the store transaction that applies their result.
"""

from __future__ import annotations

from collections.abc import Mapping

from controller.errors import CannotMakeChange, ValidationError

COINS_CENTS: tuple[int, ...] = (5, 10, 20, 50, 100)
"""The only coins the machine knows, smallest first."""

PRICE_STEP_CENTS = 5

Inventory = Mapping[int, int]
"""Coin value -> number of coins available (for change: the hopper counts)."""


def is_int(value: object) -> bool:
    """True for a real int (``True``, ``5.0`` and ``"5"`` are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def validate_coin(coin: object) -> int:
    if not is_int(coin) or coin not in COINS_CENTS:
        raise ValidationError(
            f"coin must be one of {', '.join(map(str, COINS_CENTS))}",
            fields={"coin": "not allowed"},
        )
    assert isinstance(coin, int)
    return coin


def validate_price(cost: object, *, field: str = "cost") -> int:
    if not is_int(cost) or cost < PRICE_STEP_CENTS or cost % PRICE_STEP_CENTS:  # type: ignore[operator]
        raise ValidationError(
            f"{field} must be a positive multiple of {PRICE_STEP_CENTS}",
            fields={field: "not a positive multiple of 5"},
        )
    assert isinstance(cost, int)
    return cost


def format_cents(cents: int) -> str:
    """``120`` -> ``"1.20"`` (what the LCD shows)."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def make_change(amount: int, inventory: Inventory) -> dict[int, int] | None:
    """The fewest coins from ``inventory`` that add up to ``amount`` exactly.

    Bounded change-making (each coin value can be used at most as many times
    as there are coins), solved exactly by dynamic programming over the amount
    in steps of the smallest coin's common divisor.  Greedy is wrong here: 60
    from one 50 and three 20s is 20+20+20.  Returns None when the amount cannot
    be paid at all; ``{}`` for zero.
    """
    if amount < 0:
        raise ValueError("amount must not be negative")
    if amount == 0:
        return {}
    coins = sorted((c, n) for c, n in inventory.items() if c > 0 and n > 0)
    if not coins:
        return None
    # 0/1 items by binary splitting: k coins of value c -> parcels 1, 2, 4, ..., rest.
    items: list[tuple[int, int]] = []  # (coin value, coins in parcel)
    for coin, count in coins:
        if coin > amount:
            continue
        count = min(count, amount // coin)
        part = 1
        while count > 0:
            take = min(part, count)
            items.append((coin, take))
            count -= take
            part *= 2
    inf = amount + 1
    best = [0] + [inf] * amount  # best[a] = fewest coins for a
    choice: list[list[int]] = [[] for _ in range(amount + 1)]  # item indices used
    for index, (coin, take) in enumerate(items):
        value = coin * take
        for a in range(amount, value - 1, -1):
            candidate = best[a - value] + take
            if candidate < best[a]:
                best[a] = candidate
                choice[a] = [*choice[a - value], index]
    if best[amount] >= inf:
        return None
    plan: dict[int, int] = {}
    for index in choice[amount]:
        coin, take = items[index]
        plan[coin] = plan.get(coin, 0) + take
    return plan


def require_change(amount: int, inventory: Inventory) -> dict[int, int]:
    """Like make_change, but refuse (``cannot_make_change``) when impossible."""
    plan = make_change(amount, inventory)
    if plan is None:
        raise CannotMakeChange(f"cannot pay {format_cents(amount)} in change from the coins held")
    return plan


def coin_list(plan: Mapping[int, int]) -> list[int]:
    """``{50: 1, 20: 1, 5: 1}`` -> ``[50, 20, 5]`` (largest first)."""
    return [coin for coin in sorted(plan, reverse=True) for _ in range(plan[coin])]


def plan_value(plan: Mapping[int, int]) -> int:
    return sum(coin * count for coin, count in plan.items())


def routes_to_hopper(coin: int, payout: Inventory, capacity: Mapping[int, int]) -> bool:
    """An accepted coin goes to its hopper if there is one and it is not full."""
    return coin in capacity and payout.get(coin, 0) < capacity[coin]


def coin_acceptable(
    coin: int,
    credit: int,
    *,
    max_credit: int,
    payout: Inventory,
    capacity: Mapping[int, int],
) -> bool:
    """The coin acceptance rule of the money model.

    A coin is accepted only while the credit is below ``max_credit`` (the new
    credit may not pass it) and only if the holder's new credit could still be
    paid back from the payout inventory, counting the coin itself when it
    would go to a hopper.
    """
    new_credit = credit + coin
    if credit >= max_credit or new_credit > max_credit:
        return False
    after = dict(payout)
    if routes_to_hopper(coin, payout, capacity):
        after[coin] = after.get(coin, 0) + 1
    return make_change(new_credit, after) is not None


def exact_change_only(payout: Inventory, *, coins: tuple[int, ...] = COINS_CENTS) -> bool:
    """True when some coin value could not be given back as change.

    The panel shows EXACT CHANGE ONLY when the hoppers cannot return any of
    the amounts a customer is likely to be owed (each coin value below the
    largest): the customer should then insert the exact price.
    """
    return any(make_change(c, payout) is None for c in coins[:-1])
