"""The MDB link: one interface for "send this block, get ACK, NAK, silence or data".

``MdbLink`` is what every MDB device driver talks to; ``QibixxLink`` (the
Qibixx MDB Pi HAT, the supported way) and ``Raw9Link`` (9-bit on the Pi's
PL011 UART) implement it, and tests may implement it in memory.  A link
makes exactly one attempt per ``transact``: the repeat policy (repeat inside
the device's non-response time, never repeat a DISPENSE blindly) belongs to
``MdbDevice``, which knows which commands are safe to send twice.

Transactions are serialised: one block on the bus at a time, whoever sends it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from drivers.mdb.block import Reply

RESPONSE_TIMEOUT_S = 0.005  # MDB: silence for 5 ms after a block is a NAK
BUS_RESET_S = 0.1  # TX held active this long resets every peripheral
AFTER_BUS_RESET_S = 0.2  # and the bus is left alone this long after


class MdbLink(ABC):
    """The host (VMC) end of one MDB bus.

    Life cycle: construct without I/O, ``await start()`` opens the port (and
    sets the interface up), ``await close()`` releases it.  ``transact`` and
    ``bus_reset`` raise ``DeviceLost`` only when the interface itself is gone
    (port unplugged, board silent); a silent peripheral is a TIMEOUT reply.
    """

    name: str = "mdb"

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def transact(self, addr_cmd: int, data: bytes = b"") -> Reply:
        """Send one block (address byte with its command, then ``data``) and
        return the peripheral's answer.  A data answer has been acknowledged
        on the bus before this returns, so it is never sent again."""

    @abstractmethod
    async def bus_reset(self) -> None:
        """Reset every peripheral on the bus (TX active 100 ms, then 200 ms quiet)."""
