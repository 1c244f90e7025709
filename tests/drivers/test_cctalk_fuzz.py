"""Property tests: garbage on the ccTalk bus never turns into credit."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.base import CoinBatch, CoinEventKind
from drivers.cctalk.acceptor import CctalkCoinAcceptor
from drivers.cctalk.frame import FrameReader, decode, encode
from drivers.cctalk.link import CctalkLink
from drivers.errors import ProtocolError
from simulators.cctalk import build_cctalk_bus
from simulators.world import SimWorld


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["simple", "crc16"]))
def test_any_frame_that_decodes_is_a_valid_frame(stream: bytes, mode: str) -> None:
    reader = FrameReader()
    reader.feed(stream)
    while (raw := reader.next_frame()) is not None:
        try:
            frame = decode(raw, "crc16" if mode == "crc16" else "simple")
        except ProtocolError:
            continue
        src = frame.src if frame.src is not None else 0
        again = encode(frame.dest, src, frame.header, frame.data,
                       "crc16" if mode == "crc16" else "simple")
        assert again == raw


async def _garbage_scenario(garbage: bytes, noise: bytes) -> None:
    world = SimWorld.load_or_create(None, coins=[5, 10, 20, 50, 100], slots=[])
    bus = build_cctalk_bus(world, hopper_addresses={}, reply_delay_s=0.0005)
    await bus.start()
    link = CctalkLink(bus.port, reply_timeout_s=0.01, retries=1, inter_byte_timeout_s=0.005)
    await link.start()
    batches: list[CoinBatch] = []

    async def handler(batch: CoinBatch) -> None:
        batches.append(batch)

    def credits() -> list[int]:
        return [e.value_cents for b in batches for e in b.events
                if e.kind is CoinEventKind.CREDIT]

    # the background loop stays out of the way: the test polls by hand
    acceptor = CctalkCoinAcceptor(link, poll_interval_s=5.0, lost_poll_interval_s=5.0)
    acceptor.set_handler(handler)
    sim = bus.acceptor
    assert sim is not None
    try:
        await acceptor.start()
        await acceptor.set_accepting(True)
        sim.garbage = garbage
        sim.inject("garbage")
        sim.insert(100)  # a real coin waits in the buffer behind the garbled wire
        for _ in range(3):
            bus.inject_noise(noise)
            await acceptor.poll_once()
        assert credits() == []
        sim.clear()
        for _ in range(20):  # a poll may still meet the tail of the noise
            await acceptor.poll_once()
            if credits():
                break
        await acceptor.poll_once()
        assert credits() == [100]  # exactly once, once the wire is clean
    finally:
        await acceptor.close()
        await link.close()
        await bus.close()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage=st.binary(min_size=1, max_size=40), noise=st.binary(max_size=24))
def test_garbage_on_the_bus_never_credits(garbage: bytes, noise: bytes) -> None:
    asyncio.run(_garbage_scenario(garbage, noise))
