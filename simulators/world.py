"""The physical state of the simulated machine.

Coins in each hopper and the cashbox, products in each spiral, the delivery
tray, the coin cup, each simulated device's own registers (ccTalk event
counters and buffers), and the faults injected through sim control, which
stay until cleared, like a jammed coin or a cut wire.  Real hardware keeps
this state through a power cut; so does the simulated machine: every change
is written atomically to a JSON file beside the database, and a restarted
process finds the machine as it was left.

What it does not model: coins in flight between the acceptor and a hopper,
product weight, anything a camera would see.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from controller.private_files import tighten, write_private


@dataclass
class SimWorld:
    hoppers: dict[int, int] = field(default_factory=dict)  # coin value -> coins in its hopper
    hopper_capacity: int = 200
    cashbox: dict[int, int] = field(default_factory=dict)  # coin value -> coins in the cashbox
    spirals: dict[str, list[str]] = field(default_factory=dict)  # slot -> names, front first
    tray: list[str] = field(default_factory=list)  # products in the delivery tray
    cup: list[int] = field(default_factory=list)  # coins in the coin-return cup
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-device registers
    faults: dict[str, list[str]] = field(default_factory=dict)  # device -> injected faults
    path: Path | None = field(default=None, repr=False, compare=False)
    on_change: Callable[[], None] | None = field(default=None, repr=False, compare=False)
    """Told (from any thread) after the tray, cup, spirals, hoppers or cashbox changed."""

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._saves_held = 0  # inside one_save(): writes wait for its end
        self._save_pending = False

    def _changed(self) -> None:
        self.save()
        if self.on_change is not None:
            self.on_change()

    def changed(self) -> None:
        """A simulated device moved coins itself (an MDB changer's tubes): save and tell."""
        self._changed()

    # --- persistence -------------------------------------------------------

    def save(self) -> None:
        """Write the whole state atomically (write, fsync, rename)."""
        if self.path is None:
            return
        with self._lock:
            if self._saves_held:
                self._save_pending = True
                return
            data = asdict(self)
            data.pop("path", None)
            data.pop("on_change", None)
            text = json.dumps(data, sort_keys=True)
            write_private(self.path, text)  # 0600: the machine's contents are its owner's

    @contextlib.contextmanager
    def one_save(self) -> Iterator[None]:
        """Changes made inside reach the disk together, in one write at the end:
        a power cut never saves half of one physical event (a coin in its
        hopper without its credit event in the acceptor)."""
        with self._lock:
            self._saves_held += 1
            try:
                yield
            finally:
                self._saves_held -= 1
                if not self._saves_held and self._save_pending:
                    self._save_pending = False
                    self.save()

    @classmethod
    def load_or_create(cls, path: Path | None, *, coins: list[int], slots: list[str],
                       hopper_fill: int = 20, hopper_capacity: int = 200) -> SimWorld:
        """Load the saved world at ``path``, or build a new one (and save it)."""
        if path is not None and path.exists():
            tighten(path)
            raw = json.loads(path.read_text(encoding="utf-8"))
            world = cls(
                hoppers={int(k): int(v) for k, v in raw["hoppers"].items()},
                hopper_capacity=int(raw["hopper_capacity"]),
                cashbox={int(k): int(v) for k, v in raw["cashbox"].items()},
                spirals={k: list(v) for k, v in raw["spirals"].items()},
                tray=list(raw["tray"]),
                cup=[int(c) for c in raw["cup"]],
                devices=dict(raw["devices"]),
                faults={k: [str(f) for f in v] for k, v in raw.get("faults", {}).items()},
                path=path,
            )
            for slot in slots:
                world.spirals.setdefault(slot, [])
            return world
        world = cls(
            hoppers={c: hopper_fill for c in coins},
            hopper_capacity=hopper_capacity,
            cashbox={c: 0 for c in coins},
            spirals={s: [] for s in slots},
            path=path,
        )
        world.save()
        return world

    # --- physical actions ----------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def device(self, name: str) -> dict[str, Any]:
        """The saved registers of one device (created empty)."""
        with self._lock:
            return self.devices.setdefault(name, {})

    def note_fault(self, device: str, fault: str) -> None:
        """Remember a fault injected into ``device`` until ``clear``; ``reset`` acts once."""
        with self._lock:
            if fault == "clear":
                self.faults.pop(device, None)
            elif fault != "reset" and fault not in self.faults.get(device, []):
                self.faults.setdefault(device, []).append(fault)
            self.save()

    def injected_faults(self) -> dict[str, list[str]]:
        """Every device's standing faults, in the order they were injected."""
        with self._lock:
            return {device: list(faults) for device, faults in self.faults.items()}

    def route_coin(self, coin: int) -> str:
        """An accepted coin falls into its hopper if not full, else the cashbox."""
        with self._lock:
            if coin in self.hoppers and self.hoppers[coin] < self.hopper_capacity:
                self.hoppers[coin] += 1
                where = "hopper"
            else:
                self.cashbox[coin] = self.cashbox.get(coin, 0) + 1
                where = "cashbox"
            self._changed()
            return where

    def return_coin(self, coin: int) -> None:
        """A refused coin (or one paid out) lands in the coin cup."""
        with self._lock:
            self.cup.append(coin)
            self._changed()

    def take_coin_from_hopper(self, coin: int) -> bool:
        """One coin leaves the hopper into the cup; False when it is empty."""
        with self._lock:
            if self.hoppers.get(coin, 0) <= 0:
                return False
            self.hoppers[coin] -= 1
            self.cup.append(coin)
            self._changed()
            return True

    def drop_product(self, slot: str) -> str | None:
        """The front product of a spiral falls into the tray (None if empty)."""
        with self._lock:
            items = self.spirals.get(slot)
            if not items:
                return None
            name = items.pop(0)
            self.tray.append(name)
            self._changed()
            return name

    def load_spiral(self, slot: str, name: str, count: int) -> None:
        """An operator loads a spiral with ``count`` units of ``name``."""
        with self._lock:
            self.spirals[slot] = [name] * count
            self._changed()

    def take_tray(self) -> tuple[list[str], list[int]]:
        """The customer empties the tray and the coin cup."""
        with self._lock:
            tray, cup = self.tray, self.cup
            self.tray, self.cup = [], []
            self._changed()
            return tray, cup

    def set_hopper(self, coin: int, count: int) -> None:
        with self._lock:
            self.hoppers[coin] = count
            self._changed()

    def empty_cashbox(self) -> dict[int, int]:
        with self._lock:
            taken = dict(self.cashbox)
            self.cashbox = {c: 0 for c in self.cashbox}
            self._changed()
            return taken
