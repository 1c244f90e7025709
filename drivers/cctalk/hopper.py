"""The ccTalk payout hopper driver.

``CctalkHopper`` pays coins of one value: enable (164 A5), dispense (167, sent
once, never blindly repeated), then poll the status (166) until nothing
remains, reporting coins as they are counted.  A short pay is explained with
test hopper (163).  The hopper's dispense counter (moved by every dispense it
receives, even one it refuses) tells a lost reply from a lost request.

Not modelled: the encrypted dispense variants (cipher keys), payout by value
(multi-coin hoppers), and hopper self-test / motor reverse commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Literal

from drivers.base import CoinPaidHook, Hopper, HopperStatus, PayoutResult, dispense_accepted
from drivers.cctalk.frame import Header
from drivers.cctalk.link import CctalkLink
from drivers.errors import (
    DeviceBusy,
    DeviceLost,
    DeviceNak,
    HardwareError,
    HopperFault,
    ProtocolError,
)

log = logging.getLogger(__name__)

Security = Literal["serial", "zero"]
MAX_PER_COMMAND = 255
ENABLE_KEY = 0xA5

# test hopper (163), first byte
FLAG_MAX_CURRENT = 0x01
FLAG_PAYOUT_TIMEOUT = 0x02
FLAG_MOTOR_REVERSED = 0x04
FLAG_OPTO_BLOCKED_PAYOUT = 0x20
FLAG_PAYOUT_DISABLED = 0x80
JAM_FLAGS = FLAG_MAX_CURRENT | FLAG_MOTOR_REVERSED | FLAG_OPTO_BLOCKED_PAYOUT


class _NothingPaid(Exception):
    """Internal: this dispense command certainly paid nothing."""

    def __init__(self, cause: HardwareError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def fault_from_test_flags(flags: bytes) -> str:
    """Name the cause of a short pay from the test hopper flags."""
    first = flags[0] if flags else 0
    if first & JAM_FLAGS:
        return "jam"
    if first & FLAG_PAYOUT_TIMEOUT:
        return "empty"
    return "short_pay"


class CctalkHopper(Hopper):
    """One ccTalk hopper of ``coin_cents`` coins on a shared ``CctalkLink``."""

    def __init__(self, link: CctalkLink, *, address: int, coin_cents: int,
                 security: Security = "serial", status_poll_interval_s: float = 0.05,
                 dispense_timeout_s: float = 5.0, late_coin_window_s: float = 0.5,
                 redispense_attempts: int = 2, name: str | None = None) -> None:
        if security not in ("serial", "zero"):
            raise ValueError(f"security must be serial or zero, not {security!r}")
        if status_poll_interval_s <= 0 or dispense_timeout_s <= 0 or late_coin_window_s < 0:
            raise ValueError("poll interval and dispense timeout > 0, late window >= 0")
        self.link = link
        self.address = address
        self.coin_cents = coin_cents
        self.security: Security = security
        self.status_poll_interval_s = status_poll_interval_s
        self.dispense_timeout_s = dispense_timeout_s
        self.late_coin_window_s = late_coin_window_s
        self.redispense_attempts = redispense_attempts
        self.name = name or f"hopper:{coin_cents}"
        self.serial_number = b""

    # --- Hopper ---------------------------------------------------------------

    async def start(self) -> None:
        """Check the hopper answers and read its serial number."""
        await self.link.request(self.address, Header.SIMPLE_POLL, reply_len=0)
        self.serial_number = await self.link.request(self.address, Header.SERIAL_NUMBER,
                                                     reply_len=3)
        log.info("%s: serial %s", self.name, self.serial_number.hex())

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
            await self.link.request(self.address, Header.ENABLE_HOPPER, bytes((ENABLE_KEY,)),
                                    reply_len=0)
        except HardwareError as exc:
            raise _NothingPaid(exc) from exc
        sent = await self._send_dispense(count, before)
        if isinstance(sent, PayoutResult):
            return sent
        return await self._follow(count, sent, base, on_paid)

    def _security_bytes(self) -> bytes:
        if self.security == "serial":
            return self.serial_number
        return bytes(8)

    async def _send_dispense(self, count: int, before: HopperStatus) -> int | PayoutResult:
        """Send the dispense; the hopper's counter for it, or the result when the
        hopper was lost (nothing known paid).  Raises _NothingPaid when refused."""
        data = self._security_bytes() + bytes((count,))
        last: HardwareError = DeviceLost("no attempt")
        for _ in range(1 + self.redispense_attempts):
            try:
                reply = await self.link.request(self.address, Header.DISPENSE_COINS, data,
                                                retries=0, reply_len=1)
                return reply[0]
            except (DeviceNak, DeviceLost, DeviceBusy, ProtocolError) as exc:
                last = exc
            status = await self._status_or_none()
            if status is None:
                return PayoutResult(count, 0, fault="device_lost", certain=False)
            if status.counter == before.counter:
                if isinstance(last, DeviceNak):
                    raise _NothingPaid(last)
                log.warning("%s: dispense not received (%s); sending it again", self.name, last)
                continue
            # it arrived: accepted, or refused (the counter moves on a refusal too)
            accepted = dispense_accepted(before, status, count)
            if accepted is None:
                # A refusal (wrong key, disabled) is rare and shows on every dispense;
                # a repeat of the last payout's count is common: take it as taken.
                log.warning("%s: dispense reply lost (%s); the status reads like the last "
                            "payout's, so the dispense is taken as received", self.name, last)
            if accepted is not False:
                return status.counter
            raise _NothingPaid(last if isinstance(last, DeviceNak)
                               else DeviceNak(f"{self.name} refused the dispense"))
        raise _NothingPaid(last)

    async def _status_or_none(self) -> HopperStatus | None:
        try:
            return await self.status()
        except HardwareError as exc:
            log.error("%s: status unknown: %s", self.name, exc)
            return None

    async def _follow(self, count: int, counter: int, base: int,
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
        log.error("%s: short pay, test hopper flags %s -> %s", self.name, flags.hex(), fault)
        return fault

    async def _report(self, on_paid: CoinPaidHook | None, total: int) -> None:
        if on_paid is None:
            return
        try:
            await on_paid(total)
        except Exception:
            log.exception("%s: on_paid hook failed", self.name)
