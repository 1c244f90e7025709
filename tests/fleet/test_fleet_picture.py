"""The fleet view's checks and words, without a broker: what one machine's bad or
hostile message can do to the table (nothing but mark itself), and what the table says."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.fleet.picture import FleetPicture
from controller.fleet.status import printable
from controller.fleet.table import plural, render, totals

GOOD = {"online": True, "state": "idle", "faults": [], "version": "0.1.0", "ts": 1.0e9,
        "salesToday": {"count": 2, "cents": 130}}


def status(picture: FleetPicture, machine: str, body: Any) -> None:
    picture.take(f"vending/{machine}/status", json.dumps(body).encode())


@pytest.mark.parametrize(("change", "field"), [
    ({"salesToday": {"count": 1, "cents": "lots"}}, "salesToday.cents"),
    ({"salesToday": {"count": -1, "cents": 5}}, "salesToday.count"),
    ({"salesToday": {"count": True, "cents": 5}}, "salesToday.count"),
    ({"salesToday": {"count": 1, "cents": 10**30}}, "salesToday.cents"),
    ({"salesToday": []}, "salesToday"),
    ({"online": "yes"}, "online"),
    ({"state": 7}, "state"),
    ({"state": "x" * 1000}, "state"),
    ({"faults": "many"}, "faults"),
    ({"faults": [{"device": 1, "reason": "r"}]}, "faults[0].device"),
    ({"faults": [{"device": "d", "reason": "r", "latched": "no"}]}, "faults[0].latched"),
    ({"ts": "now"}, "ts"),
])
def test_a_bad_field_marks_that_machine_only(change: dict[str, Any], field: str) -> None:
    picture = FleetPicture("vending")
    status(picture, "RPV0001", GOOD)
    status(picture, "RPV0002", {**GOOD, **change})
    text = render(picture)
    rows = text.splitlines()
    assert rows[1].split()[:3] == ["RPV0001", "yes", "idle"]
    assert rows[2].split()[:4] == ["RPV0002", "?", "bad", "status"]
    assert any(line.startswith(f"RPV0002: bad status ({field} ") for line in rows)
    assert rows[3] == "2 machines, 1 online, 0 faults, sales today 2 / 1.30, 1 with a bad status"


def test_a_good_status_after_a_bad_one_heals_the_row() -> None:
    picture = FleetPicture("vending")
    status(picture, "RPV0001", {**GOOD, "salesToday": {"count": 1, "cents": "lots"}})
    status(picture, "RPV0001", GOOD)
    assert "bad" not in render(picture)


@pytest.mark.parametrize("payload", [
    b"not json", b"[1, 2]", b"\xff\xfe", b"[" * 100_000, b"{}",
    b'{"online": true, "faults": [' + b"{}," * 10 + b"{}]}"])
def test_a_message_that_is_not_a_status_never_raises(payload: bytes) -> None:
    picture = FleetPicture("vending")
    assert picture.take("vending/RPV0001/status", payload)
    assert "bad status" in render(picture)


def test_escape_sequences_and_line_breaks_never_reach_the_screen() -> None:
    picture = FleetPicture("vending")
    hostile = "\u202e\x1b[2J\nRPV9 yes idle\nRPV10"
    status(picture, "RPV0001", {**GOOD, "state": hostile,
                                "faults": [{"device": "hopper:\x1b]0;x\x07",
                                            "reason": "a\nb\rc", "latched": False}]})
    picture.take("vending/RPV\x1b[31m02/status", json.dumps(GOOD).encode())
    text = render(picture)
    assert all(ch.isprintable() for line in text.splitlines() for ch in line)
    assert len(text.splitlines()) == 2 + 2 + 1 + 1  # header, 2 rows, totals, blank, 1 fault
    assert "\\x1b[2J" in text and "\\u202e" in text and "a\\nb\\rc" in text
    assert "heals by itself" in text


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["online", "state", "faults", "ts",
                                                       "salesToday", "count", "cents",
                                                       "device", "reason", "latched",
                                                       "slots", "coins", "coin", "slot",
                                                       "payout", "productName",
                                                       "amountAvailable", "status"]) | st.text(),
                                      inner, max_size=6), max_leaves=20),
       st.sampled_from(["status", "inventory"]))
def test_any_json_at_all_is_shown_or_marked_never_raised(body: Any, leaf: str) -> None:
    picture = FleetPicture("vending")
    picture.take(f"vending/RPV0001/{leaf}", json.dumps(body).encode())
    text = render(picture)
    assert all(ch.isprintable() for line in text.splitlines() for ch in line)


def test_printable_escapes_and_cuts() -> None:
    assert printable("ok") == "ok"
    assert printable("a\x1bb\n\u200b\U000e0001") == "a\\x1bb\\n\\u200b\\U000e0001"
    assert printable("x" * 100, 10) == "x" * 9 + "…"


def test_offline_machines_say_when_they_were_last_seen() -> None:
    now = time.time()
    picture = FleetPicture("vending", clock=lambda: now)
    status(picture, "RPV0001", {**GOOD, "ts": now - 60})
    status(picture, "RPV0001", {"online": False})  # the will, while we watch
    status(picture, "RPV0002", {"online": False, "ts": now - 3600})  # a clean stop
    lines = render(picture, now).splitlines()
    assert f"RPV0001: offline, last seen {time.strftime('%H:%M:%S', time.localtime(now))}" \
        in lines
    stopped = time.localtime(now - 3600)
    same_day = stopped[:3] == time.localtime(now)[:3]
    assert (f"RPV0002: offline, last seen "
            f"{time.strftime('%H:%M:%S' if same_day else '%Y-%m-%d %H:%M', stopped)}") in lines


def test_totals_count_machines_faults_and_sales_with_the_right_plural() -> None:
    picture = FleetPicture("vending")
    status(picture, "RPV0001", GOOD)
    assert totals(picture) == "1 machine, 1 online, 0 faults, sales today 2 / 1.30"
    status(picture, "RPV0002", {**GOOD, "faults": [{"device": "slot:A1", "reason": "jam",
                                                   "latched": True}]})
    status(picture, "RPV0003", {"online": False})
    assert totals(picture) == "3 machines, 2 online, 1 fault, sales today 4 / 2.60"
    assert (plural(1, "machine"), plural(0, "fault")) == ("1 machine", "0 faults")


def test_an_emptied_retained_topic_forgets_the_machine() -> None:
    picture = FleetPicture("vending")
    status(picture, "RPV0001", GOOD)
    assert picture.take("vending/RPV0001/status", b"")
    assert picture.machines == {}
