"""The mechanism: the physical machine does one thing at a time.

Every physical action (vend, payout, a deposit coin at the slot, a refill
count) holds the one lock, runs as a supervised task, and checks the FSM
first.  Catalog and account changes hold it too (``quiet``), so a price or an
account does not change under a sale.  A driver's error that escapes an
action is mapped here to the controller's ``out_of_service``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from controller.errors import MachineBusy, OutOfService, from_driver
from controller.fsm import MachineModel, State
from controller.tasks import Supervisor
from drivers.errors import DriverError

T = TypeVar("T")
NOT_SERVING = {State.OUT_OF_SERVICE: "out of service", State.SERVICE: "in service mode",
               State.BOOTING: "starting"}


class Mechanism:
    def __init__(self, model: MachineModel, tasks: Supervisor,
                 payback_possible: Callable[[], bool]) -> None:
        self._model = model
        self._tasks = tasks
        self._payback_possible = payback_possible
        self._lock = asyncio.Lock()

    def quiet(self) -> asyncio.Lock:
        """Hold it and no vend or payout runs: for catalog and account changes."""
        return self._lock

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def require_in_service(self) -> None:
        if self._model.state in NOT_SERVING:
            raise OutOfService(f"the machine is {NOT_SERVING[self._model.state]}")

    def _may_run(self, even_out_of_service: bool) -> bool:
        if even_out_of_service and self._model.state is State.OUT_OF_SERVICE \
                and self._payback_possible():
            return True
        self.require_in_service()
        return self._model.is_ready()

    async def exclusive(self, action: Callable[[], Awaitable[T]], name: str, *,
                           idle_only: bool = False, even_out_of_service: bool = False) -> T:
        """Run one physical action under the lock, as a supervised task.

        Refused at once (``machine_busy``) while another action runs or the FSM is
        not ready.  ``idle_only``: refuse also while a customer has credit at the
        panel.  ``even_out_of_service``: a payout may run out of service when the
        hoppers can still pay (the FSM then stays out of service).
        """
        ready = self._may_run(even_out_of_service)
        if self._lock.locked() or not ready:
            raise MachineBusy("the machine is busy with another action")
        if idle_only and self._model.state is not State.IDLE:
            raise MachineBusy("a customer is using the machine's front panel")

        async def locked() -> T:
            async with self._lock:
                self._may_run(even_out_of_service)
                try:
                    return await action()
                except DriverError as exc:
                    raise from_driver(exc) from exc

        return await asyncio.shield(self._tasks.spawn(locked(), name, action=True))
