"""Sim control: what a test or the web front panel does to the simulated machine.

Coins into the slot, keys on the keypad, a card at the reader, a bill into the
validator, the tray and coin cup emptied, faults injected: each through the
simulated hardware, so the machine meets it on its real driver path.  Sim mode
only (the API answers 404 on hardware).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from controller.errors import NotFound, ValidationError
from simulators.gpio.spiral import SPIRAL_FAULTS
from simulators.machine import KEYS, MachineView, SimulatedMachine
from simulators.mdb.rig import feed_bill

MAX_CARD_FUNDS = 0xFFFE  # FFFF says "unknown" on the bus


class SimControl:
    """The ``/sim/*`` endpoints: hands on the simulated machine."""

    def __init__(self, simulated_machine: SimulatedMachine, machine: MachineView) -> None:
        self.simulated_machine = simulated_machine  # the simulated devices and world
        self._machine = machine

    async def insert_coin(self, coin: int) -> dict[str, Any]:
        if not isinstance(coin, int) or isinstance(coin, bool) or coin <= 0:
            raise ValidationError("coin must be a positive integer", fields={"coin": "invalid"})
        slot = self.simulated_machine.coin_slot
        assert slot is not None
        # One coin slot: coins go in one after the other, each counted before the
        # next (a real acceptor validates a coin in a few hundred ms and buffers
        # only five events between polls).
        async with self.simulated_machine.coin_lock:
            with contextlib.suppress(TimeoutError):
                # The customer waits for the machine to take coins again (after a
                # sale, or the inhibits the last coin's credit called for).
                await asyncio.wait_for(self._machine.acceptor_synced(), 2.0)
            credited = self._machine.next_coin_credited()
            result = await slot.insert(coin)
            if result == "accepted":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(credited, 2.0)
        credit = await self._machine.panel_credit()
        return {"coin": coin, "result": result, "credit": credit, **self.state()}

    async def press(self, keys: str) -> dict[str, Any]:
        if not isinstance(keys, str) or not keys or any(k not in KEYS for k in keys):
            raise ValidationError("keys are 0-9, A-D, * and #", fields={"keys": "invalid"})
        assert self.simulated_machine.gpio is not None
        await self.simulated_machine.gpio.keypad.press(keys)
        await self._machine.settled()
        return self.state()

    def state(self) -> dict[str, Any]:
        world, gpio = self.simulated_machine.world, self.simulated_machine.gpio
        assert world is not None and gpio is not None
        bills = self.simulated_machine.mdb.bills if self.simulated_machine.mdb else None
        extra: dict[str, Any] = {"returnedBills": bills.returned()} if bills is not None else {}
        reader = self.simulated_machine.reader
        if reader is not None:
            extra["card"] = reader.card_state()
        return {"display": [line.rstrip() for line in gpio.lcd.lines], "tray": list(world.tray),
                "returned": list(world.cup), "state": self._machine.fsm_state, **extra}

    async def present_card(self, funds: int) -> dict[str, Any]:
        """A card with ``funds`` cents at the simulated reader (a new session); returns
        once the machine saw it (or 2 s passed)."""
        if not isinstance(funds, int) or isinstance(funds, bool) \
                or not 0 <= funds <= MAX_CARD_FUNDS:
            raise ValidationError(f"funds must be an integer from 0 to {MAX_CARD_FUNDS}",
                                  fields={"funds": "invalid"})
        reader = self.simulated_machine.reader
        if reader is None:
            raise NotFound("this machine has no card reader ([cashless] kind = \"mdb\")")
        reader.present_card(funds)
        for _ in range(200):
            if self._machine.card_present():
                break
            await asyncio.sleep(0.01)
        return self.state()

    async def take_tray(self) -> dict[str, Any]:
        assert self.simulated_machine.world is not None
        tray, cup = self.simulated_machine.world.take_tray()
        bills = self.simulated_machine.mdb.bills if self.simulated_machine.mdb else None
        extra = {"returnedBills": bills.take_returned()} if bills is not None else {}
        return {"tray": tray, "returned": cup, **extra}

    async def insert_bill(self, bill: int) -> dict[str, Any]:
        """A bill into the simulated validator; answers once it is stacked or returned."""
        bills = self.simulated_machine.mdb.bills if self.simulated_machine.mdb else None
        if bills is None:
            raise NotFound("this machine has no bill validator")
        if not isinstance(bill, int) or isinstance(bill, bool) or bill <= 0:
            raise ValidationError("bill must be a positive integer", fields={"bill": "invalid"})
        async with self.simulated_machine.coin_lock:
            before = bills.stacker_value()
            result = await feed_bill(bills, bill, self._machine.panel_credit)
        await self._machine.settled()
        stacked = result == "escrow" and bills.stacker_value() > before
        return {"bill": bill, "result": "stacked" if stacked else "returned",
                "credit": await self._machine.panel_credit(), **self.state()}

    def fault_menu(self) -> dict[str, list[str]]:
        """The faults each simulated device takes ("clear" aside), for the web panel."""
        hw = self.simulated_machine
        menu: dict[str, list[str]] = {}
        names = [] if hw.config.acceptor.kind == "mdb" else [
            "acceptor", *(f"hopper:{h.coin_cents}" for h in hw.config.hoppers)]
        names += hw.mdb.names() if hw.mdb is not None else []
        for name in names:
            with contextlib.suppress(KeyError):
                menu[name] = sorted(set(hw.device_named(name).FAULTS) - {"clear"})
        menu["slot"] = [f for f in SPIRAL_FAULTS if f != "clear"]
        return menu

    async def inject_fault(self, device: str, fault: str) -> dict[str, Any]:
        hw = self.simulated_machine
        assert hw.gpio is not None
        try:
            if fault in ("hang", "clear") and self._line_hook(device, fault):
                pass
            elif device.startswith("slot:"):
                hw.gpio.spirals.inject(device[5:], fault)
            elif device in ("acceptor", "changer", "bills", "reader") or device.startswith(
                    ("hopper:", "tube:")):
                hw.device_named(device).inject(fault)  # every coin device takes "clear" too
            else:
                raise ValueError(f"unknown device {device!r}")
        except (ValueError, KeyError) as exc:
            message = str(exc.args[0]) if exc.args else str(exc)
            field = "fault" if "fault" in message else "device"
            raise ValidationError(message, fields={field: message}) from None
        assert hw.world is not None
        hw.world.note_fault(device, fault)  # part of the world: kept until cleared
        return {"device": device, "fault": fault}

    def _line_hook(self, device: str, fault: str) -> bool:
        """The watchdog test hook (simulators/cctalk/hang.py): True when it took ``fault``."""
        cfg, link = self.simulated_machine.config, self.simulated_machine.link
        addresses = {f"hopper:{h.coin_cents}": h.address for h in cfg.hoppers
                     if h.kind == "cctalk"}
        if cfg.acceptor.kind == "cctalk":
            addresses["acceptor"] = cfg.acceptor.address
        address = addresses.get(device)
        if link is None or address is None:
            if fault == "hang":
                raise ValueError(f"fault 'hang' needs a ccTalk device, not {device!r}")
            return False
        if fault == "hang":
            link.hang(address)
            return True
        link.release(address)
        return False  # "clear" also clears the device's own faults
