"""The README read as a test reads it: its sections and its marked code blocks."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def text() -> str:
    return README.read_text(encoding="utf-8")


def marked_block(marker: str) -> str:
    """The fenced code block right after ``<!-- marker: ... -->``."""
    found = re.search(r"<!-- " + re.escape(marker) + r":[^>]*-->\n```\w*\n(.*?)\n```",
                      text(), re.DOTALL)
    assert found, f"README.md has no code block marked {marker!r}"
    return found.group(1)


def section(title: str) -> str:
    """A ``##``/``###`` section's text, up to the next heading of its level or above."""
    body = text()
    found = re.search(r"^(#+) " + re.escape(title) + r"\n", body, re.MULTILINE)
    assert found, f"README.md has no section {title!r}"
    level = len(found.group(1))
    rest = body[found.end():]
    end = re.search(r"^#{1," + str(level) + r"} ", rest, re.MULTILINE)
    return rest[:end.start()] if end else rest
