"""A simulated ccTalk payout hopper, byte-exact on the bus.

It answers serial number (242), test hopper (163), enable (164), dispense
(167), status (166), emergency stop (172), reset (1), the identity and
information requests its model implements (``hopper_info.py``: 246, 244,
241, 4, 192, 168, 171, 217, 236, 247) and, for models that need it, pump RNG
(161) and request cipher key (160).  Test flags: "power-up" (bit 6) is set
from power-up until a reset command (header 1); the opto flags (bits 3 to 5)
stay set until a reset, and the hopper refuses every dispense while one is.
Its ``model`` (``simulators.cctalk.hopper_models``: ``flow``, ``sch2``,
``sch1``, ``plain``) selects the security bytes, whether a refused
dispense (NAK: not enabled, wrong security bytes, no cipher key, still
paying) moves the event counter, the dispense reply (event counter or plain
ACK) and the length of the test hopper reply.  Coins leave ``world.hoppers[coin]`` one by one every
``coin_interval_s`` into the coin cup.  A hopper that cannot pay a coin stops
after ``stall_timeout_s`` with ``unpaid`` set and a test flag, and clears
``unpaid`` again ``unpaid_clear_s`` later.  Registers live in the saved world,
and a payout interrupted by a process restart resumes, as the physical hopper
would keep running.

Extra faults: ``empty`` (no coin comes out: payout timeout flag), ``jam``
(jams after ``jam_after`` coins: max-current flag), ``short_pay`` (the last
coin of a dispense is not paid, no flag), ``late_coin`` (one coin still exits
after an emergency stop), ``refuse`` (every dispense is NAKed, the counter
moving as the model does on a refusal), ``self_clear_jam`` (the motor
reverses once to clear a jam and pays on; the "motor reversed" flag stays
latched until a reset), ``opto`` (the exit opto path is blocked at idle: bit
3, set again by every reset while the fault stands).  Not modelled:
encrypted dispense, the real hopper's multi-second timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar

from drivers.cctalk.frame import Header
from drivers.cctalk.hopper import ENABLE_KEY
from drivers.cctalk.hopper_flags import (
    FLAG_MAX_CURRENT,
    FLAG_MOTOR_REVERSED,
    FLAG_OPTO_BLOCKED_IDLE,
    FLAG_PAYOUT_DISABLED,
    FLAG_PAYOUT_TIMEOUT,
    FLAG_POWER_UP,
    OPTO_FLAGS,
)
from simulators.cctalk.device import Reply, SimCctalkDevice
from simulators.cctalk.hopper_info import info_reply
from simulators.cctalk.hopper_models import DEFAULT_HOPPER_MODEL, Security, hopper_model
from simulators.world import SimWorld

# kept until a reset, not cleared by a dispense
LATCHED_FLAGS = FLAG_MOTOR_REVERSED | FLAG_POWER_UP | OPTO_FLAGS
CIPHER_KEY_LEN = 8


def default_serial(address: int) -> bytes:
    """Serial numbers distinct per address; address 3 gets DF D7 0A."""
    return (0x0AD7DF + address - 3).to_bytes(3, "little")


class SimCctalkHopper(SimCctalkDevice):
    """A hopper of ``coin_cents`` coins at ``address``."""

    category: ClassVar[str] = "Payout"
    FAULTS: ClassVar[frozenset[str]] = SimCctalkDevice.FAULTS | {
        "empty", "jam", "short_pay", "late_coin", "refuse", "self_clear_jam", "opto"}

    def __init__(self, world: SimWorld, *, address: int, coin_cents: int,
                 model: str = DEFAULT_HOPPER_MODEL, security: Security | None = None,
                 serial_number: bytes | None = None,
                 coin_interval_s: float = 0.015, stall_timeout_s: float = 0.05,
                 unpaid_clear_s: float = 2.0, late_coin_s: float = 0.01, jam_after: int = 1,
                 name: str | None = None, reply_delay_s: float = 0.002,
                 slow_delay_s: float = 0.5, low_level: int = 10,
                 high_level: int = 190) -> None:
        self.coin_cents = coin_cents
        self.model = hopper_model(model)
        self.security: Security = security or self.model.security
        self.serial_number = serial_number or default_serial(address)
        self.coin_interval_s = coin_interval_s
        self.stall_timeout_s = stall_timeout_s
        self.unpaid_clear_s = unpaid_clear_s
        self.late_coin_s = late_coin_s
        self.jam_after = jam_after
        self.low_level = low_level  # coins at or below: the low level plate is uncovered
        self.high_level = high_level  # coins at or above: the hopper reads full
        self._task: asyncio.Task[None] | None = None
        self._clear_unpaid: asyncio.TimerHandle | None = None
        super().__init__(world, address=address, name=name or f"hopper:{coin_cents}",
                         reply_delay_s=reply_delay_s, slow_delay_s=slow_delay_s)
        self.identity_replies = dict(self.model.identity)

    def power_up_registers(self) -> dict[str, Any]:
        return {"counter": 0, "remaining": 0, "paid": 0, "unpaid": 0,
                "enabled": False, "flags": FLAG_POWER_UP, "cipher_key": False,
                "dispense_count": 0}

    @property
    def dispense_count(self) -> int:
        """Coins paid over the hopper's life (kept through resets)."""
        return int(self.registers.get("dispense_count", 0))

    # --- registers ----------------------------------------------------------------

    def reg(self, key: str) -> int:
        return int(self.registers[key])

    def _update(self, **values: Any) -> None:
        with self.world.lock:
            self.registers.update(values)
            self.save()

    def status_bytes(self) -> bytes:
        return bytes(self.reg(k) for k in ("counter", "remaining", "paid", "unpaid"))

    # --- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        if self.reg("remaining") > 0:
            self.record("event", "resuming an interrupted payout")
            self._start_payout()

    async def close(self) -> None:
        if self._clear_unpaid is not None:
            self._clear_unpaid.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def power_reset(self) -> None:
        """Power-up values, but the lifetime count (non-volatile); the power-up
        flag set, and the opto flag while the path is still blocked."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        count = self.dispense_count
        super().power_reset()
        self._update(dispense_count=count, flags=FLAG_POWER_UP | self._standing_opto())

    def _reset_command(self) -> None:
        """Header 1: a reset that the host asked for clears the power-up flag."""
        self.power_reset()
        self._update(flags=self._standing_opto())

    def _standing_opto(self) -> int:
        return FLAG_OPTO_BLOCKED_IDLE if "opto" in self.faults else 0

    def on_fault(self, fault: str) -> None:
        if fault == "opto":
            self._update(flags=self.reg("flags") | FLAG_OPTO_BLOCKED_IDLE)

    # --- the bus side -------------------------------------------------------------

    def answer(self, header: int, data: bytes) -> Reply | None:
        if header == Header.SERIAL_NUMBER and not data:
            return Header.ACK, self.serial_number
        if header == Header.HOPPER_STATUS and not data:
            return Header.ACK, self.status_bytes()
        if header == Header.TEST_HOPPER and not data:
            return Header.ACK, self._test_flags()
        if header == Header.PUMP_RNG and len(data) == CIPHER_KEY_LEN and \
                self.model.cipher_key_required:
            return Header.ACK, b""
        if header == Header.REQUEST_CIPHER_KEY and not data and self.model.cipher_key_required:
            self._update(cipher_key=True)
            return Header.ACK, bytes(self._rng.randrange(256) for _ in range(CIPHER_KEY_LEN))
        if header in self.model.answers and not data:
            return Header.ACK, self._info(header)
        if header == Header.ENABLE_HOPPER and len(data) == 1:
            self._update(enabled=data[0] == ENABLE_KEY)
            return Header.ACK, b""
        if header == Header.DISPENSE_COINS:
            return self._dispense(data)
        if header == Header.EMERGENCY_STOP and not data:
            return Header.ACK, bytes((self._emergency_stop(),))
        if header == Header.RESET_DEVICE and not data:
            self._reset_command()
            return Header.ACK, b""
        return super().answer(header, data)

    def _info(self, header: int) -> bytes:
        reply = info_reply(header, coin_cents=self.coin_cents,
                           dispense_count=self.dispense_count,
                           coins=self.world.hoppers.get(self.coin_cents, 0),
                           low_level=self.low_level, high_level=self.high_level,
                           variables=self.model.variables)
        assert reply is not None  # every header of ``answers`` has a reply
        return reply

    def on_refused(self, header: int, data: bytes) -> None:
        if header == Header.DISPENSE_COINS and self.model.counter_on_refusal:
            self._bump_counter()

    def _test_flags(self) -> bytes:
        disabled = 0 if self.registers["enabled"] else FLAG_PAYOUT_DISABLED
        first = bytes((self.reg("flags") | disabled,))
        return first + bytes(self.model.test_reply_len - 1)

    def _bump_counter(self) -> int:
        counter = self.reg("counter")
        counter = 1 if counter >= 255 else counter + 1
        self._update(counter=counter)
        return counter

    def _security_ok(self, key: bytes) -> bool:
        """Serial-number security wants the serial; SCH2 "no encryption" any 8
        bytes (after a cipher key request); a plain hopper none at all."""
        if self.security == "serial":
            return key == self.serial_number
        if self.security == "zero":
            return len(key) == CIPHER_KEY_LEN
        return key == b""

    def _refusal(self, data: bytes) -> str | None:
        """Why this dispense is refused, or None when it is taken."""
        had_key = bool(self.registers.get("cipher_key"))
        if had_key:
            self._update(cipher_key=False)  # one key per dispense
        if "refuse" in self.faults:
            return "refuse fault"
        if not data or not self._security_ok(data[:-1]):
            return "security bytes"
        if self.model.cipher_key_required and not had_key:
            return "no cipher key requested"
        if self.reg("flags") & OPTO_FLAGS:
            return "opto flags set: a reset is needed first"
        if not self.registers["enabled"] or self.reg("remaining") > 0:
            return "disabled or busy"
        return None

    def _dispense(self, data: bytes) -> Reply:
        refusal = self._refusal(data)
        if refusal is not None:
            self.on_refused(Header.DISPENSE_COINS, data)
            self.record("event", f"dispense refused: {refusal}")
            return Header.NAK, b""
        counter = self._bump_counter()
        if self._clear_unpaid is not None:
            self._clear_unpaid.cancel()
        self._update(remaining=data[-1], paid=0, unpaid=0,
                     flags=self.reg("flags") & LATCHED_FLAGS)
        self.record("event", f"dispense {data[-1]} (counter {counter})")
        if data[-1]:
            self._start_payout()
        return Header.ACK, bytes((counter,)) if self.model.dispense_reply_counter else b""

    def _emergency_stop(self) -> int:
        not_paid = self.reg("remaining")
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._update(remaining=0, unpaid=self.reg("unpaid") + not_paid, enabled=False)
        self.record("event", f"emergency stop, {not_paid} not paid")
        if not_paid and "late_coin" in self.faults:
            asyncio.get_running_loop().call_later(self.late_coin_s, self._late_coin)
        self._schedule_unpaid_clear()
        return not_paid

    def _late_coin(self) -> None:
        with self.world.lock:
            count = self.dispense_count
            self.registers.update(dispense_count=count + 1)
            if not self.world.take_coin_from_hopper(self.coin_cents):  # saves both
                self.registers.update(dispense_count=count)
                return
        self._update(paid=self.reg("paid") + 1, unpaid=max(0, self.reg("unpaid") - 1))
        self.record("event", "late coin after emergency stop")

    # --- the motor ----------------------------------------------------------------

    def _start_payout(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._pay(), name=f"{self.name}-pay")

    async def _pay(self) -> None:
        while self.reg("remaining") > 0:
            await asyncio.sleep(self.coin_interval_s)
            if "jam" in self.faults and self.reg("paid") >= self.jam_after:
                await self._stall(FLAG_MAX_CURRENT)
                return
            if "self_clear_jam" in self.faults and not self.reg("flags") & FLAG_MOTOR_REVERSED:
                self._update(flags=self.reg("flags") | FLAG_MOTOR_REVERSED)
                self.record("event", "jam cleared by reversing the motor")
            if "short_pay" in self.faults and self.reg("remaining") == 1:
                self._stop_short(0)
                return
            if "empty" in self.faults or not self._pay_one_coin():
                await self._stall(FLAG_PAYOUT_TIMEOUT)
                return
            self.record("event", f"paid coin {self.reg('paid')}")
        self._task = None

    def _pay_one_coin(self) -> bool:
        """One coin from the world's hopper to the cup and the registers, one save."""
        with self.world.lock:
            before = self.reg("remaining"), self.reg("paid")
            count = self.dispense_count
            self.registers.update(remaining=before[0] - 1, paid=before[1] + 1,
                                  dispense_count=count + 1)
            if self.world.take_coin_from_hopper(self.coin_cents):  # saves both
                return True
            self.registers.update(remaining=before[0], paid=before[1], dispense_count=count)
            return False

    async def _stall(self, flag: int) -> None:
        await asyncio.sleep(self.stall_timeout_s)
        self._stop_short(flag)

    def _stop_short(self, flag: int) -> None:
        remaining = self.reg("remaining")
        self._update(remaining=0, unpaid=remaining, flags=self.reg("flags") | flag)
        self.record("event", f"stopped short, {remaining} unpaid, flags {flag:#04x}")
        self._task = None
        self._schedule_unpaid_clear()

    def _schedule_unpaid_clear(self) -> None:
        loop = asyncio.get_running_loop()
        self._clear_unpaid = loop.call_later(self.unpaid_clear_s, self._forget_unpaid)

    def _forget_unpaid(self) -> None:
        """Real hoppers clear ``unpaid`` after a while; the host must keep its own record."""
        self._update(unpaid=0)
        self.record("event", "unpaid cleared")
