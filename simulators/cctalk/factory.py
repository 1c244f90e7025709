"""Build the simulated machine's ccTalk bus: one acceptor and a hopper per coin."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from controller.money import COINS_CENTS
from drivers.cctalk.acceptor_models import DEFAULT_ACCEPTOR_MODEL
from drivers.cctalk.frame import ChecksumMode
from simulators.cctalk.acceptor import SimCctalkAcceptor
from simulators.cctalk.bus import DEFAULT_HOPPER_ADDRESSES, SimCctalkBus
from simulators.cctalk.hopper import SimCctalkHopper
from simulators.cctalk.hopper_models import DEFAULT_HOPPER_MODEL
from simulators.world import SimWorld


def build_cctalk_bus(world: SimWorld, *, coins: Sequence[int] = COINS_CENTS,
                     acceptor_address: int | None = 2,
                     hopper_addresses: Mapping[int, int] | None = None,
                     echo: bool = False, checksum: ChecksumMode = "simple",
                     hopper_model: str = DEFAULT_HOPPER_MODEL,
                     hopper_models: Mapping[int, str] | None = None,
                     acceptor_model: str = DEFAULT_ACCEPTOR_MODEL, reply_delay_s: float = 0.002,
                     coin_interval_s: float = 0.015) -> SimCctalkBus:
    """A bus with the acceptor at ``acceptor_address`` and hoppers at their addresses.

    ``hopper_addresses`` maps coin value -> address (default 5c at 3 .. 100c at
    7); ``hopper_models`` coin value -> model name (others: ``hopper_model``);
    ``acceptor_model`` the acceptor's; ``acceptor_address=None`` leaves it out.  Call ``start()``.
    """
    if hopper_addresses is None:
        hopper_addresses = {c: a for c, a in DEFAULT_HOPPER_ADDRESSES.items() if c in coins}
    bus = SimCctalkBus(echo=echo, checksum=checksum)
    if acceptor_address is not None:
        bus.add(SimCctalkAcceptor(world, address=acceptor_address, coins=coins,
                                  model=acceptor_model, reply_delay_s=reply_delay_s))
    for coin, address in hopper_addresses.items():
        bus.add(SimCctalkHopper(world, address=address, coin_cents=coin,
                                model=(hopper_models or {}).get(coin, hopper_model),
                                reply_delay_s=reply_delay_s,
                                coin_interval_s=coin_interval_s))
    return bus
