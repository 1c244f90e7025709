"""The audit report's writer in pieces: the DEX text rules, the element order of
each record, the config of the envelope, the event codes of the faults."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pytest

from controller.config import load as load_config
from controller.config.model import MachineConfig
from controller.errors import ConfigError
from controller.ops import audit
from controller.ops.audit import dex, elements
from controller.ops.audit.model import (
    CoinTube,
    DeviceSales,
    EventAudit,
    Identity,
    Pair,
    ReadAudit,
    SelectionAudit,
)
from controller.store.event_codes import fault_event_code
from tests.dex_reader import crc16, missing_mandatory, read_dex

# The two reference examples of the audit format: the records between ST and G85
# (their envelope is the older one, but the CRC and the segment count are over
# these lines alone).
EXAMPLE = ["ID1*RPV0001*RPIVMC*1***A42", "ID4*2*978*EUR", "CB1*RPV0001*RPIVMC*0.1.0",
           "VA1*420*3*420*3", "CA1*0*CCTALK-ACC*1", "CA2*420*3*420*3",
           "CA3*500*350*150*0*500*350*150*0", "CA4*80*0*80*0", "CA10*2000*2000",
           "PA1*11*150", "PA2*2*300*2*300", "PA1*12*120", "PA2*1*120*1*120", "EA2*EJL*1*1"]
AFTER_COLLECTION = ["ID1*RPV0001*RPIVMC*1***A42", "ID4*2*978*EUR",
                    "CB1*RPV0001*RPIVMC*0.1.0", "VA1*690*5*420*3", "CA1*0*CCTALK-ACC*1",
                    "CA2*690*5*420*3", "CA3*500*350*150*0*870*600*270*0", "CA4*80*0*180*0",
                    "CA10*2000*3000", "PA1*11*150", "PA2*3*450*2*300", "PA1*12*120",
                    "PA2*2*240*1*120", "EA2*EJL*1*2"]


@pytest.mark.parametrize(("body", "g85"), [(EXAMPLE, "151A"), (AFTER_COLLECTION, "F8B2")])
def test_the_crc_and_segment_count_of_hardware_md(body: list[str], g85: str) -> None:
    text = dex.report("RPV0000001", body)
    assert f"\r\nG85*{g85}\r\nSE*17*0001\r\nDXE*1*1\r\n" in text
    assert text.startswith("DXS*RPV0000001*VA*V0/6*1\r\nST*001*0001\r\n")


def test_crc16_check_value_and_the_readers_own_division() -> None:
    assert dex.crc16_arc(b"123456789") == 0xBB3D == crc16(b"123456789")
    rng = random.Random(7)
    for size in (0, 1, 2, 17, 300):
        data = bytes(rng.randrange(256) for _ in range(size))
        assert dex.crc16_arc(data) == crc16(data)


def test_text_elements_are_printable_ascii_escaped_and_bounded() -> None:
    assert dex.text("Crème brûlée*") == "Creme brulee^2A^"
    assert dex.text("a^b") == "a^5E^b"
    assert dex.text("x" * 19 + "*") == "x" * 19  # an escape is never cut
    assert dex.text("tab\there") == "tab^09^here"
    assert dex.text("€uro") == "?uro"
    assert dex.segment("PA1", "11", 65, None, None) == "PA1*11*65"
    assert dex.segment("EA3", None, "x", None, 1) == "EA3**x**1"


def identity(**changes: object) -> Identity:
    base = Identity(sender="RPV0000001", machine_id="RPV0001", model="RPIVMC",
                    software_version="0.1.0", asset_number="A42", currency="EUR",
                    currency_code=1978)
    return replace(base, **changes)  # type: ignore[arg-type]


def data(**changes: object) -> audit.AuditData:
    """Lifetime and since-reset figures that all differ, to pin every field's place."""
    base = audit.AuditData(
        identity=identity(), read=ReadAudit(reads=9, resets=2, at=1_800_000_000.0,
                                            previous_at=1_799_990_000.0),
        sales_value=Pair(11, 1), sales_count=Pair(12, 2), cash_sales_value=Pair(21, 3),
        cash_sales_count=Pair(22, 4), cash_in=Pair(13, 3), cash_to_cashbox=Pair(14, 4),
        cash_to_hoppers=Pair(15, 5), change_paid=Pair(16, 6), refills=Pair(17, 7),
        selections=[SelectionAudit(
            selection="11", price=5, name="Cola", present=True, level=4, min_level=1,
            capacity=10, vends=Pair(19, 9), value=Pair(20, 10),
            by_device=[DeviceSales("DA", Pair(3, 1), Pair(15, 5)),
                       DeviceSales("CA", Pair(16, 8), Pair(80, 40))],
            last_sale_at=1_799_999_000.0)],
        tubes=[CoinTube(3, 50, 12, False), CoinTube(4, 100, 200, True)],
        events=[EventAudit("EAF", Pair(5, 2), True), EventAudit("ELA", Pair(7, 1), False)])
    return replace(base, **changes)  # type: ignore[arg-type]


