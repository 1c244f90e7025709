"""Where the machine's devices come from: a real Pi, or the simulated machine.

The Machine asks its ``Hardware`` for the ports its devices sit on (the one
device builder, ``controller.devices``, turns the config into drivers on
them) and tells it what an operator did to the physical machine: on a real
machine that is the operator's own doing; a simulated machine updates its
simulated world to match.  ``SimControl`` is what the ``/sim/*`` endpoints
drive; only a simulated machine has one.
"""

from __future__ import annotations

from typing import Any, Protocol

from controller.devices import DevicePorts
from controller.payment.claims import ClaimCustomer


class Hardware(Protocol):
    @property
    def customer(self) -> ClaimCustomer | None:
        """Who brings a claimed deposit coin to the machine (None: a person walks up)."""

    async def open(self, database_id: str | None) -> DevicePorts:
        """Make the devices reachable; ``database_id`` tells a new database from a known one."""

    async def close(self) -> None: ...

    def spiral_loaded(self, slot: str, name: str, count: int) -> None:
        """An operator loaded a spiral to match the catalog."""

    def hopper_counted(self, coin: int, count: int) -> None:
        """An operator refilled or emptied a hopper to ``count`` coins."""

    def cashbox_emptied(self) -> None:
        """An operator emptied the cashbox."""


class RealHardware:
    """A real Pi: gpiozero's default pin factory and the config's serial port."""

    customer: ClaimCustomer | None = None

    async def open(self, database_id: str | None) -> DevicePorts:
        return DevicePorts()

    async def close(self) -> None:
        return None

    def spiral_loaded(self, slot: str, name: str, count: int) -> None:
        return None

    def hopper_counted(self, coin: int, count: int) -> None:
        return None

    def cashbox_emptied(self) -> None:
        return None


class SimControl(Protocol):
    """Hands on the simulated machine (sim mode only): the ``/sim/*`` endpoints."""

    async def insert_coin(self, coin: int) -> dict[str, Any]: ...

    async def insert_bill(self, bill: int) -> dict[str, Any]: ...

    async def press(self, keys: str) -> dict[str, Any]: ...

    def state(self) -> dict[str, Any]: ...

    async def take_tray(self) -> dict[str, Any]: ...

    async def inject_fault(self, device: str, fault: str) -> dict[str, Any]: ...

    async def present_card(self, funds: int) -> dict[str, Any]: ...

    def fault_menu(self) -> dict[str, list[str]]: ...
