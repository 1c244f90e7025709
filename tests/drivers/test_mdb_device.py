"""The life cycle every MDB device shares, on the simulated board: init, poll, loss,
RESET every retry period while offline, and re-initialisation after a JUST RESET."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from drivers.mdb.device import DeviceState, MdbDevice, MdbIdentity
from drivers.mdb.qibixx import QibixxLink
from simulators.mdb.board import SimQibixxBoard
from simulators.mdb.peripheral import SimMdbPeripheral

JUST_RESET = 0x0B


class SimGadget(SimMdbPeripheral):
    """A peripheral at 0x40 that reports JUST RESET once after each reset, then items."""

    address = 0x40
    name = "gadget"

    def __init__(self) -> None:
        super().__init__()
        self.items: list[int] = []
        self.resets = 0
        self._just_reset = True

    def handle(self, cmd: int, data: bytes) -> bytes:
        if cmd == 0:
            self.power_reset()
            return b""
        if cmd == 3:
            out = ([JUST_RESET] if self._just_reset else []) + self.items
            self._just_reset, self.items = False, []
            return bytes(out)
        if cmd == 1:
            return b"ACME" + b"X" * 26
        return b""

    def power_reset(self) -> None:
        self.resets += 1
        self._just_reset = True


class Gadget(MdbDevice):
    address = 0x40
    non_response_s = 0.3
    name = "gadget"

    def __init__(self, link: QibixxLink) -> None:
        super().__init__(link, poll_interval_s=0.02, reset_retry_s=0.2)
        self.seen: list[int] = []
        self.resets: list[bool] = []
        self.states: list[DeviceState] = []

        async def note(device: MdbDevice, state: DeviceState, why: str) -> None:
            self.states.append(state)
        self.add_listener(note)

    def is_just_reset(self, data: bytes) -> bool:
        return JUST_RESET in data

    async def setup(self) -> None:
        reply = await self.command(1)
        self.identity = MdbIdentity.parse(reply.data)

    async def handle_poll(self, data: bytes) -> bool:
        self.seen.extend(b for b in data if b != JUST_RESET)
        return JUST_RESET in data

    async def after_reset(self, *, unexpected: bool) -> None:
        self.resets.append(unexpected)


async def until(check: Callable[[], bool], timeout_s: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


@pytest_asyncio.fixture
async def rig() -> AsyncIterator[tuple[SimGadget, Gadget]]:
    board = SimQibixxBoard()
    sim = SimGadget()
    board.add(sim)
    await board.start()
    link = QibixxLink(board.port)
    await link.start()
    device = Gadget(link)
    await device.start()
    yield sim, device
    await device.close()
    await link.close()
    await board.close()


@pytest.mark.asyncio
async def test_init_then_polls_every_item(rig: tuple[SimGadget, Gadget]) -> None:
    sim, device = rig
    assert await device.wait_ready(2.0)
    assert device.identity.manufacturer == "ACM" and device.resets == [False]
    sim.items = [1, 2, 3]
    await until(lambda: device.seen == [1, 2, 3])


@pytest.mark.asyncio
async def test_silence_is_a_fault_that_heals_with_reset_every_retry_period(
        rig: tuple[SimGadget, Gadget]) -> None:
    sim, device = rig
    assert await device.wait_ready(2.0)
    sim.inject("silent")
    await until(lambda: device.state is DeviceState.OFFLINE)
    rx_before = sum(1 for kind, text in sim.log if kind == "rx" and text == "40 40")
    await asyncio.sleep(0.5)  # offline: a RESET every 0.2 s, no POLL
    resets = [text for kind, text in sim.log if kind == "rx" and text == "40 40"]
    assert 2 <= len(resets) - rx_before <= 4
    sim.inject("clear")
    await until(lambda: device.state is DeviceState.READY)
    assert device.states[-2:] == [DeviceState.OFFLINE, DeviceState.READY]
    assert device.resets[-1] is True  # reconciled as an unexpected interruption


@pytest.mark.asyncio
async def test_an_unexpected_just_reset_sets_it_up_again(rig: tuple[SimGadget, Gadget]) -> None:
    sim, device = rig
    assert await device.wait_ready(2.0)
    setups = sum(1 for kind, text in sim.log if kind == "rx" and text.startswith("41"))
    sim.inject("reset")
    await until(lambda: device.resets == [False, True])
    assert sum(1 for kind, text in sim.log if kind == "rx" and text.startswith("41")) == setups + 1
    assert device.state is DeviceState.READY


def test_poll_interval_and_timings_are_bounded() -> None:
    link = QibixxLink("/nowhere")
    with pytest.raises(ValueError, match="poll_interval_s"):
        MdbDevice.__init__(Gadget.__new__(Gadget), link, poll_interval_s=0.5)
    with pytest.raises(ValueError, match="reset_retry_s"):
        MdbDevice.__init__(Gadget.__new__(Gadget), link, reset_retry_s=0)
