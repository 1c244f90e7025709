"""The typed sections of a config: what every key means, and the built-in defaults.

Plain frozen dataclasses, no parsing: ``controller.config.load`` fills them from TOML,
and with no file at all they are the built-in simulated machine of DESIGN.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.config.mdb import BillsConfig, CashlessConfig, MdbConfig
from controller.config.retention import RetentionConfig
from controller.config.telemetry import TelemetryConfig
from controller.money import COINS_CENTS
from drivers.cctalk.acceptor_models import DEFAULT_ACCEPTOR_MODEL


@dataclass(frozen=True)
class MachineConfig:
    machine_id: str = "RPV0001"  # ends in 1 to 7 digits: the audit report's sender number
    model: str = "RPIVMC"
    currency: str = "EUR"  # ISO 4217 alphabetic code
    currency_code: int = 978  # ISO 4217 numeric code (or the 4-digit EVA-DTS form, 1978)
    maker_code: str = "RPV"  # 3 letters: the audit report's sender is this + 7 digits
    asset_number: str = ""  # the operator's asset number (ID106); default machine_id
    max_credit_cents: int = 1000
    deposit_claim_s: float = 30.0
    deposit_claim_cooldown_s: float = 30.0  # after a claim that ended without a coin
    simulated: bool = True

    @property
    def audit_sender(self) -> str:
        """EVA-DTS ``DXS01``: the maker code and the digits that end ``machine_id``,
        zero-padded to 7 (``RPV0001`` gives ``RPV0000001``)."""
        digits = len(self.machine_id) - len(self.machine_id.rstrip("0123456789"))
        return f"{self.maker_code}{self.machine_id[-digits:] if digits else '':0>7}"

    @property
    def audit_currency_code(self) -> int:
        """EVA-DTS ``ID402``: 4 digits, 1 then the ISO 4217 numeric code (EUR 1978)."""
        return self.currency_code if self.currency_code >= 1000 else 1000 + self.currency_code


@dataclass(frozen=True)
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    jwt_secret: str | None = None
    access_token_s: int = 900
    refresh_token_s: int = 7 * 24 * 3600
    login_attempts_per_minute: int = 10  # failed logins per (account, client address)
    login_attempts_per_address_per_minute: int = 30  # ... per client address
    signups_per_address_per_hour: int = 20
    signup_roles: tuple[str, ...] = ("buyer", "seller")  # roles POST /user may create
    max_slots_per_seller: int = 8  # 0: no limit
    max_connections: int = 1024
    max_connections_per_address: int = 64
    request_head_timeout_s: float = 5.0  # a connection must send a request head this fast
    body_timeout_s: float = 10.0  # ... and its body
    session_prune_interval_s: float = 3600.0
    tls_cert_file: str | None = None  # PEM certificate chain: the API serves HTTPS
    tls_key_file: str | None = None  # ... and its private key


@dataclass(frozen=True)
class SlotsConfig:
    rows: str = "ABCD"
    columns: int = 6
    capacity: int = 10

    @property
    def codes(self) -> list[str]:
        return [f"{r}{c}" for r in self.rows for c in range(1, self.columns + 1)]


@dataclass(frozen=True)
class AcceptorConfig:
    kind: str = "cctalk"
    port: str = "/dev/serial0"
    address: int = 2
    poll_interval_s: float = 0.1
    echo: str = "auto"
    checksum: str = "simple"
    model: str = DEFAULT_ACCEPTOR_MODEL  # drivers.cctalk.acceptor_models: generic, basic, ...
    pulse_pin: int | None = 14
    inhibit_pin: int | None = 15


@dataclass(frozen=True)
class HopperConfig:
    coin_cents: int
    kind: str = "cctalk"
    address: int = 3
    capacity: int = 200
    security: str = "serial"
    model: str = "flow"  # drivers.cctalk.hopper_models.HOPPER_MODELS: flow, sch2, sch1, plain
    motor_pin: int | None = None
    sensor_pin: int | None = None
    coin_timeout_s: float = 5.0
    late_coin_s: float = 0.5


@dataclass(frozen=True)
class MotorsConfig:
    row_pins: list[int] = field(default_factory=lambda: [5, 6, 12, 13])
    column_pins: list[int] = field(default_factory=lambda: [16, 19, 20, 21, 26, 4])
    cam_pin: int = 3
    drop_pin: int = 2
    leave_home_timeout_s: float = 1.0
    vend_timeout_s: float = 5.0
    drop_wait_s: float = 0.5
    nudges: int = 3


@dataclass(frozen=True)
class KeypadConfig:
    row_pins: list[int] = field(default_factory=lambda: [17, 27, 22, 10])
    column_pins: list[int] = field(default_factory=lambda: [9, 11, 0, 1])


@dataclass(frozen=True)
class LcdConfig:
    rs_pin: int = 7
    e_pin: int = 8
    data_pins: list[int] = field(default_factory=lambda: [25, 24, 23, 18])


@dataclass(frozen=True)
class SimConfig:
    hopper_fill: int = 20
    speed: float = 1.0


@dataclass(frozen=True)
class MetricsConfig:
    public: bool = False  # GET /metrics without an operator token (a trusted LAN only)


@dataclass(frozen=True)
class Config:
    machine: MachineConfig = field(default_factory=MachineConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    slots: SlotsConfig = field(default_factory=SlotsConfig)
    acceptor: AcceptorConfig = field(default_factory=AcceptorConfig)
    hoppers: tuple[HopperConfig, ...] = tuple(
        HopperConfig(coin_cents=c, address=3 + i) for i, c in enumerate(COINS_CENTS)
    )
    motors: MotorsConfig = field(default_factory=MotorsConfig)
    keypad: KeypadConfig = field(default_factory=KeypadConfig)
    lcd: LcdConfig = field(default_factory=LcdConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    telemetry: TelemetryConfig | None = None
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    mdb: MdbConfig = field(default_factory=MdbConfig)
    bills: BillsConfig | None = None
    cashless: CashlessConfig = field(default_factory=CashlessConfig)
    source: str = "(built-in simulated machine)"

    @property
    def hopper_capacity(self) -> dict[int, int]:
        return {h.coin_cents: h.capacity for h in self.hoppers}
