"""The config room: one TOML file read through typed, bounded getters into frozen sections.

``model`` holds the sections, ``load`` reads a file into them, ``pins`` and ``describe``
check and explain the result. It imports only ``controller.errors``, ``controller.money``
and the drivers' model tables; the names below are its public face.
"""

from controller.config.describe import describe
from controller.config.load import load, parse
from controller.config.mdb import BillsConfig, MdbConfig
from controller.config.model import (
    AcceptorConfig,
    ApiConfig,
    Config,
    HopperConfig,
    KeypadConfig,
    LcdConfig,
    MachineConfig,
    MetricsConfig,
    MotorsConfig,
    SimConfig,
    SlotsConfig,
)
from controller.config.retention import RetentionConfig
from controller.config.telemetry import TelemetryConfig, broker_address

__all__ = [
    "AcceptorConfig", "ApiConfig", "BillsConfig", "Config", "HopperConfig", "KeypadConfig",
    "LcdConfig", "MachineConfig", "MdbConfig", "MetricsConfig", "MotorsConfig",
    "RetentionConfig", "SimConfig",
    "SlotsConfig", "TelemetryConfig", "broker_address", "describe", "load", "parse",
]
