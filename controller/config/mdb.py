"""``[mdb]``, ``[bills]`` and ``[cashless]``: the MDB bus and the payment devices on it.

``[mdb]`` says where the bus is (the interface board's serial port) and how
it is reached (``qibixx``: the Qibixx MDB Pi HAT, the supported way; ``raw9``:
9-bit straight on the PL011 UART).  ``[acceptor] kind = "mdb"`` puts a coin
changer on it, whose tubes replace the hoppers (``[[hoppers]]`` beside it is
refused); ``[bills] kind = "mdb"`` a bill validator taking ``accept_cents``;
``[cashless] kind = "mdb"`` a card reader at address 10.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.config.reader import Section
from controller.errors import ConfigError
from controller.money import COINS_CENTS

BILL_VALUES_CENTS = (500, 1000, 2000, 5000, 10000, 20000, 50000)


@dataclass(frozen=True)
class MdbConfig:
    """``[mdb]``: the bus."""

    port: str = "/dev/serial0"
    interface: str = "qibixx"
    poll_interval_s: float = 0.12  # each device polled this often (MDB: 25-200 ms)
    tube_capacity: int = 50  # coins a changer tube holds (the books' tube capacity)


@dataclass(frozen=True)
class BillsConfig:
    """``[bills]``: a bill validator (off when the section is absent)."""

    kind: str = "mdb"
    accept_cents: tuple[int, ...] = field(default=(500, 1000, 2000))


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


def mdb_section(s: Section) -> MdbConfig:
    d = MdbConfig()
    return MdbConfig(
        port=s.get_str("port", d.port),
        interface=s.get_str("interface", d.interface, choices=("qibixx", "raw9")),
        poll_interval_s=s.get_float("poll_interval_s", d.poll_interval_s, minval=0.025,
                                    maxval=0.2),
        tube_capacity=s.get_int("tube_capacity", d.tube_capacity, minval=1, maxval=255),
    )


def bills_section(s: Section) -> BillsConfig:
    d = BillsConfig()
    kind = s.get_str("kind", d.kind, choices=("mdb",))
    accept = s.get_int_list("accept_cents", list(d.accept_cents), minval=1, maxval=1_000_000)
    bad = [v for v in accept if v not in BILL_VALUES_CENTS]
    if bad or not accept or len(set(accept)) != len(accept):
        raise ConfigError(f"{s.source}: [bills] accept_cents: distinct bill values among "
                          f"{', '.join(map(str, BILL_VALUES_CENTS))}, got {accept}")
    return BillsConfig(kind=kind, accept_cents=tuple(sorted(accept)))


def check_mdb(has_hoppers_section: bool, acceptor_kind: str, has_bills: bool,
              has_mdb: bool, source: str) -> None:
    """The MDB sections fit together: a changer has no hoppers beside it, and MDB
    devices need the bus."""
    if acceptor_kind == "mdb" and has_hoppers_section:
        raise ConfigError(f"{source}: [[hoppers]] beside an MDB changer ([acceptor] kind = "
                          "\"mdb\"): its tubes pay change; remove the hoppers")
    if (acceptor_kind == "mdb" or has_bills) and not has_mdb:
        raise ConfigError(f"{source}: MDB devices need an [mdb] section (port, interface)")


def tube_hoppers_capacity(mdb: MdbConfig) -> dict[int, int]:
    """Each coin's tube capacity, as the books' hopper capacity."""
    return {c: mdb.tube_capacity for c in COINS_CENTS}
