"""A simulated MDB cashless reader (level 3, address 10) behind the simulated board.

It answers the bytes of MDB.md §4's table: the reader config inline to
``11 00``, VEND APPROVED or DENIED on the POLL after a VEND REQUEST, END
SESSION on the POLL after SESSION COMPLETE; a command in the wrong state is
ACKed and answered ``0B`` at the next POLL.  A card presented
(``present_card``) opens a session with its funds; an approval takes the
funds when the reader is told SUCCESS, and, as real readers do, when it is
reset (RESET, bus reset, a power glitch) before SUCCESS or FAILURE.

Its registers (state, the card's funds, the vend approved, the items waiting
for a POLL, and ``charged``: every amount it settled as paid, in order) live
in the saved world: the reader keeps its power when only the Pi restarts.
Faults: ``silent``, ``bad_checksum``, ``reset`` (the base's), ``deny`` (every
vend declined).
"""

from __future__ import annotations

import json
from typing import Any

from simulators.mdb.peripheral import SimMdbPeripheral
from simulators.world import SimWorld

CONFIG = bytes.fromhex("0103197801021E09")  # L3, EUR, scale 1, 2 decimals, 30 s, options
IDENTITY = b"SIM" + b"000000000001" + b"SIMREADER   " + b"\x01\x00" + (0x20).to_bytes(4, "big")


class SimCashlessReader(SimMdbPeripheral):
    """The reader's state machine; its registers are ``world.device("reader")``."""

    address = 0x10
    name = "reader"
    poll_cmd = 2
    FAULTS = SimMdbPeripheral.FAULTS | {"deny"}

    def __init__(self, world: SimWorld) -> None:
        super().__init__()
        self.world = world
        reg = world.device("reader")
        # inactive config disabled enabled session waiting (for a card) approved
        reg.setdefault("state", "inactive")
        reg.setdefault("funds", None)  # the card's funds in cents; None: no card
        reg.setdefault("approved", 0)
        reg.setdefault("queue", ["00"])  # hex items for the next POLL (JUST RESET at power-up)
        reg.setdefault("charged", [])
        reg.setdefault("always_idle", False)
        self.reg: dict[str, Any] = reg

    # --- what the sim control sees and does ------------------------------------------

    def card_state(self) -> dict[str, Any]:
        with self.world.lock:
            return {"present": self.reg["funds"] is not None,
                    "charged": [int(c) for c in self.reg["charged"]]}

    def present_card(self, funds: int) -> None:
        """A card with ``funds`` cents at the reader: a new session (once enabled), or
        the answer to a vend request waiting for a card (always idle)."""
        with self.world.lock:
            self.reg["funds"] = funds
            if self.reg["state"] == "waiting":  # always idle: the request waited for it
                self._decide(int(self.reg["approved"]))
            elif self.reg["state"] in ("enabled", "session"):
                self.reg["state"] = "session"
                self._queue(bytes([0x03]) + min(funds, 0xFFFE).to_bytes(2, "big"))
            self.world.save()

    # --- the bus ------------------------------------------------------------------------

    def _queue(self, item: bytes) -> None:
        self.reg["queue"].append(item.hex())

    def _out_of_sequence(self) -> bytes:
        self._queue(b"\x0b")
        return b""

    def power_reset(self) -> None:
        with self.world.lock:
            if self.reg["state"] == "approved":  # reset before SUCCESS: counted as paid
                self._charge()
            self.reg.update(state="inactive", funds=None, approved=0, queue=["00"],
                            always_idle=False)
            self.world.save()

    def _decide(self, price: int) -> None:
        """Approve ``price`` from the card's funds, or deny it (``deny``, too little)."""
        reg = self.reg
        funds = reg["funds"]
        if "deny" in self.faults or funds is None or price > int(funds):
            reg.update(state="session" if funds is not None else "enabled", approved=0)
            self._queue(b"\x06")
            return
        reg.update(state="approved", approved=price)
        self._queue(b"\x05" + price.to_bytes(2, "big"))

    def _charge(self) -> None:
        amount = int(self.reg["approved"])
        self.reg["charged"].append(amount)
        self.reg["approved"] = 0

    def handle(self, cmd: int, data: bytes) -> bytes:
        with self.world.lock:
            before = json.dumps(self.reg, sort_keys=True)
            answer = self._handle(cmd, data)
            if json.dumps(self.reg, sort_keys=True) != before:  # an idle POLL saves nothing
                self.world.save()
            return answer

    def _handle(self, cmd: int, data: bytes) -> bytes:
        reg, state = self.reg, self.reg["state"]
        sub = data[0] if data else -1
        if cmd == 0:  # RESET
            self.power_reset()
            return b""
        if cmd == 2:  # POLL
            out = b"".join(bytes.fromhex(h) for h in reg["queue"])[:35]
            reg["queue"] = []
            return out
        if cmd == 1 and sub == 0:
            if state == "inactive":
                reg["state"] = "config"
            return CONFIG
        if cmd == 1 and sub == 1:
            if state in ("inactive", "config"):
                reg["state"] = "disabled"
            return b""
        if cmd == 7 and sub == 0:
            return b"\x09" + IDENTITY
        if cmd == 7 and sub == 4:
            reg["always_idle"] = bool(len(data) >= 5 and data[4] & 0x20)
            return b""
        if cmd == 4:
            return self._reader(sub, state)
        if cmd == 3:
            return self._vend(sub, data, state)
        return self._out_of_sequence()

    def _reader(self, sub: int, state: str) -> bytes:
        reg = self.reg
        if sub == 1 and state == "disabled":
            reg["state"] = "enabled"
            if reg["funds"] is not None:  # a card waiting at the reader
                self.present_card(int(reg["funds"]))
        elif sub == 0 and state in ("enabled", "session"):
            reg["state"] = "disabled"
        elif sub == 2:
            self._queue(b"\x08")
        return b""

    def _vend(self, sub: int, data: bytes, state: str) -> bytes:
        reg = self.reg
        if sub == 0 and len(data) >= 5 and (
                state == "session" or (state == "enabled" and reg["always_idle"])):
            price = int.from_bytes(data[1:3], "big")
            if reg["funds"] is None:  # always idle, no card yet: it waits for one
                reg.update(state="waiting", approved=price)
                return b""
            self._decide(price)
            return b""
        if sub == 1 and state == "waiting":
            reg.update(state="enabled", approved=0)
            self._queue(b"\x06")
            return b""
        if sub == 1 and state == "approved" and reg["queue"] and reg["queue"][-1][:2] == "05":
            reg["queue"].pop()  # the approval not yet polled: withdrawn
            reg.update(state="session", approved=0)
            self._queue(b"\x06")
            return b""
        if sub == 2 and state == "approved":
            amount = int(reg["approved"])
            self._charge()
            reg["funds"] = max(0, int(reg["funds"] or 0) - amount)
            reg["state"] = "session"
            return b""
        if sub == 3 and state == "approved":
            reg.update(state="session", approved=0)
            return b""
        if sub == 4 and state == "session":
            reg.update(state="enabled", funds=None)
            self._queue(b"\x07")
            return b""
        return self._out_of_sequence()
