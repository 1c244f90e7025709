"""Simulated ccTalk devices that speak the same bytes as the real ones, on a pty."""

from simulators.cctalk.acceptor import SimCctalkAcceptor
from simulators.cctalk.bus import SimCctalkBus
from simulators.cctalk.device import SimCctalkDevice
from simulators.cctalk.factory import build_cctalk_bus
from simulators.cctalk.hopper import SimCctalkHopper

__all__ = [
    "SimCctalkAcceptor",
    "SimCctalkBus",
    "SimCctalkDevice",
    "SimCctalkHopper",
    "build_cctalk_bus",
]
