"""The in-process event stream: delivery, filtering, overflow and closing."""

import asyncio

import pytest

from controller.events import EventStream

pytestmark = pytest.mark.asyncio


async def test_every_subscriber_gets_each_event_once_in_order() -> None:
    stream = EventStream()
    with stream.subscribe() as a, stream.subscribe(["credit"]) as b:
        stream.publish("state", state="idle", previous="booting")
        stream.publish("credit", holder="panel", cents=50)
        first, second = await a.get(), await a.get()
        only = await b.get()
    assert (first.kind, second.kind) == ("state", "credit")
    assert only.kind == "credit" and only.data == {"holder": "panel", "cents": 50}
    assert b.get_nowait() is None
    assert stream.subscriber_count == 0


async def test_a_slow_subscriber_loses_the_oldest_and_is_told() -> None:
    stream = EventStream()
    sub = stream.subscribe(maxlen=3)
    for cents in range(5):
        stream.publish("credit", holder="panel", cents=cents)
    resync = await sub.get()
    assert resync.kind == "resync" and resync.data == {"dropped": 2}
    assert [(await sub.get()).data["cents"] for _ in range(3)] == [2, 3, 4]


async def test_a_waiting_subscriber_wakes_and_a_closed_one_stops() -> None:
    stream = EventStream()
    sub = stream.subscribe()
    waiter = asyncio.ensure_future(sub.get())
    await asyncio.sleep(0)
    stream.publish("inventory")
    assert (await asyncio.wait_for(waiter, 1)).kind == "inventory"
    sub.close()
    with pytest.raises(StopAsyncIteration):
        await sub.get()
    stream.publish("inventory")  # no subscriber left: nothing to deliver, no error


async def test_unknown_kinds_are_refused() -> None:
    stream = EventStream()
    with pytest.raises(ValueError):
        stream.publish("nonsense")
    with pytest.raises(ValueError):
        stream.subscribe(["state", "nonsense"])
