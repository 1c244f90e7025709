"""A simulated MDB coin changer (level 3, address 08) with its tubes in the saved world.

Coin types are the machine's coins in order (5, 10, 20, 50, 100 c: types 0-4),
scaling 5, two decimals, as MDB.md's example.  Each tube holds the world's
hopper count of its coin (20 at first start, ``tube_capacity`` at most); a
coin for a full tube, or a type without a tube, goes to the world's cashbox.
A payout pays one coin every ``coin_s`` into the coin cup, measured when the
VMC next talks to it (POLL answers ``02`` meanwhile, then ACK).

Faults (``inject``): ``silent``, ``bad_checksum``, ``reset`` (one-shot: a
payout under way stops there, JUST RESET at the next POLL), ``jam`` (coin jam:
coins come back, status ``0C``), ``short_pay`` (each DISPENSE pays one coin
fewer); per tube (``inject_tube``): ``jam`` (that tube pays nothing: ``07``)
and ``empty``.  The item queue, the coin types and the faults are saved with
the world; a payout is not: a power cut stops a real changer's motor too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from drivers.mdb.changer_bytes import (
    CHANGER,
    COIN_TYPE,
    DISPENSE,
    EXPANSION,
    JUST_RESET,
    PAYOUT_BUSY,
    POLL,
    RESET,
    SETUP,
    TUBE_STATUS,
    Route,
    deposit_item,
    manual_item,
)
from simulators.mdb.peripheral import NoAnswer, SimMdbPeripheral
from simulators.world import SimWorld

SCALING = 5
TUBE_FAULTS = frozenset({"jam", "empty"})
IDENTITY = b"SIM" + b"000000000001" + b"SIM-CHANGER " + bytes([0x01, 0x00]) + bytes([0, 0, 0, 3])


@dataclass
class _Paying:
    """A payout under way: the coin types still to pay, one coin every coin_s."""

    queue: list[int]
    started: float = field(default_factory=time.monotonic)
    paid: int = 0


class SimMdbChanger(SimMdbPeripheral):
    """The changer's state machine on the bytes of MDB 4.2 §5."""

    address = CHANGER
    name = "changer"
    FAULTS = frozenset({"silent", "bad_checksum", "reset", "jam", "short_pay"})

    def __init__(self, world: SimWorld, *, coins: list[int], tube_coins: list[int] | None = None,
                 tube_capacity: int = 50, coin_s: float = 0.05) -> None:
        super().__init__()
        if len(coins) > 16 or any(c % SCALING or c // SCALING > 254 for c in coins):
            raise ValueError(f"coins {coins}: at most 16, multiples of {SCALING}c")
        self.world = world
        self.coins = list(coins)
        tubes = coins if tube_coins is None else tube_coins
        self.tube_mask = sum(1 << t for t, c in enumerate(coins) if c in tubes)
        self.tube_capacity = tube_capacity
        self.coin_s = coin_s
        self.tube_faults: dict[int, set[str]] = {}
        self._payout: _Paying | None = None
        self._paid_last: list[int] = [0] * len(coins)
        self._value_unpolled = 0
        reg = world.device("changer")
        reg.setdefault("items", [])
        reg.setdefault("just_reset", True)  # a changer powers up reset
        reg.setdefault("accept", 0)

    # --- the world's registers --------------------------------------------------------

    @property
    def _reg(self) -> dict[str, object]:
        return self.world.device("changer")

    def _queue(self, item: bytes) -> None:
        items = self._reg["items"]
        assert isinstance(items, list)
        items.append(item.hex())
        self.world.save()

    def tube(self, coin: int) -> int:
        return self.world.hoppers.get(coin, 0) if self._has_tube(coin) else 0

    def _has_tube(self, coin: int) -> bool:
        return coin in self.coins and bool(self.tube_mask >> self.coins.index(coin) & 1)

    # --- the coin slot and the operator ---------------------------------------------------

    def insert(self, coin: int) -> str:
        """A coin at the slot: "accepted" (into a tube or the cashbox) or "rejected"."""
        with self.world.lock, self.world.one_save():
            if coin not in self.coins or "silent" in self.faults:
                self.world.return_coin(coin)
                return "rejected"
            if "jam" in self.faults:
                self.world.return_coin(coin)
                self._queue(bytes([0x0C]))
                return "rejected"
            t = self.coins.index(coin)
            if not int(self._reg["accept"]) >> t & 1:  # type: ignore[call-overload]
                self.world.return_coin(coin)
                return "rejected"
            if self._has_tube(coin) and self.world.hoppers.get(coin, 0) < self.tube_capacity:
                self.world.hoppers[coin] = self.world.hoppers.get(coin, 0) + 1
                route = Route.TUBE
            else:
                self.world.cashbox[coin] = self.world.cashbox.get(coin, 0) + 1
                route = Route.CASHBOX
            self._queue(deposit_item(t, route, self.tube(coin)))
            self.world.changed()
            return "accepted"

    def hand_dispense(self, coin: int, count: int) -> int:
        """An operator presses the changer's dispense button: ``count`` coins (at most
        7, as one POLL item reports) leave the tube into the operator's hand.
        Returns the coins that came out."""
        if not self._has_tube(coin) or not 1 <= count <= 7:
            raise ValueError(f"no {count} coin(s) of {coin}c to dispense by hand")
        with self.world.lock, self.world.one_save():
            taken = min(count, self.world.hoppers.get(coin, 0))
            if taken:
                self.world.hoppers[coin] -= taken
                self._queue(manual_item(self.coins.index(coin), taken, self.tube(coin)))
                self.world.changed()
            return taken

    def inject_tube(self, coin: int, fault: str) -> None:
        if not self._has_tube(coin):
            raise KeyError(f"no tube:{coin}")
        if fault == "clear":
            self.tube_faults.pop(coin, None)
            return
        if fault not in TUBE_FAULTS:
            raise ValueError(f"tube:{coin}: unknown fault {fault!r}; known {sorted(TUBE_FAULTS)}")
        self.tube_faults.setdefault(coin, set()).add(fault)

    def on_clear(self) -> None:
        self.tube_faults.clear()

    # --- the bus -----------------------------------------------------------------------

    def power_reset(self) -> None:
        self._advance()
        self._payout = None
        self._reg["items"] = []
        self._reg["just_reset"] = True
        self._reg["accept"] = 0
        self.world.save()

    def handle(self, cmd: int, data: bytes) -> bytes:
        self._advance()
        if cmd == RESET:
            self.power_reset()
            return b""
        if cmd == SETUP:
            credits = [c // SCALING for c in self.coins] + [0] * (16 - len(self.coins))
            return bytes([3, 0x19, 0x78, SCALING, 2]) + self.tube_mask.to_bytes(2, "big") \
                + bytes(credits)
        if cmd == TUBE_STATUS:
            return self._tube_status()
        if cmd == POLL:
            return self._poll()
        if cmd == COIN_TYPE and len(data) == 4:
            accept = int.from_bytes(data[:2], "big")
            if accept != self._reg["accept"]:
                self._reg["accept"] = accept
                self.world.save()
            return b""
        if cmd == DISPENSE and len(data) == 1:
            self._start_payout({data[0] & 0x0F: data[0] >> 4})
            return b""
        if cmd == EXPANSION and data:
            return self._expansion(data[0], data[1:])
        raise NoAnswer

    def _tube_status(self) -> bytes:
        full, counts = 0, []
        for t, coin in enumerate(self.coins):
            count = self.tube(coin)
            if "jam" in self.tube_faults.get(coin, set()):
                full |= 1 << t  # full and zero: the tube is out of order
                count = 0
            elif count >= self.tube_capacity:
                full |= 1 << t
            counts.append(min(count, 255))
        return full.to_bytes(2, "big") + bytes(counts + [0] * (16 - len(counts)))

    def _poll(self) -> bytes:
        out = bytearray()
        if self._reg.get("just_reset"):
            self._reg["just_reset"] = False
            out.append(JUST_RESET)
        items = self._reg["items"]
        assert isinstance(items, list)
        while items and len(out) + len(bytes.fromhex(items[0])) <= 15:
            out += bytes.fromhex(items.pop(0))
        if out:
            self.world.save()  # only when the registers moved: an idle POLL writes nothing
        if self._payout is not None:
            out.append(PAYOUT_BUSY)
        return bytes(out)

    def _expansion(self, sub: int, data: bytes) -> bytes:
        if sub == 0:
            return IDENTITY
        if sub == 1:
            return b""
        if sub == 2 and len(data) == 1:
            self._start_payout(self._alternative(data[0] * SCALING))
            return b""
        if sub == 3:
            if self._payout is not None:
                return b""
            counts = list(self._paid_last)
            while len(counts) > 1 and counts[-1] == 0:
                counts.pop()
            return bytes(counts)
        if sub == 4:
            if self._payout is None and not self._value_unpolled:
                return b""
            value, self._value_unpolled = self._value_unpolled, 0
            return bytes([value // SCALING])
        if sub == 5:
            return bytes([0x03, 0x00])
        raise NoAnswer

    # --- payouts --------------------------------------------------------------------

    def _alternative(self, cents: int) -> dict[int, int]:
        plan: dict[int, int] = {}
        for t in sorted(range(len(self.coins)), key=lambda i: -self.coins[i]):
            coin = self.coins[t]
            n = min(cents // coin, self.tube(coin))
            if n:
                plan[t] = n
                cents -= n * coin
        return plan

    def _start_payout(self, plan: dict[int, int]) -> None:
        queue: list[int] = []
        for t, n in plan.items():
            if t >= len(self.coins):
                continue
            coin = self.coins[t]
            if "jam" in self.tube_faults.get(coin, set()):
                self._queue(bytes([0x07]))
                continue
            if "short_pay" in self.faults:
                n = max(0, n - 1)
            queue += [t] * n
        self._paid_last = [0] * len(self.coins)
        self._payout = _Paying(queue)

    def _advance(self) -> None:
        payout = self._payout
        if payout is None:
            return
        queue = payout.queue
        due = int((time.monotonic() - payout.started) / self.coin_s)
        while queue and payout.paid < due:
            t = queue.pop(0)
            coin = self.coins[t]
            payout.paid += 1
            if "empty" in self.tube_faults.get(coin, set()) or not self.tube(coin):
                continue
            with self.world.lock, self.world.one_save():
                self.world.hoppers[coin] -= 1
                self.world.return_coin(coin)
            self._paid_last[t] += 1
            self._value_unpolled += coin
        if not queue:
            self._payout = None
