"""The drivers' own exceptions: what a device did wrong, in one tree.

Drivers never import the controller; the controller maps these to its own
errors (``controller.errors.from_driver``).  Each class also inherits the
builtin that fits, so generic handlers still work, and carries a stable
``code`` for logs and events.

One rule for constructor checks: a bad argument to a driver's constructor
(pins, addresses, timings, sizes) is a plain ``ValueError``, raised by the
constructor itself, which opens no pin and no port (``start()`` does).  GPIO
drivers check their pins with ``drivers.gpio.lines.check_distinct_pins``.
A driver used before ``start()`` raises ``NotStarted``.
"""

from __future__ import annotations


class DriverError(Exception):
    """Base of every error a driver raises on purpose."""

    code = "driver_error"


class HardwareError(DriverError):
    """A device did not behave as required."""

    code = "hardware_error"


class NotStarted(HardwareError):
    """The driver was used before ``start()`` (or after ``close()``)."""

    code = "not_started"


class DriverTimeout(HardwareError, TimeoutError):
    """A device did not answer in time."""

    code = "driver_timeout"


class DeviceLost(HardwareError, ConnectionError):
    """A device stopped answering after the bounded retries."""

    code = "device_lost"


class ProtocolError(HardwareError):
    """A reply broke the protocol (bad checksum, wrong length, wrong address)."""

    code = "protocol_error"


class DeviceNak(HardwareError):
    """The device answered NAK."""

    code = "device_nak"


class DeviceBusy(HardwareError):
    """The device answered BUSY."""

    code = "device_busy"


class HopperFault(HardwareError):
    """A hopper is empty, jammed or paid short."""

    code = "hopper_fault"


class UnknownSlot(DriverError, LookupError):
    """The spiral matrix has no such slot."""

    code = "unknown_slot"
