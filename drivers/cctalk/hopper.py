"""The ccTalk payout hopper driver.

``CctalkHopper`` pays coins of one value: enable (164 A5), dispense (167, sent
once, never blindly repeated, security bytes as ``hopper_models.py`` says),
then poll the status (166) every 100 ms until nothing remains, reporting coins
as they are counted; a short pay is explained with test hopper (163).  A NAK or
BUSY to a dispense is a refusal (nothing paid, whatever the event counter
does).  Only a missing or corrupt reply is ambiguous: the status read before
decides, and a lifetime dispense count (168, read before each dispense)
settles exactly what left, also across a hopper lost or reset mid-payout;
without it, what the status cannot tell is reported uncertain, never guessed.

At start-up the driver identifies the hopper as hosts do (``identity.py``
and its coin, 171), learns whether it answers 168, and resets it (header 1)
when its test flags say power-up or an opto fault; ``prepare_payout`` does
the same before each payout.

Not modelled: encrypted dispenses (refused at config time), payout by value, motor reverse.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Literal

from drivers.base import CoinPaidHook, Hopper, HopperStatus, PayoutResult, dispense_accepted
from drivers.cctalk.frame import Header
from drivers.cctalk.hopper_flags import (
    FLAG_MAX_CURRENT,
    FLAG_MOTOR_REVERSED,
    FLAG_OPTO_BLOCKED_PAYOUT,
    FLAG_PAYOUT_DISABLED,
    FLAG_PAYOUT_TIMEOUT,
    OPTO_FLAGS,
    RESET_FLAGS,
    describe_test_flags,
    fault_from_test_flags,
)
from drivers.cctalk.hopper_models import HOPPER_MODELS, SECURITY_MODES, HopperModel, Security
from drivers.cctalk.identity import read_identity
from drivers.cctalk.link import CctalkLink
from drivers.errors import (
    DeviceBusy,
    DeviceLost,
    DeviceNak,
    HardwareError,
    HopperFault,
    ProtocolError,
)

__all__ = [
    "ENABLE_KEY", "FLAG_MAX_CURRENT", "FLAG_MOTOR_REVERSED", "FLAG_OPTO_BLOCKED_PAYOUT",
    "FLAG_PAYOUT_DISABLED", "FLAG_PAYOUT_TIMEOUT", "HOPPER_MODELS", "SECURITY_MODES",
    "CctalkHopper", "HopperModel", "Security", "fault_from_test_flags",
]

log = logging.getLogger(__name__)

MAX_PER_COMMAND = 255
ENABLE_KEY = 0xA5
CIPHER_KEY_LEN = 8
DISPENSE_REPLY_LENS = frozenset({0, 1})  # plain ACK (SCH1-style) or the event counter
MIN_STATUS_POLL_S = 0.1  # docs/hardware.md: poll the status every 100 ms or slower
COUNT_LEN = 3  # 168: 3 bytes, least significant first
COUNT_MODULO = 1 << 24
RESET_SETTLE_S = 0.25  # a Flow ACKs a reset up to 90 ms late, then ~130 ms silent


class _NothingPaid(Exception):
    """Internal: this dispense command certainly paid nothing."""

    def __init__(self, cause: HardwareError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class CctalkHopper(Hopper):
    """One ccTalk hopper of ``coin_cents`` coins on a shared ``CctalkLink``.

    ``counter_moves_on_refusal``: True for hoppers that move their event
    counter on a refused dispense too (Flow; the safe default), False for
    those that move it only on a dispense they take (SCH2, SCH1-style).
    """

    def __init__(self, link: CctalkLink, *, address: int, coin_cents: int,
                 security: Security = "serial", status_poll_interval_s: float = MIN_STATUS_POLL_S,
                 dispense_timeout_s: float = 5.0, late_coin_window_s: float = 0.5,
                 redispense_attempts: int = 2, counter_moves_on_refusal: bool = True,
                 reset_settle_s: float = RESET_SETTLE_S, name: str | None = None) -> None:
        if security not in SECURITY_MODES:
            raise ValueError(f"security must be serial, zero or none (encrypted dispense is "
                             f"not supported), not {security!r}")
        if reset_settle_s < 0:
            raise ValueError("reset_settle_s must be >= 0")
        if status_poll_interval_s <= 0 or dispense_timeout_s <= 0 or late_coin_window_s < 0:
            raise ValueError("poll interval and dispense timeout > 0, late window >= 0")
        if not 2 <= address <= 255 or coin_cents < 0 or redispense_attempts < 0:
            raise ValueError(f"ccTalk device address {address} must be 2..255, coin_cents and "
                             "redispense_attempts >= 0")
        self.link = link
        self.address = address
        self.coin_cents = coin_cents
        self.security: Security = security
        self.status_poll_interval_s = status_poll_interval_s
        self.dispense_timeout_s = dispense_timeout_s
        self.late_coin_window_s = late_coin_window_s
        self.redispense_attempts = redispense_attempts
        self.counter_moves_on_refusal = counter_moves_on_refusal
        self.reset_settle_s = reset_settle_s
        self.name = name or f"hopper:{coin_cents}"
        self.serial_number = b""
        self.has_dispense_count = False  # learnt at start: the hopper answers 168
        self._count_before: int | None = None  # 168 before the dispense under way

    # --- Hopper ---------------------------------------------------------------

    async def start(self) -> None:
        """Identify the hopper, learn whether it counts coins (168), reset it
        when a flag asks for it."""
        await self.link.request(self.address, Header.SIMPLE_POLL, reply_len=0)
        self.identity = await read_identity(self.link, self.address,
                                            {"coinId": Header.HOPPER_COIN})
        serial = self.identity.serial_number
        self.serial_number = b"" if serial is None else int(serial).to_bytes(3, "little")
        if self.security == "serial" and not self.serial_number:
            raise ProtocolError(f"{self.name} gives no serial number, which its dispense needs")
        self.has_dispense_count = True
        self.has_dispense_count = await self.dispense_count() is not None
        await self.prepare_payout()
        log.info("%s: %s, serial %s, dispense count %s", self.name,
                 self.identity.product_code, serial,
                 "kept" if self.has_dispense_count else "not kept")

    async def poll(self) -> None:
        """Simple poll (254): is the hopper there?"""
        await self.link.request(self.address, Header.SIMPLE_POLL, reply_len=0)

    async def dispense_count(self) -> int | None:
        """Coins paid over the hopper's life (168); None when it keeps no count."""
        if not self.has_dispense_count:
            return None
        try:
            raw = await self.link.request(self.address, Header.DISPENSE_COUNT,
                                          reply_len=COUNT_LEN)
        except DeviceNak:
            return None
        return int.from_bytes(raw, "little")

    async def prepare_payout(self) -> None:
        """Reset the hopper when its flags want it (power-up, an opto flag);
        HopperFault when an opto flag outlives the reset (the exit is blocked)."""
        flags = await self.test_flags()
        first = flags[0] if flags else 0
        if not first & RESET_FLAGS or (await self.status()).remaining:
            return  # never reset a hopper still paying: its figures tell what it paid
        log.info("%s: test flags %s (%s): resetting", self.name, flags.hex(),
                 "; ".join(describe_test_flags(flags)))
        await self.reset()
        flags = await self.test_flags()
        if flags and flags[0] & OPTO_FLAGS:
            raise HopperFault(f"{self.name}: {'; '.join(describe_test_flags(flags))} after "
                              "a reset: clear the coin exit")

    async def reset(self) -> None:
        """Reset (header 1), then let the hopper come back."""
        await self.link.request(self.address, Header.RESET_DEVICE, reply_len=0)
        await asyncio.sleep(self.reset_settle_s)

    async def status(self) -> HopperStatus:
        data = await self.link.request(self.address, Header.HOPPER_STATUS, reply_len=4)
        return HopperStatus(counter=data[0], remaining=data[1], paid=data[2], unpaid=data[3])

    async def test_flags(self) -> bytes:
        """The raw test hopper (163) flags."""
        return await self.link.request(self.address, Header.TEST_HOPPER)

    async def dispense(self, count: int, *, on_paid: CoinPaidHook | None = None) -> PayoutResult:
        """Pay ``count`` coins, at most 255 per dispense command."""
        if count < 0:
            raise ValueError("count must be >= 0")
        paid = 0
        while paid < count:
            chunk = min(MAX_PER_COMMAND, count - paid)
            try:
                part = await self._dispense_chunk(chunk, paid, on_paid)
            except _NothingPaid as exc:
                if paid == 0:
                    raise exc.cause from None
                return PayoutResult(count, paid, fault=exc.cause.code)
            paid += part.paid
            if part.fault is not None or part.paid < chunk:
                return PayoutResult(count, paid, part.fault or "short_pay", part.certain)
        return PayoutResult(count, paid)

    async def emergency_stop(self) -> HopperStatus:
        """Stop the motor, wait for a late coin, and read the final status."""
        try:
            unpaid = await self.link.request(self.address, Header.EMERGENCY_STOP, reply_len=1)
            log.warning("%s: emergency stop, %d coin(s) not paid", self.name, unpaid[0])
        except (DeviceNak, DeviceBusy, ProtocolError) as exc:
            log.error("%s: emergency stop refused: %s", self.name, exc)
        await asyncio.sleep(self.late_coin_window_s)
        return await self.status()

    async def close(self) -> None:
        """Disable the hopper (best effort); the link belongs to its owner."""
        with contextlib.suppress(HardwareError):
            await self.link.request(self.address, Header.ENABLE_HOPPER, b"\x00",
                                    retries=1, reply_len=0)

    # --- one dispense command -------------------------------------------------

    async def _dispense_chunk(self, count: int, base: int,
                              on_paid: CoinPaidHook | None) -> PayoutResult:
        try:
            before = await self.status()
            if before.remaining:
                raise HopperFault(f"{self.name} is still paying an earlier dispense")
            self._count_before = await self.dispense_count()
            await self.link.request(self.address, Header.ENABLE_HOPPER, bytes((ENABLE_KEY,)),
                                    reply_len=0)
        except HardwareError as exc:
            raise _NothingPaid(exc) from exc
        sent = await self._send_dispense(count, before)
        if isinstance(sent, PayoutResult):
            return await self._counted(sent)
        return await self._counted(await self._follow(count, sent, base, on_paid))

    async def _counted(self, result: PayoutResult) -> PayoutResult:
        """An uncertain result made exact by the lifetime count, when there is one
        and the hopper answers (it has stopped: nothing remains)."""
        if result.certain or self._count_before is None:
            return result
        try:
            status = await self.status()
            if status.remaining:
                status = await self.emergency_stop()
            now = await self.dispense_count()
        except HardwareError as exc:
            log.error("%s: coins paid not countable now: %s", self.name, exc)
            return result
        if now is None:
            return result
        paid = min((now - self._count_before) % COUNT_MODULO, result.requested)
        log.warning("%s: %s; the dispense count says %d coin(s) paid", self.name,
                    result.fault, paid)
        fault = None if paid >= result.requested else (
            result.fault if result.fault != "dispense_unknown" else "short_pay")
        return PayoutResult(result.requested, paid, fault)

    async def _security_bytes(self) -> bytes:
        """The bytes before the count; ``zero`` first pumps the RNG (161) and asks
        for a cipher key (160), as SCH2 hosts do; ``none`` sends no bytes."""
        if self.security == "serial":
            return self.serial_number
        if self.security == "none":
            return b""
        await self.link.request(self.address, Header.PUMP_RNG, bytes(CIPHER_KEY_LEN),
                                reply_len=0)
        await self.link.request(self.address, Header.REQUEST_CIPHER_KEY,
                                reply_len=CIPHER_KEY_LEN)
        return bytes(CIPHER_KEY_LEN)

    async def _send_dispense(self, count: int, before: HopperStatus) -> int | PayoutResult | None:
        """Send the dispense once (again only when it certainly never arrived).

        The hopper's event counter for it (None: a plain ACK, read it from the
        first status), or a result when nothing more can be known.  Raises
        _NothingPaid when the dispense was refused or never sent."""
        last: HardwareError = DeviceLost("no attempt")
        for _ in range(1 + self.redispense_attempts):
            try:
                data = await self._security_bytes() + bytes((count,))
            except HardwareError as exc:
                raise _NothingPaid(exc) from exc
            try:
                reply = await self.link.request(self.address, Header.DISPENSE_COINS, data,
                                                retries=0, reply_len=DISPENSE_REPLY_LENS)
                return reply[0] if reply else None
            except (DeviceNak, DeviceBusy) as exc:
                # a well-formed refusal: nothing paid, whatever the counter does
                log.warning("%s: dispense of %d refused: %s", self.name, count, exc)
                raise _NothingPaid(exc) from exc
            except (DeviceLost, ProtocolError) as exc:
                last = exc
            outcome = await self._after_lost_reply(count, before, last)
            if outcome != "resend":
                return outcome
            log.warning("%s: dispense not received (%s); sending it again", self.name, last)
        raise _NothingPaid(last)

    async def _after_lost_reply(self, count: int, before: HopperStatus,
                                cause: HardwareError) -> int | PayoutResult | Literal["resend"]:
        """A missing or corrupt reply: the status decides whether it was taken."""
        status = await self._status_or_none()
        if status is None:
            return PayoutResult(count, 0, fault="device_lost", certain=False)
        if status.counter == before.counter:
            return "resend"  # every model moves its counter on a dispense it takes
        if status.counter == 0:  # reset since the status before: what it did is lost
            return PayoutResult(count, 0, fault="device_reset", certain=False)
        if not self.counter_moves_on_refusal:
            return status.counter  # (SCH2, SCH1) a moved counter is a taken dispense
        accepted = dispense_accepted(before, status, count)
        if accepted:
            return status.counter
        if accepted is False:
            raise _NothingPaid(DeviceNak(f"{self.name} refused the dispense ({cause})"))
        # the counter moved and the figures repeat the last payout's: a refusal
        # (on hoppers that count refusals) and a finished payout look the same
        log.error("%s: dispense reply lost (%s) and the status reads like the last payout's: "
                  "taken or refused cannot be told", self.name, cause)
        return PayoutResult(count, 0, fault="dispense_unknown", certain=False)

    async def _status_or_none(self) -> HopperStatus | None:
        try:
            return await self.status()
        except HardwareError as exc:
            log.error("%s: status unknown: %s", self.name, exc)
            return None

    async def _follow(self, count: int, counter: int | None, base: int,
                      on_paid: CoinPaidHook | None) -> PayoutResult:
        """Poll status until the hopper is done; the driver keeps its own tally."""
        loop = asyncio.get_running_loop()
        paid = 0
        last_progress = loop.time()
        while True:
            await asyncio.sleep(self.status_poll_interval_s)
            try:
                status = await self.status()
            except DeviceLost:
                return PayoutResult(count, paid, fault="device_lost", certain=False)
            except HardwareError as exc:
                log.warning("%s: status refused during payout: %s", self.name, exc)
                if loop.time() - last_progress > self.dispense_timeout_s:
                    return await self._stop_stuck(count, paid, base, on_paid)
                continue
            if counter is None:
                counter = status.counter  # a plain ACK: the first status tells it
            if status.counter != counter:
                log.error("%s: counter %d became %d mid payout", self.name, counter,
                          status.counter)
                return PayoutResult(count, paid, fault="device_reset", certain=False)
            if status.paid > paid:
                paid = min(status.paid, count)
                last_progress = loop.time()
                await self._report(on_paid, base + paid)
            if status.remaining == 0:
                break
            if loop.time() - last_progress > self.dispense_timeout_s:
                return await self._stop_stuck(count, paid, base, on_paid)
        if paid < count:
            paid = await self._late_coins(count, paid, base, on_paid)
        if paid < count:
            return PayoutResult(count, paid, fault=await self._diagnose())
        return PayoutResult(count, paid)

    async def _late_coins(self, count: int, paid: int, base: int,
                          on_paid: CoinPaidHook | None) -> int:
        """A coin in flight can still exit after the motor stopped: look once more."""
        await asyncio.sleep(self.late_coin_window_s)
        status = await self._status_or_none()
        if status is not None and status.paid > paid:
            paid = min(status.paid, count)
            await self._report(on_paid, base + paid)
        return paid

    async def _stop_stuck(self, count: int, paid: int, base: int,
                          on_paid: CoinPaidHook | None) -> PayoutResult:
        log.error("%s: no coin for %.1f s; stopping", self.name, self.dispense_timeout_s)
        try:
            final = await self.emergency_stop()
        except HardwareError:
            return PayoutResult(count, paid, fault="device_lost", certain=False)
        if final.paid > paid:
            paid = min(final.paid, count)
            await self._report(on_paid, base + paid)
        fault = await self._diagnose()
        return PayoutResult(count, paid, fault="timeout" if fault == "short_pay" else fault)

    async def _diagnose(self) -> str:
        try:
            flags = await self.test_flags()
        except HardwareError as exc:
            log.error("%s: test hopper failed: %s", self.name, exc)
            return "short_pay"
        fault = fault_from_test_flags(flags)
        log.error("%s: short pay, test hopper flags %s (%s) -> %s", self.name, flags.hex(),
                  "; ".join(describe_test_flags(flags)) or "none", fault)
        return fault

    async def _report(self, on_paid: CoinPaidHook | None, total: int) -> None:
        if on_paid is None:
            return
        try:
            await on_paid(total)
        except Exception:
            log.exception("%s: on_paid hook failed", self.name)
