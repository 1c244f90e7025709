"""The machine's one state machine (``transitions`` AsyncMachine).

The physical machine does one thing at a time, and this FSM says which.  It
is queued, its states are an Enum, and its callbacks never await hardware: a
transition only records the new state and tells the owner (``on_state``),
which schedules hardware work as supervised tasks that report back with
triggers.  (In transitions 0.9 a new trigger cancels the callbacks of an
in-flight one and swallows the CancelledError, so hardware awaited inside a
callback could be stopped half-way without anyone noticing.)
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any

from transitions.extensions.asyncio import AsyncMachine

log = logging.getLogger(__name__)


class State(enum.Enum):
    BOOTING = "booting"
    IDLE = "idle"
    CREDIT = "credit"
    VENDING = "vending"
    PAYING = "paying"
    OUT_OF_SERVICE = "out_of_service"
    SERVICE = "service"


S = State
READY = (S.IDLE, S.CREDIT)
"""States in which the machine takes coins and new actions."""

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "booted", "source": S.BOOTING, "dest": S.CREDIT, "conditions": "has_credit"},
    {"trigger": "booted", "source": S.BOOTING, "dest": S.IDLE},
    {"trigger": "credit_changed", "source": list(READY), "dest": S.CREDIT,
     "conditions": "has_credit"},
    {"trigger": "credit_changed", "source": list(READY), "dest": S.IDLE},
    {"trigger": "start_vend", "source": list(READY), "dest": S.VENDING},
    {"trigger": "start_payout", "source": [*READY, S.VENDING, S.BOOTING], "dest": S.PAYING},
    {"trigger": "finished", "source": [S.VENDING, S.PAYING], "dest": S.CREDIT,
     "conditions": "has_credit"},
    {"trigger": "finished", "source": [S.VENDING, S.PAYING], "dest": S.IDLE},
    {"trigger": "fault", "source": "*", "dest": S.OUT_OF_SERVICE},
    {"trigger": "recovered", "source": S.OUT_OF_SERVICE, "dest": S.CREDIT,
     "conditions": "has_credit"},
    {"trigger": "recovered", "source": S.OUT_OF_SERVICE, "dest": S.IDLE},
    {"trigger": "enter_service", "source": [*READY, S.OUT_OF_SERVICE, S.BOOTING],
     "dest": S.SERVICE},
    {"trigger": "leave_service", "source": S.SERVICE, "dest": S.CREDIT,
     "conditions": "has_credit"},
    {"trigger": "leave_service", "source": S.SERVICE, "dest": S.IDLE},
]


class MachineModel:
    """The model the FSM drives; its ``state`` attribute is a State."""

    state: State

    def __init__(self, on_state: Callable[[State], None]) -> None:
        self._on_state = on_state
        self.panel_credit_cents = 0
        self.fsm = AsyncMachine(
            model=self,
            states=State,
            transitions=TRANSITIONS,
            initial=State.BOOTING,
            queued=True,
            send_event=True,
            auto_transitions=False,
            ignore_invalid_triggers=False,
            after_state_change="_changed",
            on_exception="_on_exception",
        )

    def has_credit(self, _event: Any = None) -> bool:
        return self.panel_credit_cents > 0

    def _changed(self, event: Any) -> None:
        log.info("state %s -> %s (%s)", event.transition.source, self.state.value,
                 event.event.name)
        self._on_state(self.state)

    def _on_exception(self, event: Any) -> None:
        log.error("fsm %s failed: %r", event.event.name, event.error)
        raise event.error

    def is_ready(self) -> bool:
        return self.state in READY

    async def fire(self, trigger: str) -> bool:
        """Fire ``trigger``; False (and no change) when it is not valid now."""
        if trigger not in self.fsm.get_triggers(self.state):
            return False
        result: bool = await self.trigger(trigger)  # type: ignore[attr-defined]
        return result