def test_field_order_per_record() -> None:
    report = read_dex(audit.render(data()))
    assert missing_mandatory(report) == []
    lines = {seg.tag: "*".join([seg.tag, *seg.values()]) for seg in report.singles.values()}
    assert lines["VA1"] == "VA1*11*12*1*2"  # since initialisation first
    assert lines["CA2"] == "CA2*21*22*3*4"
    assert lines["CA3"] == "CA3*3*4*5*0*13*14*15*0"  # since reset first
    assert lines["CA4"] == "CA4*6*0*16*0"
    assert lines["CA10"] == "CA10*7*17"
    assert lines["CA15"] == "CA15*20600"
    assert lines["ID4"] == "ID4*2*1978*EUR" and lines["ID6"] == "ID6*3"
    ea3 = report.singles["EA3"]
    assert [ea3[f"EA3{n:02d}"] for n in (1, 4, 7, 8, 9, 10)] == ["", "", "", "", "9", "2"]
    assert all(len(ea3[k]) == 8 for k in ("EA302", "EA305"))  # YYYYMMDD
    assert all(len(ea3[k]) == 6 for k in ("EA303", "EA306"))  # HHMMSS
    product = report.products["11"]
    assert "*".join(product.pa1.values()) == "11*5*Cola*10***0*4*1"
    assert "*".join(product.one("PA2").values()) == "19*20*9*10"
    assert ["*".join(s.values()) for s in product.blocks["PA7"]] == \
        ["11*CA*0*5*16*80*8*40", "11*DA*0*5*3*15*1*5"]  # cash first
    assert "*".join(report.tubes[50].values()) == "3*50*12*0*0*0"
    assert report.tubes[100]["CA1706"] == "1"
    assert "*".join(report.events["EAF"].values()) == "EAF*2*5**1"  # since reset first
    assert "*".join(report.events["ELA"].values()) == "ELA*1*7**0"


def test_segments_come_in_the_order_of_the_standards_table() -> None:
    tags = [seg.tag for seg in read_dex(audit.render(data())).segments]
    assert tags == ["DXS", "ST", "ID1", "ID4", "ID5", "ID6", "CB1", "VA1", "VA3", "CA1", "CA2",
                    "CA3", "CA4", "CA10", "CA15", "CA17", "CA17", "PA1", "PA2", "PA4", "PA5",
                    "PA7", "PA7", "EA2", "EA2", "EA3", "G85", "SE", "DXE"]


def test_a_card_reader_slots_its_elements_in() -> None:
    counters = {"cashless_value": Pair(70, 70), "cashless_count": Pair(1, 1),
                "cashless_refunds": Pair(20, 0)}
    reader = {"serial": "000000000001", "model": "SIMREADER", "softwareVersion": "0100"}
    report = read_dex(audit.render(data(counters=counters, card_reader=reader)))
    tags = [seg.tag for seg in report.segments]
    assert tags.index("CA17") < tags.index("DA1") < tags.index("DA2") < tags.index("DA4") \
        < tags.index("PA1")
    assert "*".join(report.singles["DA1"].values()) == "000000000001*SIMREADER*0100"
    assert "*".join(report.singles["DA2"].values()) == "70*1*70*1"
    assert "*".join(report.singles["DA4"].values()) == "20*0"
    without = read_dex(audit.render(data()))  # a machine that never had a reader
    assert not {"DA1", "DA2", "DA4"} & set(without.singles)


def test_a_device_slots_its_elements_in() -> None:
    def ha1(a: audit.AuditData) -> Iterable[str]:
        yield dex.segment("HA1", "H1", "HOPPER")

    elements.DEVICES.append(ha1)
    try:
        report = read_dex(audit.render(data()))
    finally:
        elements.DEVICES.remove(ha1)
    tags = [seg.tag for seg in report.segments]
    assert tags.index("CA17") < tags.index("HA1") < tags.index("PA1")


