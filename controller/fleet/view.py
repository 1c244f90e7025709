"""``vending fleet``: the live table of every machine that reports to a broker.

A plain client of the broker: it subscribes to ``PREFIX/+/status`` and
``PREFIX/+/inventory`` (both retained, so a new viewer sees every machine at
once), keeps them in a :class:`FleetPicture` and draws :func:`table.render`.

- ``--once`` (:func:`snapshot`) prints the table when the retained messages
  have arrived and exits;
- otherwise (:func:`follow`) the screen is drawn again after a change, at most
  ``REDRAW_HZ`` times a second, and a lost broker is reconnected with a back-off
  (0.5 s doubling to 10 s) while the last picture stays on screen with a line
  saying the broker is lost; the view never exits on its own.

Other views of the same messages (another table, a pick list) reuse
:func:`connect`, :func:`snapshot` with their own ``draw``, and the picture.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any, TextIO

import aiomqtt

from controller.config import TelemetryConfig
from controller.fleet.picture import FleetPicture
from controller.fleet.publisher import client_options
from controller.fleet.status import printable
from controller.fleet.table import render, when

SETTLE_S = 1.0  # --once: no new retained message for this long, the picture is complete
ONCE_MAX_S = 10.0
REDRAW_HZ = 4.0
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.5, 10.0
KEEPALIVE_S = 10

Draw = Callable[[FleetPicture], str]


def connect(cfg: TelemetryConfig) -> aiomqtt.Client:
    """A fresh client for the viewer (a clean session: retained messages come again)."""
    return aiomqtt.Client(**client_options(cfg), identifier=f"vending-fleet-{uuid.uuid4().hex}",
                          clean_session=True, keepalive=KEEPALIVE_S)


async def subscribe(client: aiomqtt.Client, picture: FleetPicture) -> None:
    for topic in picture.subscriptions():
        await client.subscribe(topic, qos=1)


async def snapshot(cfg: TelemetryConfig, draw: Draw = render, *,
                   max_s: float = ONCE_MAX_S) -> str:
    """Connect, take the retained picture until it settles, and draw it once."""
    picture = FleetPicture(cfg.topic_prefix)
    async with connect(cfg) as client:
        await subscribe(client, picture)
        deadline = time.monotonic() + max_s
        messages = aiter(client.messages)
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await asyncio.wait_for(anext(messages), min(SETTLE_S, left))
            except TimeoutError:
                break
            picture.take(str(message.topic), payload_bytes(message.payload))
    return draw(picture)


class Screen:
    """Where the table goes: a terminal is cleared first; a pipe gets one table after
    another, each headed by the time."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.drawn = 0

    def draw(self, header: str, body: str) -> None:
        text = f"{header}\n{body}\n"
        if self.tty:
            text = "\x1b[H\x1b[2J" + text
        else:
            text += "\n"
        self.out.write(text)
        with contextlib.suppress(OSError, ValueError):
            self.out.flush()
        self.drawn += 1


class Follower:
    """The live view: one broker link kept up, one picture, one screen."""

    def __init__(self, cfg: TelemetryConfig, out: TextIO, draw: Draw = render,
                 redraw_hz: float = REDRAW_HZ) -> None:
        self.cfg = cfg
        self.picture = FleetPicture(cfg.topic_prefix)
        self.screen = Screen(out)
        self._draw = draw
        self._period = 1.0 / redraw_hz
        self._changed = asyncio.Event()
        self.link = f"connecting to {cfg.broker}"

    def header(self) -> str:
        return f"{time.strftime('%H:%M:%S')}  {self.cfg.broker}: {self.link}"

    async def run(self) -> None:
        """Keep the link up and the screen current, until cancelled."""
        drawer = asyncio.create_task(self._redraw(), name="fleet-redraw")
        try:
            await self._stay_connected()
        finally:
            drawer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await drawer

    async def _stay_connected(self) -> None:
        delay = BACKOFF_FIRST_S
        lost_since: float | None = None
        while True:
            try:
                async with connect(self.cfg) as client:
                    await subscribe(client, self.picture)
                    self._say("connected")
                    delay, lost_since = BACKOFF_FIRST_S, None
                    async for message in client.messages:
                        if self.picture.take(str(message.topic),
                                             payload_bytes(message.payload)):
                            self._changed.set()
            except aiomqtt.MqttError as exc:
                lost_since = lost_since or time.time()
                self._say(f"LOST since {when(lost_since, time.time())} "
                          f"({printable(str(exc))}); trying again in {delay:g} s, "
                          "the table is as last heard")
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)

    def _say(self, link: str) -> None:
        if link != self.link:
            self.link = link
            self._changed.set()

    async def _redraw(self) -> None:
        self._changed.set()  # the first screen at once: "connecting"
        while True:
            await self._changed.wait()
            self._changed.clear()
            self.screen.draw(self.header(), self._draw(self.picture))
            await asyncio.sleep(self._period)


async def watch(cfg: TelemetryConfig, *, once: bool, out: TextIO = sys.stdout,
                once_max_s: float = ONCE_MAX_S) -> int:
    """``vending fleet``: with ``once`` print the settled table and return 0; else
    follow until cancelled (Ctrl-C)."""
    if once:
        out.write(await snapshot(cfg, max_s=once_max_s) + "\n")
        return 0
    await Follower(cfg, out).run()
    return 0


def payload_bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return b"" if payload is None else str(payload).encode()
