"""The front panel's 4x4 keypad: its key layout, the one definition of it.

Rows top to bottom, columns left to right.  The letter keys pick a slot row
(so a machine has at most as many slot rows as there are letter keys), the
digits a column; ``*`` is coin return, ``#`` clears a half-typed code.
"""

from __future__ import annotations

KEYPAD_LAYOUT: tuple[str, ...] = ("123A", "456B", "789C", "*0#D")
ALL_KEYS = frozenset("".join(KEYPAD_LAYOUT))
ROW_KEYS = "".join(k for row in KEYPAD_LAYOUT for k in row if k.isalpha())
"""The letter keys, in layout order: the slot rows a customer can key."""
COIN_RETURN_KEY = "*"
CLEAR_KEY = "#"
