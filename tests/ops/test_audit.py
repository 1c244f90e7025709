from __future__ import annotations

from controller.ops import audit

GOLDEN = (
    "DXS*RPV0001*VA*V1/1*1\r\nST*001*0001\r\nID1*RPV0001*RPIVMC*1***A42\r\n"
    "ID4*2*978*EUR\r\nCB1*RPV0001*RPIVMC*0.1.0\r\nVA1*420*3*420*3\r\nCA1*0*CCTALK-ACC*1\r\n"
    "CA2*420*3*420*3\r\nCA3*500*350*150*0*500*350*150*0\r\nCA4*80*0*80*0\r\n"
    "CA10*2000*2000\r\nPA1*11*150\r\nPA2*2*300*2*300\r\nPA1*12*120\r\nPA2*1*120*1*120\r\n"
    "EA2*EJL*1*1\r\nG85*151A\r\nSE*17*0001\r\nDXE*1*1\r\n"
)

# HARDWARE.md's second example: after one audited collection, lifetime and
# since-reset figures differ, which pins the order of the fields.
GOLDEN_AFTER_COLLECTION = (
    "DXS*RPV0001*VA*V1/1*1\r\nST*001*0001\r\nID1*RPV0001*RPIVMC*1***A42\r\n"
    "ID4*2*978*EUR\r\nCB1*RPV0001*RPIVMC*0.1.0\r\nVA1*690*5*420*3\r\nCA1*0*CCTALK-ACC*1\r\n"
    "CA2*690*5*420*3\r\nCA3*500*350*150*0*870*600*270*0\r\nCA4*80*0*180*0\r\n"
    "CA10*2000*3000\r\nPA1*11*150\r\nPA2*3*450*2*300\r\nPA1*12*120\r\nPA2*2*240*1*120\r\n"
    "EA2*EJL*1*2\r\nG85*F8B2\r\nSE*17*0001\r\nDXE*1*1\r\n"
)


def p(a: int, b: int | None = None) -> audit.Pair:
    """A pair of figures: lifetime ``a``, since the last reset ``b`` (default ``a``)."""
    return audit.Pair(a, a if b is None else b)


def test_the_golden_report_of_hardware_md() -> None:
    data = audit.AuditData(
        machine_id="RPV0001", model="RPIVMC", software_version="0.1.0", currency="EUR",
        currency_code=978, sales_value=p(420), sales_count=p(3), cash_in=p(500),
        cash_to_cashbox=p(350), cash_to_hoppers=p(150), change_paid=p(80), refills=p(2000),
        failed_vends=p(1),
        selections=[audit.SelectionAudit("11", 150, p(2), p(300)),
                    audit.SelectionAudit("12", 120, p(1), p(120))],
        asset_number="A42")
    assert audit.render(data) == GOLDEN


def test_the_golden_report_after_a_collection() -> None:
    data = audit.AuditData(
        machine_id="RPV0001", model="RPIVMC", software_version="0.1.0", currency="EUR",
        currency_code=978, sales_value=p(690, 420), sales_count=p(5, 3),
        cash_in=p(870, 500), cash_to_cashbox=p(600, 350), cash_to_hoppers=p(270, 150),
        change_paid=p(180, 80), refills=p(3000, 2000), failed_vends=p(2, 1),
        selections=[audit.SelectionAudit("11", 150, p(3, 2), p(450, 300)),
                    audit.SelectionAudit("12", 120, p(2, 1), p(240, 120))],
        asset_number="A42")
    assert audit.render(data) == GOLDEN_AFTER_COLLECTION


def test_field_order_per_record() -> None:
    data = audit.AuditData(
        machine_id="M", model="X", software_version="1", currency="EUR", currency_code=978,
        sales_value=p(11, 1), sales_count=p(12, 2), cash_in=p(13, 3), cash_to_cashbox=p(14, 4),
        cash_to_hoppers=p(15, 5), change_paid=p(16, 6), refills=p(17, 7),
        failed_vends=p(18, 8), selections=[audit.SelectionAudit("11", 5, p(19, 9), p(20, 10))])
    lines = {line.split("*")[0] + ("*EJL" if line.startswith("EA2") else ""): line
             for line in audit.render(data).split("\r\n") if line}
    assert lines["VA1"] == "VA1*11*12*1*2"  # lifetime first
    assert lines["CA2"] == "CA2*11*12*1*2"
    assert lines["PA2"] == "PA2*19*20*9*10"
    assert lines["CA3"] == "CA3*3*4*5*0*13*14*15*0"  # since reset first
    assert lines["CA4"] == "CA4*6*0*16*0"
    assert lines["CA10"] == "CA10*7*17"
    assert lines["EA2*EJL"] == "EA2*EJL*8*18"


def test_crc16_arc_check_value() -> None:
    assert audit.crc16_arc(b"123456789") == 0xBB3D


def test_selection_numbers() -> None:
    assert audit.selection_number("A1", "ABCD") == "11"
    assert audit.selection_number("D6", "ABCD") == "46"
