"""``[mdb]`` (the bus and its interface board) and ``[cashless]`` (a card reader on it)."""

from __future__ import annotations

from dataclasses import dataclass

from controller.config.reader import Section
from controller.errors import ConfigError


@dataclass(frozen=True)
class MdbConfig:
    """``[mdb]``: where the MDB bus is (an interface board on a serial port)."""

    port: str = "/dev/serial0"
    interface: str = "qibixx"  # or "raw9": 9-bit on the PL011 UART


@dataclass(frozen=True)
class CashlessConfig:
    """``[cashless]``: a card reader (``kind = "mdb"``, at address 10), or none."""

    kind: str = "none"
    always_idle: bool = False  # level 3: a VEND REQUEST may go before a card is shown
    vend_timeout_s: float = 30.0  # no approval in this time: the request is cancelled
    max_price_cents: int | None = None  # told to the reader at set-up (None: unknown)

    @property
    def enabled(self) -> bool:
        return self.kind == "mdb"


def mdb_section(s: Section) -> MdbConfig:
    d = MdbConfig()
    return MdbConfig(port=s.get_str("port", d.port),
                     interface=s.get_str("interface", d.interface, choices=("qibixx", "raw9")))


def cashless_section(s: Section) -> CashlessConfig:
    d = CashlessConfig()
    top = s.get_int("max_price_cents", 0, minval=0, maxval=65535)
    config = CashlessConfig(
        kind=s.get_str("kind", d.kind, choices=("none", "mdb")),
        always_idle=s.get_bool("always_idle", d.always_idle),
        vend_timeout_s=s.get_float("vend_timeout_s", d.vend_timeout_s, minval=1, maxval=120),
        max_price_cents=top or None)
    if top and top % 5:
        raise ConfigError(f"{s.source}: [cashless] max_price_cents: a multiple of 5, got {top}")
    return config
