"""Fee schedules: PPRRVU + GPCI parsing, PRICE-001, QP and non-QP CFs, facility vs office, the shipped CY2026
national table, cost share, and loading a locality into the database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from careloop.billing import fees, selectors, services
from careloop.core.actor import Actor
from careloop.core.errors import ValidationFailed

# A synthetic PPRRVU extract in CMS's layout (title lines, then the header; MOD column; status C).
RVU_CSV = """CY 2026 PFS Relative Value File (synthetic test extract)
,,,,,,,,,
HCPCS,MOD,DESCRIPTION,STATUS CODE,WORK RVU,NON-FAC PE RVU,FACILITY PE RVU,MP RVU,CONV FACTOR
99490,,Chrnc care mgmt staff 1st 20,A,1.00,1.00,0.30,0.10,33.4009
99490,26,Chrnc care mgmt staff 1st 20,A,9.00,9.00,9.00,9.00,33.4009
G0557,,Apcm level 2,A,1.10,0.50,0.00,0.01,33.4009
98978,,Rtm device supply cbt,C,0,0,0,0,33.4009
"""
GPCI_CSV = """Medicare Administrative Contractor (MAC),State,Locality Number,Locality Name,PW GPCI,PE GPCI,MP GPCI
01112,CA,05,SAN FRANCISCO,1.100,1.500,0.500
01112,CA,06,SAN MATEO,1.050,1.400,0.450
10112,AL,00,ALABAMA,1.000,0.900,0.600
"""


def test_price_follows_price_001() -> None:
    rvus = fees.parse_rvu_csv(RVU_CSV)
    gpci = fees.find_locality(fees.parse_gpci_csv(GPCI_CSV), "01112-05")
    r = rvus[("99490", "")]
    # (1.00*1.100 + 1.00*1.500 + 0.10*0.500) * 33.4009 = 2.65 * 33.4009 = 88.512385
    assert fees.price(r, gpci, Decimal("33.4009"), facility=False) == Decimal("88.51")
    # facility PE: (1.100 + 0.30*1.500 + 0.05) * 33.5675 = 1.6 * 33.5675 = 53.708
    assert fees.price(r, gpci, Decimal("33.5675"), facility=True) == Decimal("53.71")
    assert rvus[("99490", "26")].work == Decimal("9.00")


def test_fees_from_files_use_both_conversion_factors() -> None:
    rvus = fees.parse_rvu_csv(RVU_CSV)
    gpci = fees.find_locality(fees.parse_gpci_csv(GPCI_CSV), "Alabama")  # by locality name
    rows = {f.code: f for f in fees.fees_from_files(rvus, gpci, 2026, "test")}
    assert set(rows) == {"99490", "G0557", "98978"}  # the modifier row is left out
    g = rows["G0557"]
    # NF: (1.10*1.0 + 0.50*0.9 + 0.01*0.6) = 1.556; x 33.4009 = 51.97; x 33.5675 = 52.23
    assert (g.nf, g.nf_qp) == (Decimal("51.97"), Decimal("52.23"))
    assert g.f == Decimal("36.94")  # (1.10 + 0 + 0.006) * 33.4009
    assert rows["98978"].nf is None  # contractor-priced


def test_locality_must_match_exactly_one() -> None:
    gpcis = fees.parse_gpci_csv(GPCI_CSV)
    assert fees.find_locality(gpcis, "05").name == "SAN FRANCISCO"
    with pytest.raises(ValidationFailed, match="no GPCI locality"):
        fees.find_locality(gpcis, "99")


def test_rvu_file_without_the_needed_columns_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="work RVU"):
        fees.parse_rvu_csv("HCPCS,MOD,FOO\n99490,,1\n")


def test_shipped_national_table() -> None:
    t = fees.default_table()
    assert (t["G0556"].nf, t["G0557"].nf, t["G0558"].nf) == (Decimal("16.37"), Decimal("53.78"), Decimal("117.24"))
    assert t["G0558"].allowed(facility=True, qp=False) == Decimal("72.81")
    assert t["99490"].allowed(facility=False, qp=True) == Decimal("66.46")
    assert t["98976"].allowed(facility=True, qp=False) == Decimal("52.11")  # no facility amount: the NF one
    assert t["98978"].allowed(facility=False, qp=False) is None
    # QP amounts not given in cms-rules are scaled by the CF ratio
    assert t["G0556"].f_qp == Decimal("11.07")  # 11.02 * 33.5675 / 33.4009 = 11.075


def test_patient_share() -> None:
    assert fees.patient_share(Decimal("66.13"), qmb=False) == Decimal("13.23")
    assert fees.patient_share(Decimal("66.13"), qmb=True) == Decimal("0.00")


@pytest.mark.django_db
def test_loaded_locality_overrides_the_national_table() -> None:
    res = services.load_fee_schedule(rvu_text=RVU_CSV, gpci_text=GPCI_CSV, locality="01112-05", year=2026,
                                     actor=Actor.system(None))
    assert res.codes == 3
    table = selectors.fee_table(year=2026, locality="01112-05")
    assert table["99490"].nf == Decimal("88.51")
    assert table["99491"].nf == Decimal("89.18")  # not in the file: national
    assert selectors.fee_table(year=2026, locality="national")["99490"].nf == Decimal("66.13")
    again = services.load_fee_schedule(rvu_text=RVU_CSV, gpci_text=GPCI_CSV, locality="01112-05", year=2026,
                                       actor=Actor.system(None))
    assert again.codes == 3 and selectors.fee_rows(year=2026, locality="01112-05").count() == 3
