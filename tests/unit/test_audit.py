from __future__ import annotations

from controller import audit

GOLDEN = (
    "DXS*RPV0001*VA*V1/1*1\r\nST*001*0001\r\nID1*RPV0001*RPIVMC*1***A42\r\n"
    "ID4*2*978*EUR\r\nCB1*RPV0001*RPIVMC*0.1.0\r\nVA1*420*3*420*3\r\nCA1*0*CCTALK-ACC*1\r\n"
    "CA2*420*3*420*3\r\nCA3*500*350*150*0*500*350*150*0\r\nCA4*80*0*80*0\r\n"
    "CA10*2000*2000\r\nPA1*11*150\r\nPA2*2*300*2*300\r\nPA1*12*120\r\nPA2*1*120*1*120\r\n"
    "EA2*EJL*1*1\r\nG85*151A\r\nSE*17*0001\r\nDXE*1*1\r\n"
)


def p(a: int, b: int | None = None) -> audit.Pair:
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


def test_crc16_arc_check_value() -> None:
    assert audit.crc16_arc(b"123456789") == 0xBB3D


def test_selection_numbers() -> None:
    assert audit.selection_number("A1", "ABCD") == "11"
    assert audit.selection_number("D6", "ABCD") == "46"
