"""The small interfaces every device implements, real or simulated.

The controller only ever talks to these classes.  A real driver
(``drivers.cctalk``, ``drivers.gpio``) and a simulated device behind the same
bytes or pin levels (``simulators``) both sit underneath them, so the code
that runs on the machine is the code that runs in tests.

Life cycle of every device: construct without I/O, ``await start()`` opens the
port or pins, ``await close()`` switches outputs off and releases them.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from drivers.heartbeat import Heartbeat

if TYPE_CHECKING:
    from drivers.mdb.bills import MdbBillValidator
    from drivers.mdb.cashless import MdbCashlessReader

# --- identity ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """Who a device says it is, read at start-up (ccTalk 246, 245, 244, 242, 241,
    4, 192); a field is None when the device does not answer that request."""

    manufacturer: str | None = None
    category: str | None = None
    product_code: str | None = None
    serial_number: str | None = None  # as the device's bytes read, most significant first
    software_revision: str | None = None
    comms_revision: str | None = None
    build_code: str | None = None
    extra: dict[str, str] = field(default_factory=dict)  # e.g. a hopper's coin id (171)

    def as_json(self) -> dict[str, object]:
        return {"manufacturer": self.manufacturer, "category": self.category,
                "productCode": self.product_code, "serialNumber": self.serial_number,
                "softwareRevision": self.software_revision,
                "commsRevision": self.comms_revision, "buildCode": self.build_code,
                **self.extra}


# --- coin acceptor ----------------------------------------------------------


class CoinEventKind(enum.StrEnum):
    """What a coin acceptor can report."""

    CREDIT = "credit"  # a coin was accepted; value_cents is set
    REJECTED = "rejected"  # ccTalk event 1: coin not recognised, returned
    INHIBITED = "inhibited"  # ccTalk 2 and 128..159: coin of an inhibited type, returned
    SENSOR = "sensor"  # ccTalk 8..12 and timeouts: coin too fast, sensor not ready (returned)
    SENSOR_FAULT = "sensor_fault"  # ccTalk 6, 7, 13..15, 26, 29, 30, 32, 35: needs service
    FRAUD = "fraud"  # ccTalk 16, 20, 23..25, 40: fraud attempts
    COIN_BACKWARDS = "coin_backwards"  # ccTalk 17: a coin pulled back (coin on a string)
    COIN_MAY_BE_SWALLOWED = "coin_may_be_swallowed"  # ccTalk 18, 19, 36: no credit, kept
    RETURN_LEVER = "return_lever"  # ccTalk 254: coin-return mechanism opened
    ALARM = "alarm"  # ccTalk 255 and any code not named above
    # (drivers/cctalk/acceptor_events.py classifies every ccTalk code)
    DEVICE_RESET = "device_reset"  # the device reset (event counter 0): inhibits re-sent
    EVENTS_LOST = "events_lost"  # more than 5 events since the last poll: some were lost
    DEVICE_LOST = "device_lost"  # the device stopped answering
    DEVICE_BACK = "device_back"  # the device answers again after DEVICE_LOST
    # an MDB changer's own tubes (drivers/mdb/changer.py)
    MANUAL_PAYOUT = "manual_payout"  # ``count`` coins of value_cents paid out by hand
    TUBE_COUNT = "tube_count"  # the changer's tube of value_cents holds ``count`` coins


@dataclass(frozen=True, slots=True)
class CoinEvent:
    """One event of a coin acceptor, in the order the device saw them."""

    kind: CoinEventKind
    value_cents: int = 0
    code: int = 0  # raw device event code (ccTalk B byte) where there is one
    position: int = 0  # coin position (ccTalk A byte) where there is one
    meaning: str = ""  # what the device code means, for the log
    alert: bool = False  # an operator must know of it (fraud, a swallowed coin, a fault)
    route: str = ""  # where the device put a credited coin ("tube", "cashbox"); "" unknown
    count: int = 0  # coins concerned (MANUAL_PAYOUT, TUBE_COUNT)


@dataclass(frozen=True, slots=True)
class CoinBatch:
    """Events from one poll, oldest first.

    ``counter`` is the device's event counter after these events (ccTalk) or
    None (pulse acceptor, status events).  The controller stores it in the same
    transaction as the credit the batch produced, and hands the stored value
    back to ``CoinAcceptor.start(resume_counter=...)`` after a restart, so a coin
    is neither lost nor credited twice.
    """

    events: tuple[CoinEvent, ...]
    counter: int | None = None


CoinHandler = Callable[[CoinBatch], Awaitable[None]]


class CoinAcceptor(ABC):
    """A coin validator that accepts or refuses coins and reports credit.

    The driver runs its own poll loop (or edge callbacks) after ``start`` and
    awaits the handler with every batch of new events.  It advances its own
    notion of "seen" only after the handler returned: if the handler raises,
    the same events are delivered again on the next poll.
    """

    name: str
    heartbeat: Heartbeat | None = None  # set by drivers that run a poll or delivery loop
    identity: DeviceIdentity | None = None  # what the device said at start-up (None: nothing)
    fills_tubes_in_service = False  # an MDB changer: coins in service mode refill its tubes

    @abstractmethod
    def set_handler(self, handler: CoinHandler) -> None: ...

    @abstractmethod
    async def start(self, *, resume_counter: int | None = None) -> None: ...

    @abstractmethod
    async def set_accepting(self, accepting: bool) -> None:
        """Master inhibit: False refuses every coin (the safe state)."""

    @abstractmethod
    async def set_coins_enabled(self, coins_cents: Collection[int]) -> None:
        """Per-coin inhibit: only these values are accepted while accepting."""

    @property
    @abstractmethod
    def known_coins_cents(self) -> frozenset[int]:
        """The coin values this acceptor can recognise."""

    @property
    @abstractmethod
    def accepting(self) -> bool: ...

    @property
    def event_counter(self) -> int | None:
        """The device event counter the handler has taken events up to (None: no counter).

        After a first start with no stored counter the controller stores this
        baseline at once, so a coin inserted before the first credit is
        journaled is still found after a restart.
        """
        return None

    @abstractmethod
    async def close(self) -> None: ...


# --- hopper -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HopperStatus:
    """What a hopper says about its last dispense.

    ``counter`` is the hopper's dispense event counter (ccTalk header 166
    byte 1), read before a payout is journaled: after a crash, a counter that
    has not moved proves the dispense command never reached the hopper.
    """

    counter: int
    remaining: int
    paid: int
    unpaid: int


def dispense_accepted(before: HopperStatus, after: HopperStatus, count: int) -> bool | None:
    """Whether a dispense of ``count`` that moved the counter was accepted.

    The counter moves on every dispense a hopper receives, also one it refuses.
    A refused dispense leaves ``remaining``, ``paid`` and ``unpaid`` as the
    last payout left them; an accepted one starts them anew, and once nothing
    remains ``paid + unpaid == count``.  None when the two cannot be told
    apart: the last payout was of the same count and ended with the same
    figures.  ``before`` must have been read with nothing remaining.
    """
    if after.remaining > 0 or (after.paid, after.unpaid) != (before.paid, before.unpaid):
        return True
    if before.paid + before.unpaid != count:
        return False
    return None


@dataclass(frozen=True, slots=True)
class PayoutResult:
    """The outcome of one dispense request."""

    requested: int
    paid: int
    fault: str | None = None  # "empty", "jam", "device_lost", ... when paid < requested
    certain: bool = True  # False when the device was lost and paid is a lower bound

    @property
    def unpaid(self) -> int:
        return self.requested - self.paid


CoinPaidHook = Callable[[int], Awaitable[None]]


class Hopper(ABC):
    """A change hopper holding coins of one value.

    ``counter_moves_on_refusal``: whether its event counter also moves on a
    dispense it refuses (then a moved counter alone does not prove a payout).
    """

    name: str
    coin_cents: int
    identity: DeviceIdentity | None = None  # what the device said at start-up (None: nothing)
    counter_moves_on_refusal: bool = True
    counter_is_coin_count = False
    """True for a changer's tube: ``status().counter`` is the coins it holds, so the
    coins a cut payout paid are the drop in that count (``controller.recovery``)."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def status(self) -> HopperStatus: ...

    async def poll(self) -> None:
        """Check the hopper is there (cheap; at rest).  Raises HardwareError if not."""
        await self.status()

    async def prepare_payout(self) -> None:
        """Whatever the hopper needs before a payout is journaled (a reset that
        clears a power-up or sensor flag).  Raises HardwareError when it cannot pay."""
        return None

    async def dispense_count(self) -> int | None:
        """Coins paid over the hopper's life (ccTalk 168), or None when the model
        has no such count.  Raises HardwareError when it does not answer."""
        return None

    @abstractmethod
    async def dispense(self, count: int, *, on_paid: CoinPaidHook | None = None) -> PayoutResult:
        """Pay ``count`` coins and wait until done.

        Never raises once a coin may have moved: a short pay, an empty or
        jammed hopper, or a lost device come back as a result with ``fault``.
        ``on_paid(total_paid_so_far)`` is awaited as coins are counted out.
        Raises HardwareError only when it is certain nothing was paid.
        """

    @abstractmethod
    async def emergency_stop(self) -> HopperStatus: ...

    @abstractmethod
    async def close(self) -> None: ...


