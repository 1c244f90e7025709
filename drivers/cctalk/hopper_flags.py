"""The test hopper (163) flags: what each bit of the first byte means.

SCH1-style firmware answers one byte, SCH2 two and SCH3 three; the meanings
below are those of the first byte, the same on all of them.  Bit 2 ("motor
reversed") says the hopper cleared a jam by itself: it stays latched until a
reset, so it is not a jam now and never names a fault on its own.  Bit 6
("power-up") stays set from power-up until a reset command (header 1), and the
opto flags (bits 3 to 5) stay set until a reset: a hopper refuses to pay
while one is, so the host resets it first.
"""

from __future__ import annotations

FLAG_MAX_CURRENT = 0x01  # bit 0: motor over current: a jam
FLAG_PAYOUT_TIMEOUT = 0x02  # bit 1: no coin came out in time: empty
FLAG_MOTOR_REVERSED = 0x04  # bit 2: a jam cleared by reversing (latched)
FLAG_OPTO_BLOCKED_IDLE = 0x08  # bit 3: exit opto path blocked while idle
FLAG_OPTO_SHORT_IDLE = 0x10  # bit 4: exit opto short circuit while idle
FLAG_OPTO_BLOCKED_PAYOUT = 0x20  # bit 5: exit opto blocked for good during a payout
FLAG_POWER_UP = 0x40  # bit 6: power-up detected (registers were reset)
FLAG_PAYOUT_DISABLED = 0x80  # bit 7: payout disabled (not enabled with 164 A5)

FLAG_MEANINGS: dict[int, str] = {
    FLAG_MAX_CURRENT: "maximum current exceeded (jam)",
    FLAG_PAYOUT_TIMEOUT: "payout timeout (empty)",
    FLAG_MOTOR_REVERSED: "motor reversed to clear a jam (latched until reset)",
    FLAG_OPTO_BLOCKED_IDLE: "exit opto path blocked at idle",
    FLAG_OPTO_SHORT_IDLE: "exit opto short circuit at idle",
    FLAG_OPTO_BLOCKED_PAYOUT: "exit opto blocked permanently during payout",
    FLAG_POWER_UP: "power-up detected",
    FLAG_PAYOUT_DISABLED: "payout disabled",
}

JAM_FLAGS = FLAG_MAX_CURRENT | FLAG_OPTO_BLOCKED_PAYOUT
SENSOR_FLAGS = FLAG_OPTO_BLOCKED_IDLE | FLAG_OPTO_SHORT_IDLE
# the opto fraud flags: latched until a reset (header 1), no payout before it
OPTO_FLAGS = FLAG_OPTO_BLOCKED_IDLE | FLAG_OPTO_SHORT_IDLE | FLAG_OPTO_BLOCKED_PAYOUT
# what a reset clears and a host resets for: power-up, and the opto flags
RESET_FLAGS = FLAG_POWER_UP | OPTO_FLAGS


def describe_test_flags(flags: bytes) -> list[str]:
    """The meaning of every bit set in the first byte, lowest bit first."""
    first = flags[0] if flags else 0
    return [meaning for bit, meaning in FLAG_MEANINGS.items() if first & bit]


def fault_from_test_flags(flags: bytes) -> str:
    """Name the cause of a short pay: jam, sensor, empty or short_pay.

    "Payout disabled" names no fault: an emergency stop sets it too."""
    first = flags[0] if flags else 0
    if first & JAM_FLAGS:
        return "jam"
    if first & SENSOR_FLAGS:
        return "sensor"
    if first & FLAG_PAYOUT_TIMEOUT:
        return "empty"
    return "short_pay"
