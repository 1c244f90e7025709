"""A simulated ccTalk coin acceptor, byte-exact on the bus.

It answers identification (simple poll, category, and the identity requests
its model implements: 246, 244, 242, 241, 4, 192), coin id, inhibit (231, read back with 230),
master inhibit (228, read back with 227), buffered credit (229) and reset
(1).  A coin dropped in with ``insert`` is validated against the registers:
an enabled coin is routed into its hopper
or the cashbox (``world.route_coin``) and buffered as a credit event; any
other coin lands in the coin cup with an event code (1 rejected, 2
inhibited).  The event counter is 0 after power-up or reset, then runs
1..255 and wraps to 1.  Registers live in the saved world.  ``model``
selects how the variant differs (``acceptor_models.py``): positions, the
unused coin id, master inhibit, sorter paths, what survives a reset.

Extra faults: ``jam`` (the credit sensor is blocked: coins come back with
event 14).  Not modelled: sorter path commands (the path only shows in the credit),
teach mode, bill validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from controller.money import COINS_CENTS
from drivers.cctalk.acceptor_models import DEFAULT_ACCEPTOR_MODEL
from drivers.cctalk.coins import EVENT_PAIRS, value_from_coin_id
from drivers.cctalk.frame import Header
from simulators.cctalk.acceptor_models import SimAcceptorModel, acceptor_model
from simulators.cctalk.device import Reply, SimCctalkDevice
from simulators.world import SimWorld

InsertResult = Literal["accepted", "rejected", "inhibited"]

EVENT_REJECTED = 1
EVENT_INHIBITED = 2
EVENT_CREDIT_SENSOR_BLOCKED = 14


class SimCctalkAcceptor(SimCctalkDevice):
    """A coin acceptor at ``address`` with coin ids at positions 1..n."""

    category: ClassVar[str] = "Coin Acceptor"
    FAULTS: ClassVar[frozenset[str]] = SimCctalkDevice.FAULTS | {"jam"}

    def __init__(self, world: SimWorld, *, address: int = 2,
                 coins: Sequence[int] = COINS_CENTS,
                 coin_ids: Sequence[str] | None = None, name: str = "acceptor",
                 serial_number: bytes = b"\x01\x02\x03", reply_delay_s: float = 0.002,
                 slow_delay_s: float = 0.5,
                 model: str = DEFAULT_ACCEPTOR_MODEL) -> None:
        self.model: SimAcceptorModel = acceptor_model(model)
        self.coin_ids: list[str] = list(coin_ids or [f"EU{c:03d}A" for c in coins])
        if len(self.coin_ids) > self.model.positions:
            raise ValueError(f"a {model} acceptor has {self.model.positions} coin positions")
        self.serial_number = serial_number
        super().__init__(world, address=address, name=name, reply_delay_s=reply_delay_s,
                         slow_delay_s=slow_delay_s)
        self.identity_replies = dict(self.model.identity)

    def power_up_registers(self) -> dict[str, Any]:
        return {"counter": 0, "events": [[0, 0]] * EVENT_PAIRS,
                "inhibit": [0, 0], "master": 0}

    # --- registers ----------------------------------------------------------------

    @property
    def counter(self) -> int:
        return int(self.registers["counter"])

    @property
    def inhibit_mask(self) -> int:
        """16 bits, bit 0 = position 1, 1 = enabled."""
        lo, hi = self.registers["inhibit"]
        return int(lo) | int(hi) << 8

    @property
    def master_enabled(self) -> bool:
        """Master inhibit in normal operation (always, on a model without one)."""
        return not self.model.master_inhibit or bool(int(self.registers["master"]) & 1)

    def accepts(self, coin_cents: int) -> bool:
        """Whether a genuine coin of this value would be accepted now."""
        position = self.position_of(coin_cents)
        return (position is not None and self.master_enabled
                and bool(self.inhibit_mask & (1 << (position - 1))))

    def set_counter(self, counter: int) -> None:
        """Put the event counter where a long-running device would have it."""
        with self.world.lock:
            self.registers["counter"] = counter
            self.save()

    def buffer(self) -> bytes:
        """The 229 reply data: counter, then five [A][B] pairs newest first."""
        flat = [int(x) for pair in self.registers["events"] for x in pair]
        return bytes([self.counter, *flat])

    def _push(self, a: int, b: int) -> None:
        with self.world.lock:
            counter = self.counter
            self.registers["counter"] = 1 if counter >= 255 else counter + 1
            self.registers["events"] = [[a, b], *self.registers["events"][:EVENT_PAIRS - 1]]
            self.save()
        self.record("event", f"buffer {a},{b} counter {self.counter}")

    # --- the physical side ---------------------------------------------------------

    def position_of(self, coin_cents: int) -> int | None:
        for index, coin_id in enumerate(self.coin_ids):
            if value_from_coin_id(coin_id) == coin_cents:
                return index + 1
        return None

    def insert(self, coin_cents: int) -> InsertResult:
        """A coin dropped into the slot: accepted, rejected or inhibited."""
        self.record("event", f"insert {coin_cents}")
        position = self.position_of(coin_cents)
        if "jam" in self.faults:
            return self._refuse(coin_cents, EVENT_CREDIT_SENSOR_BLOCKED, "rejected")
        if position is None:
            return self._refuse(coin_cents, EVENT_REJECTED, "rejected")
        if not self.accepts(coin_cents):
            return self._refuse(coin_cents, EVENT_INHIBITED, "inhibited")
        with self.world.one_save():  # the coin and its credit event, or neither
            where = self.world.route_coin(coin_cents)
            to_hopper, to_cashbox = self.model.sorter_paths
            self._push(position, to_hopper if where == "hopper" else to_cashbox)
        self.record("event", f"accepted {coin_cents} to {where}")
        return "accepted"

    def _refuse(self, coin_cents: int, code: int, result: InsertResult) -> InsertResult:
        with self.world.one_save():
            self.world.return_coin(coin_cents)
            self._push(0, code)
        self.record("event", f"{result} {coin_cents} (event {code})")
        return result

    def inject_event(self, code: int, *, position: int = 0) -> None:
        """Buffer an event: A = 0 with code B (reject, fraud, return lever,
        alarm ...), or a credit at ``position`` with sorter path ``code``."""
        if not 0 <= code <= 255 or not 0 <= position <= 255:
            raise ValueError("event bytes are 0..255")
        self._push(position, code)

    def power_reset(self) -> None:
        """Back to power-up values, but for what this model keeps through a reset."""
        keys = (["inhibit", "master"] if self.model.keeps_inhibits_at_reset else []) + (
            [] if self.model.clears_buffer_at_reset else ["events"])
        kept = {key: self.registers[key] for key in keys if key in self.registers}
        super().power_reset()
        if kept:
            with self.world.lock:
                self.registers.update(kept)
                self.save()

    def on_fault(self, fault: str) -> None:
        if fault == "jam":
            self._push(0, EVENT_CREDIT_SENSOR_BLOCKED)

    # --- the bus side --------------------------------------------------------------

    def answer(self, header: int, data: bytes) -> Reply | None:
        if header == Header.COIN_ID and len(data) == 1:
            return self._coin_id(data[0])
        if header == Header.MODIFY_INHIBIT_STATUS and len(data) == 2:
            return self._set("inhibit", [data[0], data[1]])
        if header == Header.MODIFY_MASTER_INHIBIT and len(data) == 1:
            return self._set("master", data[0] & 1) if self.model.master_inhibit else None
        if header == Header.REQUEST_INHIBIT_STATUS and not data:
            return Header.ACK, bytes(int(b) for b in self.registers["inhibit"])
        if header == Header.REQUEST_MASTER_INHIBIT and not data and self.model.master_inhibit:
            return Header.ACK, bytes((int(self.registers["master"]),))
        if header == Header.READ_BUFFERED_CREDIT and not data:
            return Header.ACK, self.buffer()
        if header == Header.SERIAL_NUMBER and not data:
            return Header.ACK, self.serial_number
        if header == Header.RESET_DEVICE and not data:
            self.power_reset()
            return Header.ACK, b""
        return super().answer(header, data)

    def _coin_id(self, position: int) -> Reply | None:
        fitted = 1 <= position <= self.model.positions
        if not fitted and self.model.nak_beyond_positions:
            return None
        coin_id = self.coin_ids[position - 1] if 1 <= position <= len(self.coin_ids) else ""
        return Header.ACK, coin_id.encode("ascii") if coin_id else self.model.unused_coin_id

    def _set(self, key: str, value: Any) -> Reply:
        with self.world.lock:
            if self.registers[key] != value:
                self.registers[key] = value
                self.save()
        return Header.ACK, b""
