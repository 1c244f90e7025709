"""The machine as the API sees it: the methods it calls, as a typing Protocol.

The real implementation is ``controller.machine.Machine``; the API depends
only on this interface, so tests can drive it with any object that has these
methods.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol

from controller.config import Config
from controller.events import EventStream
from controller.store import Store


class SimControl(Protocol):
    """Hands on the simulated machine (sim mode only)."""

    async def insert_coin(self, coin: int) -> dict[str, Any]: ...

    async def press(self, keys: str) -> dict[str, Any]: ...

    def state(self) -> dict[str, Any]: ...

    async def take_tray(self) -> dict[str, Any]: ...

    async def inject_fault(self, device: str, fault: str) -> dict[str, Any]: ...

    def fault_menu(self) -> dict[str, list[str]]: ...


class MachineFacade(Protocol):
    """What the API needs from the machine."""

    store: Store
    config: Config
    simulated: bool
    state_dir: Path
    stream: EventStream  # every change, published once (pages, metrics subscribe)

    @property
    def sim(self) -> SimControl: ...

    async def deposit(self, user_id: int, coin: int) -> int: ...

    async def buy(self, user_id: int, product_id: int, amount: int) -> dict[str, Any]: ...

    async def reset(self, user_id: int) -> list[int]: ...

    async def stock_changed(self, product: dict[str, Any] | None, slot: str) -> None: ...

    def quiet(self) -> AbstractAsyncContextManager[Any]:
        """Held: no vend or payout runs (catalog and account changes)."""

    def has_open_claim(self, user_id: int) -> bool: ...

    async def state_json(self) -> dict[str, Any]: ...

    async def set_hopper(self, coin: int, payout: int) -> dict[str, Any]: ...

    async def collect_cashbox(self) -> int: ...

    async def set_service(self, enabled: bool) -> dict[str, Any]: ...

    async def events(self, after: int, limit: int) -> list[dict[str, Any]]: ...

    async def audit_text(self) -> str: ...

    def health(self) -> dict[str, Any]: ...
