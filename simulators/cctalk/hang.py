"""A test hook: the ccTalk link of the simulated machine, able to hang.

``HangableLink`` is the real ``CctalkLink`` with one addition: after
``hang(address)`` every request to that address waits, without a timeout,
until ``release(address)``.  It stands for a serial adapter whose kernel
driver stopped returning from a write: the one failure the driver's own
timeouts cannot bound, which only the systemd watchdog ends.  The simulated
device itself keeps answering; nothing here is saved with the world (a
restarted process finds the line working, as after a power cycle).

Reached through ``POST /sim/fault {"device": "acceptor", "fault": "hang"}``
(or a ``hopper:N``) and cleared with ``"clear"``.  It exists for tests of
the watchdog; it models no physical device.
"""

from __future__ import annotations

import asyncio

from drivers.cctalk.link import CctalkLink, ReplyLen


class HangableLink(CctalkLink):
    """A ``CctalkLink`` whose requests to chosen addresses can be made to hang."""

    def __init__(self, port: str, **options: object) -> None:
        super().__init__(port, **options)  # type: ignore[arg-type]
        self._open: dict[int, asyncio.Event] = {}

    def hang(self, address: int) -> None:
        self._open.setdefault(address, asyncio.Event()).clear()

    def release(self, address: int) -> None:
        gate = self._open.get(address)
        if gate is not None:
            gate.set()

    def hung(self, address: int) -> bool:
        gate = self._open.get(address)
        return gate is not None and not gate.is_set()

    async def request(self, address: int, header: int, data: bytes = b"", *,
                      retries: int | None = None, reply_len: ReplyLen = None) -> bytes:
        gate = self._open.get(address)
        if gate is not None:
            await gate.wait()
        return await super().request(address, header, data, retries=retries,
                                     reply_len=reply_len)
