"""A simulated MDB bill validator (level 1, address 30) with its stacker in the saved world.

Bill types 0-3 are 5, 10, 20 and 50 euro (scaling 100, two decimals), as in
MDB.md's example; a stacker of 400 bills.  A bill inserted while its type is
enabled is held in escrow (POLL ``9x``) until ESCROW stacks it (``8x``) or
returns it (``Ax``: it lands in ``returned``, the sim's ``returnedBills``);
a disabled type is refused at once (returned too).  A RESET or a power cut
returns a bill held in escrow.  Faults: ``silent``, ``bad_checksum``,
``reset`` (one-shot), ``jam`` (status ``05``, then ``09`` until cleared: bills
refused) and ``full`` (the stacker reports full; bills refused).  Its
registers (stacker, escrow, item queue, bill types, returned bills) are saved
with the world.
"""

from __future__ import annotations

from typing import Any

from drivers.mdb.bill_bytes import (
    BILL_TYPE,
    BILLS,
    DISABLED,
    ESCROW,
    EXPANSION,
    JUST_RESET,
    POLL,
    RESET,
    SECURITY,
    SETUP,
    STACKER,
    BillRoute,
    bill_item,
)
from simulators.mdb.peripheral import NoAnswer, SimMdbPeripheral
from simulators.world import SimWorld

BILL_VALUES = (500, 1000, 2000, 5000)
SCALING = 100
STACKER_CAPACITY = 400
IDENTITY = b"SIM" + b"000000000002" + b"SIM-BILLS   " + bytes([0x01, 0x00])


class SimMdbBillValidator(SimMdbPeripheral):
    """The validator's state machine on the bytes of MDB 4.2 §6."""

    address = BILLS
    name = "bills"
    FAULTS = frozenset({"silent", "bad_checksum", "reset", "jam", "full"})

    def __init__(self, world: SimWorld) -> None:
        super().__init__()
        self.world = world
        reg = self._reg
        reg.setdefault("stacker", {})
        reg.setdefault("escrow", None)
        reg.setdefault("items", [])
        reg.setdefault("returned", [])
        reg.setdefault("accept", 0)
        reg.setdefault("just_reset", True)
        if reg["escrow"] is not None:  # the power went off with a bill held: it came back out
            reg["returned"].append(reg["escrow"])
            reg["escrow"] = None
            world.save()

    @property
    def _reg(self) -> dict[str, Any]:
        return self.world.device("bills")

    # --- what people do ------------------------------------------------------------

    def insert(self, bill: int) -> str:
        """A bill at the slot: "escrow" (held) or "rejected" (given back at once)."""
        reg = self._reg
        with self.world.lock, self.world.one_save():
            enabled = bill in BILL_VALUES and int(reg["accept"]) >> BILL_VALUES.index(bill) & 1
            if (not enabled or reg["escrow"] is not None or "silent" in self.faults
                    or "jam" in self.faults or "full" in self.faults):
                reg["returned"].append(bill)
                if bill in BILL_VALUES and not enabled:
                    self._queue(bill_item(BILL_VALUES.index(bill), BillRoute.DISABLED_REJECTED))
                self.world.changed()
                return "rejected"
            reg["escrow"] = bill
            self._queue(bill_item(BILL_VALUES.index(bill), BillRoute.ESCROW))
            self.world.changed()
            return "escrow"

    def takes(self, bill: int) -> bool:
        """Whether the validator's bill types enable this bill now."""
        return bill in BILL_VALUES and bool(int(self._reg["accept"]) >> BILL_VALUES.index(bill) & 1)

    def escrowed(self) -> int | None:
        """The bill held in escrow now (None: none)."""
        bill = self._reg["escrow"]
        return None if bill is None else int(bill)

    def stacker_value(self) -> int:
        return sum(int(v) * int(n) for v, n in self._reg["stacker"].items())

    def returned(self) -> list[int]:
        return [int(b) for b in self._reg["returned"]]

    def take_returned(self) -> list[int]:
        """The customer takes the returned bills."""
        with self.world.lock:
            bills, self._reg["returned"] = self.returned(), []
            self.world.changed()
            return bills

    def empty_stacker(self) -> None:
        with self.world.lock:
            self._reg["stacker"] = {}
            self.world.changed()

    def _queue(self, item: int) -> None:
        self._reg["items"].append(item)
        self.world.save()

    def on_fault(self, fault: str) -> None:
        if fault == "jam":
            self._queue(0x05)

    # --- the bus --------------------------------------------------------------------

    def power_reset(self) -> None:
        reg = self._reg
        with self.world.lock, self.world.one_save():
            if reg["escrow"] is not None:
                reg["returned"].append(reg["escrow"])
                reg["escrow"] = None
            reg["items"], reg["accept"], reg["just_reset"] = [], 0, True
            self.world.changed()

    def handle(self, cmd: int, data: bytes) -> bytes:
        reg = self._reg
        if cmd == RESET:
            self.power_reset()
            return b""
        if cmd == SETUP:
            credits = [v // SCALING for v in BILL_VALUES] + [0] * (16 - len(BILL_VALUES))
            return (bytes([1, 0x19, 0x78]) + SCALING.to_bytes(2, "big") + bytes([2])
                    + STACKER_CAPACITY.to_bytes(2, "big") + bytes([0, 0, 0xFF]) + bytes(credits))
        if cmd == SECURITY:
            return b""
        if cmd == POLL:
            return self._poll()
        if cmd == BILL_TYPE and len(data) == 4:
            accept = int.from_bytes(data[:2], "big")
            if accept != reg["accept"]:
                reg["accept"] = accept
                self.world.save()
            return b""
        if cmd == ESCROW and len(data) == 1:
            self._escrow(stack=data[0] == 1)
            return b""
        if cmd == STACKER:
            count = sum(int(n) for n in reg["stacker"].values())
            full = "full" in self.faults or count >= STACKER_CAPACITY
            return ((0x8000 if full else 0) | min(count, 0x7FFF)).to_bytes(2, "big")
        if cmd == EXPANSION and data[:1] == b"\x00":
            return IDENTITY
        if cmd == EXPANSION:
            return b""
        raise NoAnswer

    def _poll(self) -> bytes:
        reg = self._reg
        out = bytearray()
        if reg["just_reset"]:
            reg["just_reset"] = False
            out.append(JUST_RESET)
        while reg["items"] and len(out) < 16:
            out.append(int(reg["items"].pop(0)))
        if out:
            self.world.save()  # only when the registers moved: an idle POLL writes nothing
        if (not reg["accept"] or "jam" in self.faults) and DISABLED not in out:
            out.append(DISABLED)
        return bytes(out)

    def _escrow(self, *, stack: bool) -> None:
        reg = self._reg
        bill = reg["escrow"]
        if bill is None:
            self._queue(0x0A)  # invalid escrow request
            return
        t = BILL_VALUES.index(int(bill))
        with self.world.lock, self.world.one_save():
            reg["escrow"] = None
            if stack:
                reg["stacker"][str(bill)] = int(reg["stacker"].get(str(bill), 0)) + 1
                self._queue(bill_item(t, BillRoute.STACKED))
            else:
                reg["returned"].append(int(bill))
                self._queue(bill_item(t, BillRoute.RETURNED))
            self.world.changed()
