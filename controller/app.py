"""Run the whole machine: devices, FSM, store and the API, until told to stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from controller.config import Config
from controller.machine import Machine

log = logging.getLogger(__name__)


def build_machine(config: Config, db_path: Path) -> Machine:
    """The Machine with simulated or real devices, as the config says."""
    if config.machine.simulated:
        from simulators.machine import SimulatedMachine

        sim = SimulatedMachine(config, db_path)
        machine = Machine(config, db_path, sim.build)
        sim.attach(machine)
        return machine
    from controller.hardware import build_hardware

    return Machine(config, db_path, lambda: build_hardware(config))


async def serve(config: Config, db_path: Path,
                install_signals: Callable[[asyncio.Event], None] | None = None) -> None:
    """Start the machine and the API; stop cleanly when ``stop`` is set."""
    from api.app import create_app

    stop = asyncio.Event()
    if install_signals is not None:
        install_signals(stop)
    machine = build_machine(config, db_path)
    await machine.start()
    runner = web.AppRunner(create_app(machine), access_log=None)
    try:
        await runner.setup()
        site = web.TCPSite(runner, config.api.host, config.api.port)
        await site.start()
        log.info("vending machine %s serving on http://%s:%d (%s)", config.machine.machine_id,
                 config.api.host, config.api.port,
                 "simulated" if config.machine.simulated else "hardware")
        await stop.wait()
        log.info("stopping")
    finally:
        await runner.cleanup()
        await machine.close()
