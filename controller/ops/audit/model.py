"""What an audit report says, as plain data read from the store (``collect``).

Money is in cents (two decimals, ``ID401``).  Every ``Pair`` holds a figure since
initialisation (``lifetime``, never reset) and since the last reset (``interim``:
an audited cashbox collection resets it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pair:
    lifetime: int
    interim: int


ZERO = Pair(0, 0)


@dataclass(frozen=True)
class Identity:
    """Who sends the report: ``DXS01``, ``ID1``, ``ID4``, ``CB1``."""
    sender: str  # DXS01: 3-letter maker code + 7 digits
    machine_id: str
    model: str
    software_version: str
    asset_number: str
    currency: str  # ISO 4217 alphabetic, ID403
    currency_code: int  # ID402, 4 digits: 1 + the ISO 4217 numeric code (EUR 1978)


@dataclass(frozen=True)
class DeviceSales:
    """Sales of one selection through one payment device (``PA7``)."""
    device: str  # CA cash, DA cashless 1
    vends: Pair
    value: Pair


@dataclass(frozen=True)
class SelectionAudit:
    """One selection (a slot): ``PA1``..``PA7``."""
    selection: str  # PA101: row number then column, "11" for A1
    price: int | None  # None: no product in the slot
    name: str
    present: bool  # PA107: its mechanism is there and answers
    level: int  # PA108: units in the slot
    min_level: int  # PA109
    capacity: int  # PA104
    vends: Pair  # every paid vend, whatever paid it (PA2)
    value: Pair
    by_device: Sequence[DeviceSales] = ()
    last_sale_at: float | None = None  # PA5


@dataclass(frozen=True)
class CoinTube:
    """A hopper (a "tube" in EVA-DTS): ``CA17``."""
    type_number: int  # CA1701: position in the coin set, lowest value first, from 0
    coin: int
    count: int
    full: bool


@dataclass(frozen=True)
class EventAudit:
    """An event code with occurrences since the last reset or active now (``EA2``)."""
    code: str
    count: Pair
    active: bool


@dataclass(frozen=True)
class ReadAudit:
    """This read of the report (``EA3``)."""
    reads: int  # EA309, this one included
    resets: int  # EA310
    at: float  # EA302/303
    previous_at: float | None  # EA305/306


@dataclass(frozen=True)
class DeviceId:
    """A payment device as ``CA1``/``HA1`` name it: serial, model, software revision,
    from what the device said it is at start-up (``drivers.base.DeviceIdentity``)."""
    serial: str
    model: str
    revision: str

    @classmethod
    def from_identity(cls, identity: Mapping[str, object]) -> DeviceId:
        """From a stored identity; the model is the product code, else the maker."""
        def field_(key: str) -> str:
            value = identity.get(key)
            return "" if value is None else str(value)
        return cls(field_("serialNumber"), field_("productCode") or field_("manufacturer"),
                   field_("softwareRevision"))


@dataclass(frozen=True)
class AuditData:
    identity: Identity
    read: ReadAudit
    sales_value: Pair  # every paid vend (VA1 = cash + cashless)
    sales_count: Pair
    cash_sales_value: Pair  # CA2
    cash_sales_count: Pair
    cash_in: Pair
    cash_to_cashbox: Pair
    cash_to_hoppers: Pair
    change_paid: Pair
    refills: Pair
    acceptor_model: str = "CCTALK-ACC"
    acceptor: DeviceId | None = None  # CA1, when the acceptor identified itself
    hoppers: Sequence[DeviceId] = ()  # one HA1 each, in coin order
    selections: Sequence[SelectionAudit] = field(default_factory=list)
    tubes: Sequence[CoinTube] = field(default_factory=list)
    events: Sequence[EventAudit] = field(default_factory=list)
    counters: Mapping[str, Pair] = field(default_factory=dict)  # every audit counter
    card_reader: Mapping[str, str] | None = None  # its identity, when the machine has one
    devices: Mapping[str, tuple[str, str, str]] = field(default_factory=dict)
    """Payment devices that tell who they are (serial, model, software): ``changer``
    (an MDB coin changer: ``CA1``), ``bills`` (an MDB bill validator: ``BA1``)."""

    def counter(self, name: str) -> Pair:
        """An audit counter by name (``schema.COUNTER_NAMES``; 0 when absent), for a
        builder that needs one no field above carries (a card reader's ``DA2``)."""
        return self.counters.get(name, ZERO)

    @property
    def cash_bag(self) -> int:
        """ID601: the bag now in the machine; each audited collection takes one away."""
        return self.read.resets + 1