def test_a_selection_never_sold_and_never_stocked() -> None:
    empty = SelectionAudit(selection="46", price=None, name="", present=False, level=0,
                           min_level=0, capacity=10, vends=Pair(0, 0), value=Pair(0, 0))
    product = read_dex(audit.render(data(selections=[empty]))).products["46"]
    assert product.pa1["PA107"] == "1" and product.pa1["PA102"] == ""
    assert "PA5" not in product.blocks
    assert "*".join(product.one("PA7").values()) == "46*CA*0**0*0*0*0"


def test_the_sender_and_currency_code_from_the_config() -> None:
    assert MachineConfig().audit_sender == "RPV0000001"
    assert MachineConfig(machine_id="PI0042", maker_code="ABC").audit_sender == "ABC0000042"
    assert MachineConfig(machine_id="X1234567").audit_sender == "RPV1234567"
    assert MachineConfig().audit_currency_code == 1978
    assert MachineConfig(currency_code=1840).audit_currency_code == 1840


@pytest.mark.parametrize(("toml", "key"), [
    ('machine_id = "lobby"', "machine_id"),  # no digits for the sender
    ('machine_id = "M12345678"', "machine_id"),  # more than 7
    ('maker_code = "RP"', "maker_code"),
    ('maker_code = "rpv"', "maker_code"),
    ('currency = "EURO"', "currency"),
    ("currency_code = 2978", "currency_code"),
    ('asset_number = "A*1"', "asset_number"),
    ('asset_number = "123456789012345678901"', "asset_number"),
])
def test_check_config_refuses_what_the_report_cannot_carry(tmp_path: Path, toml: str,
                                                           key: str) -> None:
    path = tmp_path / "v.toml"
    path.write_text(f"[machine]\n{toml}\n")
    with pytest.raises(ConfigError, match=key):
        load_config(path)


def test_check_config_takes_the_four_digit_code(tmp_path: Path) -> None:
    path = tmp_path / "v.toml"
    path.write_text('[machine]\nmachine_id = "PI7"\ncurrency_code = 1978\nmaker_code = "XYZ"\n'
                    'asset_number = "HALL 2"\n')
    m = load_config(path).machine
    assert (m.audit_sender, m.audit_currency_code, m.asset_number) == \
        ("XYZ0000007", 1978, "HALL 2")


@pytest.mark.parametrize(("device", "reason", "code"), [
    ("slot:A1", "slot A1 failed to vend (jam_home): check the spiral", "EJB"),
    ("slot:A1", "slot A1 failed to vend (jam_turn): check the spiral", "EJC"),
    ("slot:A1", "slot A1 failed to vend (no_drop): check the spiral", None),  # ELA alone
    ("hopper:50", "hopper 50c not answering (timeout): check it", "EAR"),
    ("hopper:50", "hopper 50c not answering at start-up (x): check it", "EAR"),
    ("hopper:50", "hopper 50c jam: paid 1 of 3; refill or clear it", "EAF"),
    ("hopper:50", "hopper 50c timeout: paid 1 of 3", "EAF"),
    ("hopper:50", "hopper 50c short_pay: paid 1 of 3", "EAF"),
    ("hopper:50", "hopper 50c device_lost: paid 1 of 3 or more", "EAR"),
    ("hopper:50", "hopper 50c refused to pay (nak): check it", "EAN"),
    ("hopper:50", "hopper 50c sensor: paid 0 of 2", "EAN"),
    ("hopper:50", "hopper 50c empty: paid 2 of 3", "EAZ"),
    ("hopper:50", "payout 3: hopper 50c cannot tell whether it paid 2 coin(s)", "EAR"),
    ("acceptor", "coin acceptor not answering (or refusing every poll)", "EAR"),
    ("acceptor", "coin acceptor lost 7 event(s) (more than 5 between polls)", "EAZ"),
    ("acceptor", "coin acceptor jammed: clear it", "EAD"),
    ("machine", "internal error in sales: RuntimeError()", "ECZ"),
    ("reader", "card reader not answering", None),
])
def test_event_codes_of_the_faults(device: str, reason: str, code: str | None) -> None:
    assert fault_event_code(device, reason) == code
