"""The built-in simulated machine: real drivers on simulated devices.

The ccTalk acceptor and hoppers are simulated byte-exactly on one
pseudo-terminal bus that the real ``CctalkLink`` opens by path (made only when
a ccTalk device is configured); the spiral motors, cam and drop sensor, the
keypad, the LCD and any pulse acceptor or pulse hopper (``kind = "pulse"`` in
the config) are simulated on one factory of gpiozero mock pins that the real
GPIO drivers drive.  So the code path of a coin, a vend or a payout is the
hardware one, down to the bytes and pin levels.

The physical state (coins in hoppers and cashbox, products in spirals, the
tray, the coin cup, device registers) lives in a SimWorld saved beside the
database, so a killed and restarted process finds the machine as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from controller import journal, money
from controller.config import Config
from controller.errors import ValidationError
from drivers.base import CoinAcceptor, Devices, Hopper
from drivers.cctalk.acceptor import CctalkCoinAcceptor
from drivers.cctalk.frame import ChecksumMode
from drivers.cctalk.hopper import HOPPER_MODELS, CctalkHopper, Security
from drivers.cctalk.link import CctalkLink, EchoMode
from simulators.cctalk.acceptor import SimCctalkAcceptor
from simulators.cctalk.bus import SimCctalkBus
from simulators.cctalk.device import SimCctalkDevice
from simulators.cctalk.factory import build_cctalk_bus
from simulators.gpio.machine_pins import GpioMachine, MachinePins, SimTimings, build_gpio_machine
from simulators.gpio.pins import sim_pin_factory
from simulators.gpio.pulse_machine import (
    CoinSlot,
    FaultTarget,
    PulseDevices,
    PulseTimings,
    build_pulse_devices,
    check_pins,
)
from simulators.gpio.spiral import SPIRAL_FAULTS
from simulators.world import SimWorld

if TYPE_CHECKING:
    from controller.machine import Machine

log = logging.getLogger(__name__)

KEYS = set("0123456789ABCD*#")
SETTLE_TIMEOUT_S = 15.0


class _CctalkCoinSlot:
    """The coin slot of the simulated ccTalk acceptor."""

    def __init__(self, acceptor: SimCctalkAcceptor) -> None:
        self._acceptor = acceptor

    async def insert(self, coin: int) -> str:
        return self._acceptor.insert(coin)


class SimulatedMachine:
    """Builds the simulated devices and the real drivers on top of them."""

    def __init__(self, config: Config, db_path: Path) -> None:
        check_pins(config)  # a config error, before anything is started
        self.config = config
        self.world_path = db_path.with_name(db_path.name + ".world.json")
        self.machine: Machine | None = None
        self.world: SimWorld | None = None
        self.bus: SimCctalkBus | None = None
        self.gpio: GpioMachine | None = None
        self.pulse: PulseDevices | None = None
        self.coin_slot: CoinSlot | None = None
        self.coin_lock = asyncio.Lock()  # one coin slot: one coin at a time
        self.on_world_change: Callable[[], None] | None = None  # wired by the composition root

    def attach(self, machine: Machine) -> None:
        self.machine = machine
        machine.sim = SimControl(self, machine)

    async def build(self) -> tuple[Devices, SimulatedMachine]:
        cfg = self.config
        assert self.machine is not None
        seeded = await self.machine.store.run(
            lambda db: db.conn.execute("SELECT value FROM meta WHERE key = 'seeded'").fetchone())
        world = SimWorld.load_or_create(
            self.world_path if self.world_path.exists() else None,
            coins=[h.coin_cents for h in cfg.hoppers], slots=cfg.slots.codes,
            hopper_fill=cfg.sim.hopper_fill, hopper_capacity=max(cfg.hopper_capacity.values()))
        if world.device("db").get("seeded") != (seeded[0] if seeded else None):
            # A new database: the machine it describes is a new one too.
            world = SimWorld.load_or_create(
                None, coins=[h.coin_cents for h in cfg.hoppers], slots=cfg.slots.codes,
                hopper_fill=cfg.sim.hopper_fill,
                hopper_capacity=max(cfg.hopper_capacity.values()))
            world.device("db")["seeded"] = seeded[0] if seeded else None
        world.path = self.world_path
        world.on_change = self.on_world_change
        world.save()
        self.world = world
        devices = await self._build_devices(world)
        return devices, self

    async def _build_devices(self, world: SimWorld) -> Devices:
        cfg = self.config
        speed = cfg.sim.speed
        cctalk_hoppers = [h for h in cfg.hoppers if h.kind == "cctalk"]
        cctalk_acceptor = cfg.acceptor.kind == "cctalk"
        closers: list[Callable[[], Awaitable[None]]] = []
        acceptor: CoinAcceptor | None = None
        hoppers: dict[int, Hopper] = {}
        if cctalk_acceptor or cctalk_hoppers:
            bus = build_cctalk_bus(
                world, coins=[h.coin_cents for h in cfg.hoppers],
                acceptor_address=cfg.acceptor.address if cctalk_acceptor else None,
                hopper_addresses={h.coin_cents: h.address for h in cctalk_hoppers},
                hopper_models={h.coin_cents: h.model for h in cctalk_hoppers},
                coin_interval_s=0.015 / speed)
            await bus.start()
            self.bus = bus
            link = CctalkLink(bus.port, echo=cast(EchoMode, cfg.acceptor.echo),
                              checksum=cast(ChecksumMode, cfg.acceptor.checksum),
                              reply_timeout_s=0.05, retries=2)
            await link.start()
            closers.append(link.close)
            if cctalk_acceptor:
                assert bus.acceptor is not None
                self.coin_slot = _CctalkCoinSlot(bus.acceptor)
                acceptor = CctalkCoinAcceptor(
                    link, address=cfg.acceptor.address,
                    poll_interval_s=cfg.acceptor.poll_interval_s,
                    lost_poll_interval_s=0.5)
            hoppers.update({h.coin_cents: CctalkHopper(
                link, address=h.address, coin_cents=h.coin_cents,
                security=cast(Security, h.security), status_poll_interval_s=0.01,
                counter_moves_on_refusal=HOPPER_MODELS[h.model].counter_moves_on_refusal,
                dispense_timeout_s=3.0, late_coin_window_s=0.05) for h in cctalk_hoppers})
        mo, kp, lcd = cfg.motors, cfg.keypad, cfg.lcd
        pins = MachinePins(
            spiral_rows=tuple(mo.row_pins), spiral_row_names=cfg.slots.rows,
            spiral_columns=tuple(mo.column_pins), cam=mo.cam_pin, drop=mo.drop_pin,
            keypad_rows=tuple(kp.row_pins), keypad_columns=tuple(kp.column_pins),
            lcd_rs=lcd.rs_pin, lcd_e=lcd.e_pin, lcd_data=tuple(lcd.data_pins))
        t = SimTimings()
        timings = replace(t, leave_home_s=t.leave_home_s / speed, turn_s=t.turn_s / speed,
                          fall_s=t.fall_s / speed, nudges=mo.nudges)
        factory = sim_pin_factory()  # one factory: spirals, keypad, LCD and pulse devices
        gpio = build_gpio_machine(world, pins=pins, timings=timings, factory=factory)
        self.gpio = gpio
        pulse = build_pulse_devices(cfg, world, factory, PulseTimings.for_speed(speed))
        self.pulse = pulse
        await gpio.start_simulators()
        await pulse.start_simulators()
        if pulse.acceptor is not None:
            assert pulse.coin_slot is not None
            acceptor, self.coin_slot = pulse.acceptor, pulse.coin_slot
        hoppers.update(pulse.hoppers)
        assert acceptor is not None
        spirals, keypad, display = gpio.spirals, gpio.keypad, gpio.display
        self._restore_faults(world)
        ordered = {h.coin_cents: hoppers[h.coin_cents] for h in cfg.hoppers}
        return Devices(acceptor=acceptor, hoppers=ordered, spirals=spirals, keypad=keypad,
                       display=display, extra_closers=closers)

    def _restore_faults(self, world: SimWorld) -> None:
        """Faults injected before a restart are still there (until ``clear``)."""
        for device, faults in world.injected_faults().items():
            try:
                if device.startswith("slot:"):
                    assert self.gpio is not None
                    for fault in faults:
                        self.gpio.sim_spirals.inject(device[5:], fault)
                    continue
                target = self.device_named(device)
            except (KeyError, ValueError) as exc:
                log.warning("saved fault of %s not restored: %s", device, exc)
                continue
            if isinstance(target, SimCctalkDevice):
                target.restore_faults(faults)
            else:
                for fault in faults:
                    target.inject(fault)
            log.info("simulated %s still has %s", device, ", ".join(faults))

    def device_named(self, name: str) -> FaultTarget:
        """The simulated coin device called ``name`` ("acceptor", "hopper:50")."""
        if self.pulse is not None:
            target = self.pulse.device_named(name)
            if target is not None:
                return target
        if self.bus is not None:
            return self.bus.device_named(name)
        raise KeyError(f"no device {name!r}")

    # --- SimHooks for the Machine ------------------------------------------

    def load_spiral(self, slot: str, name: str, count: int) -> None:
        assert self.world is not None
        self.world.load_spiral(slot, name, count)

    def set_hopper(self, coin: int, count: int) -> None:
        assert self.world is not None
        self.world.set_hopper(coin, count)

    def empty_cashbox(self) -> None:
        assert self.world is not None
        self.world.empty_cashbox()

    async def insert_for_claim(self, coin: int) -> str:
        assert self.coin_slot is not None
        async with self.coin_lock:
            return await self.coin_slot.insert(coin)

    async def close(self) -> None:
        if self.bus is not None:
            await self.bus.close()
        if self.pulse is not None:
            await self.pulse.close()
        if self.gpio is not None:
            await self.gpio.close()


class SimControl:
    """The ``/sim/*`` endpoints: hands on the simulated machine."""

    def __init__(self, sim: SimulatedMachine, machine: Machine) -> None:
        self._sim = sim
        self._machine = machine

    async def _settle(self) -> None:
        """Wait until the machine has finished what the last action started."""
        m = self._machine
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        await asyncio.sleep(0.02)
        while time.monotonic() < deadline:
            busy = [t for t in m._tasks if t.get_name().startswith(("panel-", "sell", "payout"))]
            if not busy and not m._mechanism.locked():
                return
            await asyncio.sleep(0.02)

    async def insert_coin(self, coin: int) -> dict[str, Any]:
        if not money.is_int(coin) or coin <= 0:
            raise ValidationError("coin must be a positive integer", fields={"coin": "invalid"})
        slot = self._sim.coin_slot
        assert slot is not None
        # One coin slot: coins go in one after the other, each counted before the
        # next (a real acceptor validates a coin in a few hundred ms and buffers
        # only five events between polls).
        async with self._sim.coin_lock:
            with contextlib.suppress(TimeoutError):
                # The customer waits for the machine to take coins again (after a
                # sale, or the inhibits the last coin's credit called for).
                await asyncio.wait_for(self._machine.acceptor_synced(), 2.0)
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._machine._coin_waiters.append(waiter)
            result = await slot.insert(coin)
            if result == "accepted":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter, 2.0)
        credit = await self._machine.store.run(lambda db: journal.get_credit(db, journal.PANEL))
        return {"coin": coin, "result": result, "credit": credit, **self.state()}

    async def press(self, keys: str) -> dict[str, Any]:
        if not isinstance(keys, str) or not keys or any(k not in KEYS for k in keys):
            raise ValidationError("keys are 0-9, A-D, * and #", fields={"keys": "invalid"})
        assert self._sim.gpio is not None
        await self._sim.gpio.sim_keypad.press(keys)
        await self._settle()
        return self.state()

    def state(self) -> dict[str, Any]:
        world, gpio = self._sim.world, self._sim.gpio
        assert world is not None and gpio is not None
        return {"display": [line.rstrip() for line in gpio.sim_lcd.lines], "tray": list(world.tray),
                "returned": list(world.cup), "state": self._machine.model.state.value}

    async def take_tray(self) -> dict[str, Any]:
        assert self._sim.world is not None
        tray, cup = self._sim.world.take_tray()
        return {"tray": tray, "returned": cup}

    def fault_menu(self) -> dict[str, list[str]]:
        """The faults each simulated device takes ("clear" aside), for the web panel."""
        sim = self._sim
        menu: dict[str, list[str]] = {}
        for name in ["acceptor", *(f"hopper:{h.coin_cents}" for h in sim.config.hoppers)]:
            with contextlib.suppress(KeyError):
                menu[name] = sorted(set(sim.device_named(name).FAULTS) - {"clear"})
        menu["slot"] = [f for f in SPIRAL_FAULTS if f != "clear"]
        return menu

    async def inject_fault(self, device: str, fault: str) -> dict[str, Any]:
        sim = self._sim
        assert sim.gpio is not None
        try:
            if device.startswith("slot:"):
                sim.gpio.sim_spirals.inject(device[5:], fault)
            elif device == "acceptor" or device.startswith("hopper:"):
                target = sim.device_named(device)
                target.inject(fault)  # every coin device takes "clear" too
            else:
                raise ValueError(f"unknown device {device!r}")
        except (ValueError, KeyError) as exc:
            message = str(exc.args[0]) if exc.args else str(exc)
            field = "fault" if "fault" in message else "device"
            raise ValidationError(message, fields={field: message}) from None
        assert sim.world is not None
        sim.world.note_fault(device, fault)  # part of the world: kept until cleared
        return {"device": device, "fault": fault}

    @property
    def simulated_machine(self) -> SimulatedMachine:
        """The simulated devices and world behind this machine."""
        return self._sim
