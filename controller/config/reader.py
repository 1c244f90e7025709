"""Typed, bounded access to one TOML table of a config file.

Every key is read through a getter that names its unit and bounds; a key
nobody read fails start-up (``check_unknown``) with the key and the file
named, so a misspelt ``max_credit_cent`` never silently falls back to a
default.
"""

from __future__ import annotations

from typing import Any

from controller.errors import ConfigError


class Section:
    """Typed access to one TOML table, remembering which keys were read."""

    def __init__(self, data: dict[str, Any], name: str, source: str) -> None:
        self._data = data
        self._name = name
        self._source = source
        self._used: set[str] = set()
        self._children: list[Section] = []

    @property
    def source(self) -> str:
        """The file this table was read from."""
        return self._source

    def _where(self, key: str) -> str:
        return f"{self._name}.{key}" if self._name else key

    def _fail(self, key: str, why: str) -> ConfigError:
        return ConfigError(f"{self._source}: [{self._name or 'top'}] {key}: {why}")

    def _raw(self, key: str, default: Any, kind: type | tuple[type, ...]) -> Any:
        self._used.add(key)
        if key not in self._data:
            return default
        value = self._data[key]
        if isinstance(value, bool) and kind is not bool:
            raise self._fail(key, f"expected {getattr(kind, '__name__', kind)}, got a boolean")
        if not isinstance(value, kind):
            raise self._fail(key, f"expected {getattr(kind, '__name__', kind)}, got {value!r}")
        return value

    def get_int(self, key: str, default: int, *, minval: int | None = None,
                maxval: int | None = None) -> int:
        value: int = self._raw(key, default, int)
        if minval is not None and value < minval:
            raise self._fail(key, f"must be at least {minval}, got {value}")
        if maxval is not None and value > maxval:
            raise self._fail(key, f"must be at most {maxval}, got {value}")
        return value

    def get_float(self, key: str, default: float, *, minval: float | None = None,
                  maxval: float | None = None, above: float | None = None) -> float:
        value = float(self._raw(key, default, (int, float)))
        if minval is not None and value < minval:
            raise self._fail(key, f"must be at least {minval}, got {value}")
        if maxval is not None and value > maxval:
            raise self._fail(key, f"must be at most {maxval}, got {value}")
        if above is not None and value <= above:
            raise self._fail(key, f"must be above {above}, got {value}")
        return value

    def get_str(self, key: str, default: str, *, choices: tuple[str, ...] | None = None) -> str:
        value: str = self._raw(key, default, str)
        if choices is not None and value not in choices:
            raise self._fail(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def get_optional_str(self, key: str) -> str | None:
        value: str | None = self._raw(key, None, str)
        return value

    def get_pin(self, key: str, default: int | None) -> int | None:
        """A BCM GPIO number (0 is a pin); None when neither given nor defaulted."""
        value: int | None = self._raw(key, default, int)
        if value is not None and not 0 <= value <= 53:
            raise self._fail(key, f"must be a GPIO number 0..53, got {value}")
        return value

    def get_bool(self, key: str, default: bool) -> bool:
        value: bool = self._raw(key, default, bool)
        return value

    def get_str_list(self, key: str, default: tuple[str, ...], *,
                     choices: tuple[str, ...]) -> tuple[str, ...]:
        value = self._raw(key, list(default), list)
        if not all(isinstance(v, str) and v in choices for v in value):
            raise self._fail(key, f"expected a list of {', '.join(choices)}, got {value!r}")
        return tuple(dict.fromkeys(value))

    def get_int_list(self, key: str, default: list[int], *, length: int | None = None,
                     minval: int = 0, maxval: int = 53) -> list[int]:
        value = self._raw(key, default, list)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise self._fail(key, "expected a list of integers")
        if length is not None and len(value) != length:
            raise self._fail(key, f"expected {length} values, got {len(value)}")
        if any(v < minval or v > maxval for v in value):
            raise self._fail(key, f"values must be in {minval}..{maxval}")
        return list(value)

    def section(self, key: str) -> Section:
        data = self._raw(key, {}, dict)
        child = Section(data, self._where(key), self._source)
        self._children.append(child)
        return child

    def sections(self, key: str) -> list[Section]:
        data = self._raw(key, [], list)
        out = []
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise self._fail(key, "expected an array of tables ([[...]])")
            out.append(Section(item, f"{self._where(key)}[{i}]", self._source))
        self._children.extend(out)
        return out

    def check_unknown(self) -> None:
        """Fail on any key nobody asked for, here or in a child table."""
        unknown = sorted(set(self._data) - self._used)
        if unknown:
            raise self._fail(unknown[0], "unknown key (misspelt?)")
        for child in self._children:
            child.check_unknown()
