"""Run the whole machine: devices, FSM, store and the API, until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from aiohttp import web

from controller.config import Config
from controller.errors import AlreadyRunning, ConfigError
from controller.hardware import RealHardware
from controller.machine import Machine
from controller.ops.logs import follow_events
from controller.ops.supervision import MachineView, Supervisor, SystemdNotifier, watchdog_period_s
from controller.private_files import PRIVATE_MODE

log = logging.getLogger(__name__)
# SIGTERM must end within 5 s (systemd's stop, a shutdown): a running vend or
# payout gets WIND_DOWN_S to finish, open HTTP requests API_SHUTDOWN_S.
WIND_DOWN_S = 3.0
API_SHUTDOWN_S = 0.5


def build_machine(config: Config, db_path: Path, *,
                  clock: Callable[[], float] = time.time) -> Machine:
    """The composition root: the Machine on real or simulated hardware, as the config says
    (``clock``: the wall clock its sales are dated by).

    The only place ``controller`` imports ``simulators``.
    """
    if not config.machine.simulated:
        return Machine(config, db_path, RealHardware(), clock=clock)
    from simulators.control import SimControl
    from simulators.machine import SimulatedMachine

    hardware = SimulatedMachine(config, db_path)
    machine = Machine(config, db_path, hardware, clock=clock)
    hardware.machine = machine
    hardware.on_world_change = lambda: machine.stream.publish_threadsafe("world")
    machine.sim = SimControl(hardware, machine)
    return machine


async def serve(config: Config, db_path: Path,
                install_signals: Callable[[asyncio.Event], None] | None = None) -> None:
    """Start the machine and the API; stop cleanly when ``stop`` is set."""
    stop = asyncio.Event()
    if install_signals is not None:
        install_signals(stop)
    with machine_lock(db_path):
        await _serve(config, db_path, stop)


async def _serve(config: Config, db_path: Path, stop: asyncio.Event) -> None:
    from api.app import create_app
    from api.serving import listen, tls_context

    machine = build_machine(config, db_path)
    telemetry = None
    if config.telemetry is not None:  # built first: a bad password or CA file stops here
        from controller.fleet.publisher import TelemetryPublisher

        telemetry = TelemetryPublisher(machine, config.telemetry)
    await machine.start()
    runner = web.AppRunner(create_app(machine), access_log=None,
                           shutdown_timeout=API_SHUTDOWN_S)
    supervisor = Supervisor(machine_view(machine), SystemdNotifier.from_env(),
                            watchdog_period_s())
    listener = None
    try:
        if telemetry is not None:
            await telemetry.start()
        await runner.setup()
        try:
            listener, _ = await listen(runner, config.api,
                                       ssl_context=tls_context(config.api))
        except OSError as exc:
            raise ConfigError(f"cannot serve on {config.api.host}:{config.api.port}: "
                              f"{exc.strerror or exc}") from None
        port = listener.sockets[0].getsockname()[1]  # the port given, or the one port 0 got
        log.info("vending machine %s serving on %s://%s:%d (%s)", config.machine.machine_id,
                 "https" if config.api.tls_cert_file else "http", config.api.host, port,
                 "simulated" if config.machine.simulated else "hardware")
        supervisor.start()
        event_lines = asyncio.create_task(follow_events(machine.stream), name="event-log")
        await stop.wait()
        event_lines.cancel()
        log.info("stopping: coins refused, waiting for a running vend or payout")
        supervisor.stopping()
        await machine.wind_down(WIND_DOWN_S)
    finally:
        await supervisor.close()
        if listener is not None:
            listener.close()  # no new connections; cleanup ends the open ones
        await runner.cleanup()
        if listener is not None:
            await listener.wait_closed()
        if telemetry is not None:
            await telemetry.close()
        await machine.close()
        log.info("stopped")


def machine_view(machine: Machine) -> MachineView:
    async def store_answers() -> None:
        await machine.store.run(lambda db: None)

    return MachineView(stream=machine.stream, state=lambda: machine.model.state.value,
                       faults=lambda: machine.faults.active,
                       heartbeats=machine.heartbeats,
                       store_answers=store_answers)


@contextlib.contextmanager
def machine_lock(db_path: Path) -> Iterator[None]:
    """One process owns a machine: a second ``vending run`` on the same database
    (and so the same devices) is refused, instead of two drivers on one bus."""
    lock_path = db_path.with_name(db_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)  # private like the database, whoever made it first
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise AlreadyRunning(f"{db_path}: another vending process (pid {owner}) runs "
                                 "this machine") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # and the lock with it; the kernel drops it if the process dies
