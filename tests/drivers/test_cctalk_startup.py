"""A third-party host's start-up against every simulated ccTalk device.

Hosts identify a device before they use it (the public host libraries and
the Flow hopper manual agree on the set): simple poll, manufacturer (246),
equipment category (245), product code (244), serial number (242), software
revision (241), comms revision (4) and build code (192); a hopper also
answers dispense count (168), hopper coin (171), payout level status (217),
level sensors (236) and variable set (247).  The host here is written from
the framing rules alone (no project code builds or reads its frames): every
request must get a well-formed reply (checksum, addresses, ACK with data of
the right form, or NAK where the model lacks the request), never silence.
"""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from simulators.cctalk import SimCctalkBus, build_cctalk_bus
from simulators.cctalk.acceptor_models import ACCEPTOR_MODELS
from simulators.cctalk.hopper_models import HOPPER_MODELS
from simulators.world import SimWorld

pytestmark = pytest.mark.asyncio

ACK, NAK = 0, 5
IDENTITY = (246, 245, 244, 242, 241, 4, 192)
HOPPER_INFO = (168, 171, 217, 236, 247)
TEXT = {246, 245, 244, 241, 192}


def frame(dest: int, header: int) -> bytes:
    body = bytes((dest, 0, 1, header))
    return body + bytes(((-sum(body)) & 0xFF,))


async def ask(port: str, dest: int, header: int, timeout_s: float = 1.0) -> tuple[int, bytes]:
    """(reply header, data) of one request; AssertionError on silence or a bad frame."""
    fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        tty.setraw(fd)
        os.write(fd, frame(dest, header))
        got = b""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (len(got) < 2 or len(got) < got[1] + 5) and loop.time() < deadline:
            try:
                got += os.read(fd, 260)
            except BlockingIOError:
                await asyncio.sleep(0.002)
    finally:
        os.close(fd)
    assert len(got) >= 5 and len(got) == got[1] + 5, (dest, header, got.hex(" "))
    assert sum(got) % 256 == 0, ("checksum", dest, header, got.hex(" "))
    assert (got[0], got[2]) == (1, dest), ("addresses", got.hex(" "))
    return got[3], got[4:-1]


def well_formed(header: int, data: bytes) -> bool:
    """The data of an ACK reply is in the form the request's reply has."""
    if header in TEXT:
        return bool(data) and all(0x20 <= b < 0x7F for b in data)
    if header in (242, 168, 4):
        return len(data) == 3
    if header == 171:
        return len(data) == 6 and data.isascii()
    if header in (217, 236):
        return len(data) == 1
    return header == 247 and len(data) >= 1


@pytest_asyncio.fixture
async def world() -> AsyncIterator[SimWorld]:
    yield SimWorld.load_or_create(None, coins=[5, 10, 20, 50, 100], slots=["A1"])


async def host_start_up(bus: SimCctalkBus, address: int,
                        headers: tuple[int, ...]) -> dict[int, tuple[int, bytes]]:
    assert await ask(bus.port, address, 254) == (ACK, b"")
    return {h: await ask(bus.port, address, h) for h in headers}


@pytest.mark.parametrize("model", sorted(ACCEPTOR_MODELS))
async def test_every_acceptor_answers_a_hosts_start_up(world: SimWorld, model: str) -> None:
    bus = build_cctalk_bus(world, coins=[50], hopper_addresses={}, acceptor_model=model)
    await bus.start()
    try:
        replies = await host_start_up(bus, 2, IDENTITY)
    finally:
        await bus.close()
    assert replies[245] == (ACK, b"Coin Acceptor")
    for header, (kind, data) in replies.items():
        assert kind in (ACK, NAK), (header, kind)
        assert kind == NAK or well_formed(header, data), (header, data)
    # the identity a host needs is there on every model
    assert all(replies[h][0] == ACK for h in (246, 245, 244, 242, 241))
    if model != "basic":  # the basic validator has no comms revision nor build code
        assert all(kind == ACK for kind, _ in replies.values()), replies


@pytest.mark.parametrize("model", sorted(HOPPER_MODELS))
async def test_every_hopper_answers_a_hosts_start_up(world: SimWorld, model: str) -> None:
    bus = build_cctalk_bus(world, acceptor_address=None, hopper_model=model)
    await bus.start()
    try:
        replies = await host_start_up(bus, 6, IDENTITY + HOPPER_INFO)
    finally:
        await bus.close()
    assert replies[245] == (ACK, b"Payout")
    assert replies[242] == (ACK, bytes.fromhex("E2 D7 0A"))  # serial, LSB first
    for header, (kind, data) in replies.items():
        assert kind in (ACK, NAK), (header, kind)
        assert kind == NAK or well_formed(header, data), (header, data)
    for header in HOPPER_INFO:  # each model answers what it implements, NAKs the rest
        assert (replies[header][0] == ACK) == (header in HOPPER_MODELS[model].answers)
    if 171 in HOPPER_MODELS[model].answers:
        assert replies[171] == (ACK, b"EU050A")  # the coin it pays
    if model == "flow":  # the Flow manual's list: every one answered
        assert all(kind == ACK for kind, _ in replies.values()), replies
        assert replies[246] == (ACK, b"Suzo-Happ")
        assert replies[168] == (ACK, bytes(3))  # nothing paid yet
        assert len(replies[247][1]) == 6
