"""A reader of EVA-DTS audit reports for the tests, written from the standard's
rules (EVA-DTS 6.2 §2.2 and §2.4, Appendix A), not from the project's writer.

It checks the envelope (``DXS`` first with a 10-character sender, ``ST``,
``G85`` with the CRC-16 of the generator x^16 + x^15 + x^2 + 1 over every byte
from ``ST`` through the CRLF before ``G85``, ``SE`` counting ``ST`` to ``SE``,
``DXE`` last), then groups the segments: a repeated block is keyed by its first
element, and the ``PA2``..``PA7`` that follow a ``PA1`` belong to it.  Elements
are addressed as the standard names them: ``seg["VA102"]`` is the second
element of ``VA1``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

GENERATOR = (1 << 16) | (1 << 15) | (1 << 2) | 1  # x^16 + x^15 + x^2 + 1


def _reversed_bits(value: int, width: int) -> int:
    return int(f"{value:0{width}b}"[::-1], 2)


def crc16(data: bytes) -> int:
    """The CRC-16 by polynomial division over GF(2): each byte is sent least
    significant bit first, the message times x^16 is divided by the generator, and
    the remainder is read back in the same bit order (register starting at 0)."""
    message = 0
    for byte in data:
        message = (message << 8) | _reversed_bits(byte, 8)
    remainder = message << 16
    for shift in range(remainder.bit_length() - 17, -1, -1):
        if remainder & (1 << (shift + 16)):
            remainder ^= GENERATOR << shift
    return _reversed_bits(remainder, 16)


class Segment(dict[str, str]):
    """One data segment: element id (``VA101``) -> value ("" when not sent)."""

    tag: str

    @classmethod
    def parse(cls, line: str) -> Segment:
        tag, *values = line.split("*")
        seg = cls({f"{tag}{n:02d}": v for n, v in enumerate(values, start=1)})
        seg.tag = tag
        return seg

    def get(self, key: str, default: str = "") -> str:  # type: ignore[override]
        return super().get(key, default)

    def int(self, key: str) -> int:
        return int(self[key])


@dataclass
class Product:
    pa1: Segment
    blocks: dict[str, list[Segment]] = field(default_factory=dict)

    def one(self, tag: str) -> Segment:
        (seg,) = self.blocks[tag]
        return seg


@dataclass
class Report:
    segments: list[Segment]
    singles: dict[str, Segment]
    products: dict[str, Product]
    tubes: dict[int, Segment]  # CA17 by coin value (CA1702)
    events: dict[str, Segment]  # EA2 by event code (EA201)
    hoppers: list[Segment] = field(default_factory=list)  # HA1: one per hopper


REPEATED = {"CA17", "EA2", "HA1", "PA1", "PA2", "PA4", "PA5", "PA7"}


def read_dex(text: str) -> Report:
    """Parse and check one report; AssertionError names the first rule broken."""
    assert text.endswith("\r\n"), "a report ends with CRLF"
    lines = text[:-2].split("\r\n")
    for line in lines:
        assert line and all(" " <= c <= "~" for c in line), f"printable ASCII only: {line!r}"
    segs = [Segment.parse(line) for line in lines]
    assert [segs[0].tag, segs[1].tag, segs[-3].tag, segs[-2].tag, segs[-1].tag] == \
        ["DXS", "ST", "G85", "SE", "DXE"], "DXS ST ... G85 SE DXE"
    dxs = segs[0]
    assert re.fullmatch(r"[A-Z]{3}[0-9]{7}", dxs["DXS01"]), "DXS01: maker code + 7 digits"
    assert (dxs["DXS02"], dxs["DXS03"], dxs["DXS04"]) == ("VA", "V0/6", "1")
    assert (segs[1]["ST01"], segs[1]["ST02"]) == ("001", "0001")
    start = text.index("\r\nST*") + 2
    end = text.index("\r\nG85*") + 2
    assert segs[-3]["G8501"] == f"{crc16(text[start:end].encode('ascii')):04X}", "G85 CRC"
    assert segs[-2].int("SE01") == len(segs) - 2 and segs[-2]["SE02"] == "0001", "SE count"
    assert (segs[-1]["DXE01"], segs[-1]["DXE02"]) == ("1", "1")
    report = Report(segs, {}, {}, {}, {})
    current: Product | None = None
    for seg in segs[2:-3]:
        if seg.tag == "PA1":
            assert seg["PA101"] not in report.products, "one PA1 per product"
            current = report.products[seg["PA101"]] = Product(seg)
        elif seg.tag.startswith("PA"):
            assert current is not None, f"{seg.tag} before any PA1"
            current.blocks.setdefault(seg.tag, []).append(seg)
        elif seg.tag == "CA17":
            report.tubes[seg.int("CA1702")] = seg
        elif seg.tag == "HA1":  # one per hopper, each with its own serial
            assert seg["HA101"] not in [h["HA101"] for h in report.hoppers], "one HA1 a hopper"
            report.hoppers.append(seg)
        elif seg.tag == "EA2":
            assert seg["EA201"] not in report.events, "one EA2 per event code"
            report.events[seg["EA201"]] = seg
        else:
            assert seg.tag not in report.singles, f"{seg.tag} sent twice"
            report.singles[seg.tag] = seg
    return report


# The elements EVA-DTS 6.2 §2.5 marks M (mandatory), by block; a block that
# repeats has them in every instance.
MANDATORY = {
    "ID1": ("ID106",), "ID6": ("ID601",), "VA1": ("VA101", "VA102"),
    "VA3": ("VA301", "VA302"), "EA3": ("EA309", "EA310"),
}
MANDATORY_PER_PRODUCT = {"PA1": ("PA101", "PA107"), "PA4": ("PA401",)}
MANDATORY_PER_EVENT = ("EA201", "EA205")


def missing_mandatory(report: Report) -> list[str]:
    """Every mandatory element that is absent or empty."""
    gone = [f"{tag}:{el}" for tag, els in MANDATORY.items() for el in els
            if report.singles.get(tag, Segment()).get(el) == ""]
    for number, product in report.products.items():
        for tag, els in MANDATORY_PER_PRODUCT.items():
            segs = [product.pa1] if tag == "PA1" else product.blocks.get(tag, [])
            if not segs:
                gone.append(f"product {number}: {tag}")
            gone += [f"product {number}: {el}" for s in segs for el in els if s.get(el) == ""]
    gone += [f"event {code}: {el}" for code, seg in report.events.items()
             for el in MANDATORY_PER_EVENT if seg.get(el) == ""]
    return gone
