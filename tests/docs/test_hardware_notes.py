"""docs/hardware.md: every frame of its byte table is a valid ccTalk frame, and the
repository cites that file, not one it does not hold."""

from __future__ import annotations

import re
import subprocess

from drivers.cctalk.frame import decode, encode
from tests.docs.readme import ROOT

NOTES = ROOT / "docs" / "hardware.md"


def frames() -> list[bytes]:
    table = NOTES.read_text(encoding="utf-8").split("## ccTalk byte vectors")[1]
    table = table.split("\n## ")[0]
    found = re.findall(r"`((?:[0-9A-F]{2} ){3,}[0-9A-F]{2})`", table)
    return [bytes.fromhex(f) for f in found]


def test_every_frame_in_the_table_decodes_with_a_good_checksum() -> None:
    found = frames()
    assert len(found) >= 30
    for raw in found:
        frame = decode(raw)
        assert encode(frame.dest, frame.src, frame.header, frame.data) == raw


def test_the_crc_example() -> None:
    assert encode(40, 1, 254, checksum="crc16") == bytes.fromhex("28 00 B6 FE 21")
    assert "`28 00 B6 FE 21`" in NOTES.read_text(encoding="utf-8")


def test_no_file_cites_a_hardware_md_the_repository_lacks() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    citing = [name for name in tracked if name.endswith((".py", ".md", ".toml", ".sh"))
              and "HARDWARE.md" in (ROOT / name).read_text(encoding="utf-8", errors="replace")
              and name != "tests/docs/test_hardware_notes.py"]
    assert citing == []
