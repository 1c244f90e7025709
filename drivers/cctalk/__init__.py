"""ccTalk drivers: the bus link, the coin acceptor and the payout hoppers."""

from drivers.cctalk.acceptor import CctalkCoinAcceptor
from drivers.cctalk.frame import Frame, FrameReader, Header, decode, encode
from drivers.cctalk.hopper import CctalkHopper
from drivers.cctalk.link import CctalkLink

__all__ = [
    "CctalkCoinAcceptor",
    "CctalkHopper",
    "CctalkLink",
    "Frame",
    "FrameReader",
    "Header",
    "decode",
    "encode",
]
