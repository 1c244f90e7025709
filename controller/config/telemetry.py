"""``[telemetry]``: reporting to an MQTT broker (off when the section is absent)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from controller.config.reader import Section
from controller.errors import ConfigError


@dataclass(frozen=True)
class TelemetryConfig:
    """``[telemetry]``: report to an MQTT broker (off when the section is absent)."""

    broker: str = "mqtt://127.0.0.1:1883"
    topic_prefix: str = "vending"
    commands: bool = False
    username: str | None = None
    password_file: str | None = None
    ca_file: str | None = None
    max_backlog_events: int = 100_000

    @property
    def tls(self) -> bool:
        return self.broker.startswith("mqtts://")

    @property
    def host(self) -> str:
        return broker_address(self.broker)[0]

    @property
    def port(self) -> int:
        return broker_address(self.broker)[1]


def broker_address(url: str) -> tuple[str, int]:
    """``mqtt://host[:port]`` or ``mqtts://host[:port]`` as (host, port); ValueError if not."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"bad port in {url!r}") from None
    if (parts.scheme not in ("mqtt", "mqtts") or not parts.hostname
            or parts.path not in ("", "/") or parts.query or parts.username):
        raise ValueError(f"expected mqtt://host[:port] or mqtts://host[:port], got {url!r}")
    return parts.hostname, port or (8883 if parts.scheme == "mqtts" else 1883)


def telemetry_section(s: Section) -> TelemetryConfig:
    d = TelemetryConfig()
    broker = s.get_str("broker", d.broker)
    try:
        broker_address(broker)
    except ValueError as exc:
        raise ConfigError(f"{s.source}: [telemetry] broker: {exc}") from None
    prefix = s.get_str("topic_prefix", d.topic_prefix)
    if not prefix or any(ch in prefix for ch in "+#") or prefix.strip("/") != prefix:
        raise ConfigError(f"{s.source}: [telemetry] topic_prefix: a topic level without "
                          f"wildcards or outer slashes, got {prefix!r}")
    return TelemetryConfig(
        broker=broker, topic_prefix=prefix,
        commands=s.get_bool("commands", d.commands),
        username=s.get_optional_str("username"),
        password_file=s.get_optional_str("password_file"),
        ca_file=s.get_optional_str("ca_file"),
        max_backlog_events=s.get_int("max_backlog_events", d.max_backlog_events,
                                     minval=10, maxval=10_000_000),
    )
