"""The pulse coin devices of the built-in simulated machine.

A config whose ``[acceptor] kind = "pulse"`` (a CH-926 style acceptor) or
whose hoppers have ``kind = "pulse"`` gets, in sim mode, the real GPIO
drivers (``PulseCoinAcceptor``, ``PulseHopper``) on the simulators
(``SimPulseAcceptor``, ``SimPulseHopper``), all on the one mock pin factory
of the spirals, keypad and LCD (``simulators.gpio.machine_pins``).
Config parsing (``controller.config.pins``) has refused a config that would
use a pin twice or a pin the Pi does not have; the default spirals, keypad
and LCD leave only GPIO14 and 15 free.

Timings are short (a 1.00 coin is a 0.4 s pulse train at speed 1) and scale
with ``[sim] speed``; every length is at least 2 ms, since the mock pins do
not model timing below a millisecond.  The drivers' windows are set around
the simulated pulses with room for event-loop jitter, so a busy loop does
not turn a good pulse into noise or split one coin's train in two.  The
hardware timings of the config (``coin_timeout_s``, ``late_coin_s``) are
not used in sim mode, like the spiral timeouts.

``SimPulseCoinSlot`` is the customer's side of the pulse acceptor for the
sim control: ``insert`` answers ``"accepted"``, ``"rejected"`` (a coin the
acceptor does not know, or a jammed coin path) or ``"inhibited"`` as the
ccTalk simulator does, and it takes the faults ``jam`` and ``clear``.

What it does not model: a fault of the pulse line itself (noise, a stuck
line: see ``SimPulseAcceptor.pulse``), the acceptor's DIP-switch per-coin
inhibit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from gpiozero.pins.mock import MockFactory

from simulators.gpio.pulse_acceptor import SimPulseAcceptor
from simulators.gpio.pulse_hopper import SimPulseHopper
from simulators.world import SimWorld

MIN_S = 0.002  # no simulated pulse, space or interval shorter than this
STRETCH_S = 0.25  # how much a busy event loop may stretch a simulated pulse
STALL_S = 0.15  # ... or a space between the pulses of one train
ACCEPTOR_FAULTS = ("jam",)


class CoinSlot(Protocol):
    """Where the sim control drops a customer's coin."""

    async def insert(self, coin: int) -> str:
        """``"accepted"``, ``"rejected"`` or ``"inhibited"``."""


class FaultTarget(Protocol):
    """A simulated device that takes ``inject(fault)``, ``"clear"`` included."""

    FAULTS: ClassVar[frozenset[str]]  # the faults it takes besides "clear"

    def inject(self, fault: str) -> None: ...


@dataclass(frozen=True, slots=True)
class PulseTimings:
    """Simulated pulse lengths and the driver settings that match them."""

    pulse_s: float  # acceptor: pulse on
    space_s: float  # acceptor: pulse off, between pulses of a train
    pulse_min_s: float  # acceptor driver window
    pulse_max_s: float
    train_gap_s: float
    coin_interval_s: float  # hopper: one coin per interval while the motor runs
    exit_pulse_s: float  # hopper: exit sensor pulse per coin
    late_s: float  # hopper: the late coin of the ``late_coin`` fault
    exit_pulse_min_s: float  # hopper driver window
    exit_pulse_max_s: float
    late_coin_s: float  # hopper driver: counting after the motor stops
    coin_timeout_s: float  # hopper driver: no coin for this long = empty or jammed

    @classmethod
    def for_speed(cls, speed: float) -> PulseTimings:
        def scaled(base_s: float) -> float:
            return max(base_s / speed, MIN_S)

        pulse, space = scaled(0.010), scaled(0.010)
        interval = max(scaled(0.015), 3 * MIN_S)
        exit_pulse = interval / 3
        late = scaled(0.03)
        return cls(
            pulse_s=pulse, space_s=space,
            pulse_min_s=pulse / 2, pulse_max_s=pulse * 2 + STRETCH_S,
            train_gap_s=space * 2 + STALL_S,
            coin_interval_s=interval, exit_pulse_s=exit_pulse, late_s=late,
            exit_pulse_min_s=exit_pulse / 2, exit_pulse_max_s=exit_pulse * 2 + STRETCH_S,
            late_coin_s=late * 2 + 0.04, coin_timeout_s=interval * 10 + 0.5)


class SimPulseCoinSlot:
    """The coin slot of a simulated pulse acceptor, as the sim control sees it."""

    name = "acceptor"
    FAULTS: ClassVar[frozenset[str]] = frozenset(ACCEPTOR_FAULTS)

    def __init__(self, sim: SimPulseAcceptor) -> None:
        self.sim = sim
        self.faults: set[str] = set()

    async def insert(self, coin: int) -> str:
        if "jam" in self.faults or coin not in self.sim.pulses_per_coin:
            self.sim.world.return_coin(coin)
            self.sim.log.add("rejected", str(coin))
            return "rejected"
        where = await self.sim.insert(coin)
        return "inhibited" if where == "cup" else "accepted"

    def inject(self, fault: str) -> None:
        if fault == "clear":
            self.faults.clear()
        elif fault in ACCEPTOR_FAULTS:
            self.faults.add(fault)
        else:
            raise ValueError(f"{self.name}: unknown fault {fault!r}; known "
                             f"{sorted(ACCEPTOR_FAULTS)}")
        self.sim.log.add("fault", fault)


@dataclass
class PulseSimulators:
    """The simulated pulse coin devices (the drivers on them are the machine's)."""

    coin_slot: SimPulseCoinSlot | None = None
    sim_hoppers: dict[int, SimPulseHopper] = field(default_factory=dict)

    def device_named(self, name: str) -> FaultTarget | None:
        """The simulated device called ``name`` ("acceptor", "hopper:50"), if pulse."""
        if name == "acceptor":
            return self.coin_slot
        if name.startswith("hopper:") and name[7:].isdigit():
            return self.sim_hoppers.get(int(name[7:]))
        return None

    async def start(self) -> None:
        if self.coin_slot is not None:
            await self.coin_slot.sim.start()
        for sim in self.sim_hoppers.values():
            await sim.start()

    async def close(self) -> None:
        for sim in self.sim_hoppers.values():
            await sim.close()
        if self.coin_slot is not None:
            await self.coin_slot.sim.close()


def build_pulse_simulators(world: SimWorld, factory: MockFactory, timings: PulseTimings, *,
                           acceptor_pins: tuple[int, int] | None,
                           hopper_pins: dict[int, tuple[int, int]]) -> PulseSimulators:
    """Simulated pulse devices: the acceptor on ``(pulse, inhibit)`` pins if given, and
    a hopper per coin on ``(motor, exit sensor)`` pins."""
    t = timings
    sims = PulseSimulators()
    if acceptor_pins is not None:
        sims.coin_slot = SimPulseCoinSlot(SimPulseAcceptor(
            factory, world, pulse_pin=acceptor_pins[0], inhibit_pin=acceptor_pins[1],
            pulse_s=t.pulse_s, space_s=t.space_s))
    for coin, (motor, sensor) in hopper_pins.items():
        sims.sim_hoppers[coin] = SimPulseHopper(
            factory, world, coin, motor_pin=motor, exit_pin=sensor,
            coin_interval_s=t.coin_interval_s, exit_pulse_s=t.exit_pulse_s, late_s=t.late_s)
    return sims
