"""The built-in simulated machine: simulated devices behind the real drivers.

The ccTalk acceptor and hoppers are simulated byte-exactly on one
pseudo-terminal bus that the real ``CctalkLink`` opens by path (made only when
a ccTalk device is configured); the spiral motors, cam and drop sensor, the
keypad, the LCD and any pulse acceptor or pulse hopper (``kind = "pulse"`` in
the config) are simulated on one factory of gpiozero mock pins.  The machine
builds its real drivers on those ports from its config, exactly as on a Pi
(``controller.devices``), so the code path of a coin, a vend or a payout is
the hardware one, down to the bytes and pin levels.

The physical state (coins in hoppers and cashbox, products in spirals, the
tray, the coin cup, device registers) lives in a SimWorld saved beside the
database, so a killed and restarted process finds the machine as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from controller.config import Config
from controller.devices import CctalkTimings, DevicePorts, GpioTimings, MdbTimings
from drivers.cctalk.link import CctalkLink
from simulators.cctalk.acceptor import SimCctalkAcceptor
from simulators.cctalk.bus import SimCctalkBus
from simulators.cctalk.device import SimCctalkDevice
from simulators.cctalk.factory import build_cctalk_bus
from simulators.cctalk.hang import HangableLink
from simulators.gpio.machine_pins import (
    GpioSimulators,
    MachinePins,
    SimTimings,
    build_gpio_simulators,
)
from simulators.gpio.pins import sim_pin_factory
from simulators.gpio.pulse_machine import (
    CoinSlot,
    FaultTarget,
    PulseSimulators,
    PulseTimings,
    build_pulse_simulators,
)
from simulators.mdb.reader import SimCashlessReader
from simulators.mdb.rig import SimMdbRig
from simulators.world import SimWorld

log = logging.getLogger(__name__)
KEYS = frozenset("0123456789ABCD*#")
CUSTOMER_WAIT_S = 5.0  # how long the simulated buyer waits at the machine


class MachineView(Protocol):
    """What the simulated customers and the sim control use of the Machine (public only)."""

    @property
    def fsm_state(self) -> str: ...

    def quiet(self) -> asyncio.Lock: ...

    def require_in_service(self) -> None: ...

    async def acceptor_synced(self) -> None: ...

    def next_coin_credited(self) -> asyncio.Future[None]: ...

    async def settled(self) -> None: ...

    async def panel_credit(self) -> int: ...

    def card_present(self) -> bool: ...


class _CctalkCoinSlot:
    """The coin slot of the simulated ccTalk acceptor."""

    def __init__(self, acceptor: SimCctalkAcceptor) -> None:
        self._acceptor = acceptor

    async def insert(self, coin: int) -> str:
        return self._acceptor.insert(coin)


class SimulatedMachine:
    """The simulated hardware of a config: world, buses, pins and simulated devices.

    It is the Machine's ``Hardware`` (``controller.hardware``): ``open`` starts the
    simulators and hands over the ports the drivers are built on.
    """

    def __init__(self, config: Config, db_path: Path) -> None:
        self.config = config
        self.world_path = db_path.with_name(db_path.name + ".world.json")
        self.world: SimWorld | None = None
        self.bus: SimCctalkBus | None = None
        self.gpio: GpioSimulators | None = None
        self.pulse: PulseSimulators | None = None
        self.coin_slot: CoinSlot | None = None
        self.link: HangableLink | None = None  # the watchdog test hook (simulators/cctalk/hang.py)
        self.mdb: SimMdbRig | None = None  # the MDB board and devices, when configured
        self.coin_lock = asyncio.Lock()  # one coin slot: one coin at a time
        self.on_world_change: Callable[[], None] | None = None  # wired by the composition root
        self.machine: MachineView | None = None
        self.claim_walk_s = 0.0
        """How long the simulated buyer of a deposit claim takes to reach the coin slot
        (0: at once; tests raise it to see a claim wait, as it does on hardware)."""

    @property
    def reader(self) -> SimCashlessReader | None:
        """The simulated card reader, when the config has one."""
        return self.mdb.reader if self.mdb is not None else None

    @property
    def customer(self) -> SimulatedMachine:
        return self  # the simulated buyer brings each claimed coin

    async def open(self, database_id: str | None) -> DevicePorts:
        world = self._load_world(database_id)
        self.world = world
        factory = sim_pin_factory()  # one factory: spirals, keypad, LCD and pulse devices
        port = await self._start_cctalk(world)
        mdb_port = await self._start_mdb(world)
        self._start_gpio(world, factory)
        assert self.gpio is not None and self.pulse is not None
        await self.gpio.start()
        await self.pulse.start()
        mdb_port = await self._start_mdb(world)
        self._restore_faults(world)
        return DevicePorts(pin_factory=factory, cctalk_port=port, cctalk_link=self._make_link,
                           cctalk=SIM_CCTALK_TIMINGS, gpio=self._gpio_timings(),
                           mdb_port=mdb_port, mdb=SIM_MDB_TIMINGS)

    async def _start_mdb(self, world: SimWorld) -> str | None:
        cfg = self.config
        if cfg.acceptor.kind != "mdb" and cfg.bills is None and not cfg.cashless.enabled:
            return None
        self.mdb = SimMdbRig(world, coins=[h.coin_cents for h in cfg.hoppers],
                             changer=cfg.acceptor.kind == "mdb", bills=cfg.bills is not None,
                             tube_capacity=cfg.mdb.tube_capacity, coin_s=0.03 / cfg.sim.speed,
                             reader=cfg.cashless.enabled)
        await self.mdb.start()
        if self.mdb.coin_slot is not None:
            self.coin_slot = self.mdb.coin_slot
        return self.mdb.port

    def _make_link(self, port: str, **options: Any) -> CctalkLink:
        """The machine's ccTalk link: the real one, able to hang on request."""
        self.link = HangableLink(port, **options)
        return self.link

    def _load_world(self, database_id: str | None) -> SimWorld:
        cfg = self.config
        shape: dict[str, Any] = dict(
            coins=[h.coin_cents for h in cfg.hoppers], slots=cfg.slots.codes,
            hopper_fill=cfg.sim.hopper_fill, hopper_capacity=max(cfg.hopper_capacity.values()))
        world = SimWorld.load_or_create(self.world_path if self.world_path.exists() else None,
                                        **shape)
        if world.device("db").get("seeded") != database_id:
            # A new database: the machine it describes is a new one too.
            world = SimWorld.load_or_create(None, **shape)
            world.device("db")["seeded"] = database_id
        world.path = self.world_path
        world.on_change = self.on_world_change
        world.save()
        return world

    async def _start_cctalk(self, world: SimWorld) -> str | None:
        cfg = self.config
        cctalk_hoppers = [h for h in cfg.hoppers if h.kind == "cctalk"]
        cctalk_acceptor = cfg.acceptor.kind == "cctalk"
        if not cctalk_acceptor and not cctalk_hoppers:
            return None
        bus = build_cctalk_bus(
            world, coins=[h.coin_cents for h in cfg.hoppers],
            acceptor_address=cfg.acceptor.address if cctalk_acceptor else None,
            hopper_addresses={h.coin_cents: h.address for h in cctalk_hoppers},
            hopper_models={h.coin_cents: h.model for h in cctalk_hoppers},
            acceptor_model=cfg.acceptor.model,
            coin_interval_s=0.015 / cfg.sim.speed)
        await bus.start()
        self.bus = bus
        if bus.acceptor is not None:
            self.coin_slot = _CctalkCoinSlot(bus.acceptor)
        return bus.port

    def _start_gpio(self, world: SimWorld, factory: Any) -> None:
        cfg = self.config
        mo, kp, lcd = cfg.motors, cfg.keypad, cfg.lcd
        pins = MachinePins(
            spiral_rows=tuple(mo.row_pins), spiral_row_names=cfg.slots.rows,
            spiral_columns=tuple(mo.column_pins), cam=mo.cam_pin, drop=mo.drop_pin,
            keypad_rows=tuple(kp.row_pins), keypad_columns=tuple(kp.column_pins),
            lcd_rs=lcd.rs_pin, lcd_e=lcd.e_pin, lcd_data=tuple(lcd.data_pins))
        self.gpio = build_gpio_simulators(world, pins=pins, timings=self._sim_timings(),
                                          factory=factory)
        a = cfg.acceptor
        self.pulse = build_pulse_simulators(
            world, factory, PulseTimings.for_speed(cfg.sim.speed),
            acceptor_pins=(a.pulse_pin, a.inhibit_pin) if a.kind == "pulse"
            and a.pulse_pin is not None and a.inhibit_pin is not None else None,
            hopper_pins={h.coin_cents: (h.motor_pin, h.sensor_pin) for h in cfg.hoppers
                         if h.kind == "pulse" and h.motor_pin is not None
                         and h.sensor_pin is not None})
        if self.pulse.coin_slot is not None:
            self.coin_slot = self.pulse.coin_slot

    def _sim_timings(self) -> SimTimings:
        t, speed = SimTimings(), self.config.sim.speed
        return replace(t, leave_home_s=t.leave_home_s / speed, turn_s=t.turn_s / speed,
                       fall_s=t.fall_s / speed, nudges=self.config.motors.nudges)

    def _gpio_timings(self) -> GpioTimings:
        t, p = self._sim_timings(), PulseTimings.for_speed(self.config.sim.speed)
        return GpioTimings(
            leave_home_timeout_s=t.leave_home_timeout_s, turn_timeout_s=t.turn_timeout_s,
            drop_wait_s=t.drop_wait_s, key_scan_s=t.key_scan_s, lcd_power_on_delay_s=0.001,
            lcd_byte_delay_s=0.0, pulse_min_s=p.pulse_min_s, pulse_max_s=p.pulse_max_s,
            train_gap_s=p.train_gap_s, acceptor_retry_s=0.2, coin_timeout_s=p.coin_timeout_s,
            late_coin_s=p.late_coin_s, exit_pulse_min_s=p.exit_pulse_min_s,
            exit_pulse_max_s=p.exit_pulse_max_s)

    def _restore_faults(self, world: SimWorld) -> None:
        """Faults injected before a restart are still there (until ``clear``)."""
        for device, faults in world.injected_faults().items():
            try:
                if device.startswith("slot:"):
                    assert self.gpio is not None
                    for fault in faults:
                        self.gpio.spirals.inject(device[5:], fault)
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
        if self.mdb is not None and name in self.mdb.names():
            return self.mdb.device_named(name)
        if self.bus is not None:
            return self.bus.device_named(name)
        raise KeyError(f"no device {name!r}")

    async def close(self) -> None:
        if self.bus is not None:
            await self.bus.close()
        if self.mdb is not None:
            await self.mdb.close()
        if self.pulse is not None:
            await self.pulse.close()
        if self.gpio is not None:
            await self.gpio.close()

    # --- what an operator does to the physical machine ------------------------

    def spiral_loaded(self, slot: str, name: str, count: int) -> None:
        assert self.world is not None
        self.world.load_spiral(slot, name, count)

    def hopper_counted(self, coin: int, count: int) -> None:
        assert self.world is not None
        self.world.set_hopper(coin, count)

    def cashbox_emptied(self) -> None:
        assert self.world is not None
        self.world.empty_cashbox()

    # --- the simulated buyer of a deposit claim -------------------------------

    async def insert_for_claim(self, coin: int) -> str:
        assert self.coin_slot is not None
        async with self.coin_lock:
            return await self.coin_slot.insert(coin)

    async def bring_coin(self, coin: int, credited: asyncio.Future[int]) -> None:
        """The buyer puts the coin in once.  A coin the acceptor refuses (jam,
        inhibit) never arrives: the claim then waits, like on hardware, for its full
        time or a coin from /sim/coin."""
        machine = self.machine
        assert machine is not None
        if self.claim_walk_s > 0:
            await asyncio.wait({credited}, timeout=self.claim_walk_s)
        if credited.done():  # cancelled, timed out, or someone else's coin came first
            return
        async with machine.quiet():
            machine.require_in_service()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(machine.acceptor_synced(), CUSTOMER_WAIT_S)
            if credited.done() or await self.insert_for_claim(coin) != "accepted":
                return
            await asyncio.wait({credited}, timeout=CUSTOMER_WAIT_S)


SIM_MDB_TIMINGS = MdbTimings(reset_retry_s=0.5, non_response_s=0.5, coin_s=0.5,
                             start_grace_s=0.1, poll_interval_s=0.02)
SIM_CCTALK_TIMINGS = CctalkTimings(reply_timeout_s=0.05, retries=2, lost_poll_interval_s=0.5,
                                   status_poll_interval_s=0.01, dispense_timeout_s=3.0,
                                   late_coin_window_s=0.05, reset_settle_s=0.01)

