"""The text rules of an EVA-DTS (DEX) report, whatever it carries.

A data segment is a block identifier and its elements joined by ``*`` and
ended by CRLF; an element that is not available is left empty (trailing empty
ones are dropped).  Elements are printable ASCII (20h..7Eh): ``*`` and ``^``
are sent as ``^2A^`` and ``^5E^``, letters with accents lose them, any other
character below 100h is sent as ``^XX^``.  The transaction set ``ST ... SE``
ends with ``G85`` (the CRC-16 of every byte from the ``S`` of ``ST`` through the
CRLF before ``G85``, most significant byte first, 4 hex digits) and ``SE``
(the number of segments from ``ST`` through ``SE``); ``DXS`` and ``DXE`` wrap
it (EVA-DTS 6.2, §2.2 and §2.4).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

CRLF = "\r\n"
VERSION = "V0/6"  # DXS03 for a report of EVA-DTS 6.0 and later
Field = str | int | None


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC: generator x^16 + x^15 + x^2 + 1 (0x8005, reflected 0xA001), init 0."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def text(value: str, max_len: int = 20) -> str:
    """An alphanumeric element: printable ASCII, escaped, at most ``max_len`` characters
    (an escape is never cut)."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", value)
                     if not unicodedata.combining(c))
    out = ""
    for char in folded:
        if char in "*^" or not " " <= char <= "~":
            token = f"^{ord(char):02X}^" if ord(char) < 0x100 else "?"
        else:
            token = char
        if len(out) + len(token) > max_len:
            break
        out += token
    return out


def segment(tag: str, *fields: Field) -> str:
    """One data segment without its CRLF: ``TAG*f1*f2...``, None as an empty element,
    trailing empty elements dropped."""
    values = ["" if f is None else str(f) for f in fields]
    while values and values[-1] == "":
        values.pop()
    return "*".join([tag, *values])


def report(sender: str, body: Iterable[str]) -> str:
    """The whole report: ``DXS``, ``ST``, the body's segments, ``G85``, ``SE``, ``DXE``."""
    lines: list[str] = ["ST*001*0001", *body]
    crc = crc16_arc("".join(line + CRLF for line in lines).encode("ascii"))
    lines.append(f"G85*{crc:04X}")
    lines.append(f"SE*{len(lines) + 1}*0001")
    return "".join(line + CRLF for line in
                   [segment("DXS", sender, "VA", VERSION, 1), *lines, "DXE*1*1"])