# --- spiral motors ----------------------------------------------------------


class VendOutcome(enum.StrEnum):
    DELIVERED = "delivered"  # the drop sensor saw a product fall
    NO_DROP = "no_drop"  # turns completed (with nudges) but nothing fell
    JAM_HOME = "jam_home"  # the cam never left home: jammed or motor missing
    JAM_TURN = "jam_turn"  # the cam left home but did not return in time


@dataclass(frozen=True, slots=True)
class VendResult:
    slot: str
    outcome: VendOutcome
    turns: int = 0
    detail: str = ""

    @property
    def delivered(self) -> bool:
        return self.outcome is VendOutcome.DELIVERED


class SpiralMatrix(ABC):
    """Spiral motors in a row x column matrix, one running at a time."""

    slots: tuple[str, ...]

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def vend(self, slot: str) -> VendResult:
        """Turn one spiral until a product drops (with nudges) or it fails."""

    @abstractmethod
    async def stop_all(self) -> None:
        """Every motor output off at once (the fault path)."""

    @abstractmethod
    async def close(self) -> None: ...


# --- front panel ------------------------------------------------------------

KeyHandler = Callable[[str], None]


class Keypad(ABC):
    """A matrix keypad: keys 0-9, A-D, * and #."""

    heartbeat: Heartbeat | None = None  # set by keypads that scan in a loop

    @abstractmethod
    def set_handler(self, handler: KeyHandler) -> None:
        """Called on the event loop with each debounced key press."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...


class Display(ABC):
    """A character display of ``rows`` lines of ``columns`` characters."""

    rows: int = 2
    columns: int = 16

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def show(self, *lines: str) -> None:
        """Show these lines, each cut or padded to the display width."""

    @abstractmethod
    async def close(self) -> None: ...


@dataclass
class Devices:
    """Every device the machine drives."""

    acceptor: CoinAcceptor
    hoppers: dict[int, Hopper]
    spirals: SpiralMatrix
    keypad: Keypad
    display: Display
    extra_closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    card_reader: MdbCashlessReader | None = None  # a cashless reader on the MDB bus
    bills: MdbBillValidator | None = None  # an MDB bill validator, when configured

    def heartbeats(self) -> list[Heartbeat]:
        """The signs of life of every device loop, for the process supervisor."""
        return [hb for hb in (self.acceptor.heartbeat, self.keypad.heartbeat) if hb is not None]
