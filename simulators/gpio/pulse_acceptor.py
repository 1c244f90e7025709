"""Simulated CH-926 style pulse coin acceptor on mock pins.

``insert(coin)`` looks at the inhibit output the driver puts out: on means
accepting, so the coin is routed into the machine (``world.route_coin``) and
its pulse train is driven on the pulse pin (active low: 0 V per pulse), with
``pulse_s`` on and ``space_s`` off per pulse; off means refusing, so the coin
lands in the cup (``world.return_coin``) and no pulse is sent.

``insert_merged(*coins)`` sends several trains back to back with no gap, as
the real device does for quick coins.  ``pulse(width_s)`` sends one raw pulse
(for noise and stuck-line tests).  Every train is awaited to its end, and
trains never interleave.

What it does not model: coin recognition or rejection of unknown coins, the
acceptor's own per-coin inhibit (DIP switches), a coin refused after the
first pulse.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from gpiozero.pins.mock import MockFactory

from simulators.gpio.pins import SimLog, sim_pin
from simulators.world import SimWorld

DEFAULT_PULSES = {5: 1, 10: 2, 20: 4, 50: 10, 100: 20}


class SimPulseAcceptor:
    """The coin path and COIN/INHIBIT lines of a pulse acceptor."""

    def __init__(self, factory: MockFactory, world: SimWorld, *, pulse_pin: int,
                 inhibit_pin: int, pulses_per_coin: Mapping[int, int] | None = None,
                 pulse_s: float = 0.020, space_s: float = 0.100) -> None:
        self.world = world
        self.log = SimLog()
        self.pulse_s = pulse_s
        self.space_s = space_s
        self.pulses_per_coin = dict(pulses_per_coin or DEFAULT_PULSES)
        self._pulse = sim_pin(factory, pulse_pin)
        self._inhibit = sim_pin(factory, inhibit_pin)
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        self._pulse.drive(True)  # idle: open collector off, line high

    async def close(self) -> None:
        self._pulse.drive(True)

    @property
    def accepting(self) -> bool:
        return bool(self._inhibit.output_level)

    async def insert(self, coin: int) -> str:
        """One coin; answers where it went: ``"hopper"``, ``"cashbox"`` or ``"cup"``."""
        return (await self.insert_merged(coin))[0]

    async def insert_merged(self, *coins: int) -> list[str]:
        """Coins so quick that their trains merge; where each went."""
        for coin in coins:
            if coin not in self.pulses_per_coin:
                raise ValueError(f"this acceptor does not know a {coin} coin")
        async with self._lock:
            places: list[str] = []
            pulses = 0
            for coin in coins:
                if not self.accepting:
                    self.world.return_coin(coin)
                    self.log.add("refused", str(coin))
                    places.append("cup")
                    continue
                places.append(self.world.route_coin(coin))
                self.log.add("accepted", f"{coin} to {places[-1]}")
                pulses += self.pulses_per_coin[coin]
            await self._train(pulses)
            return places

    async def pulse(self, width_s: float) -> None:
        """One raw pulse of ``width_s`` followed by the normal space."""
        async with self._lock:
            await self._one_pulse(width_s)

    async def _train(self, pulses: int) -> None:
        if pulses:
            self.log.add("train", str(pulses))
        for _ in range(pulses):
            await self._one_pulse(self.pulse_s)

    async def _one_pulse(self, width_s: float) -> None:
        self._pulse.drive(False)
        try:
            if width_s > 0:  # 0: a glitch of a few microseconds, whatever the load
                await asyncio.sleep(width_s)
        finally:
            self._pulse.drive(True)
        await asyncio.sleep(self.space_s)
