"""837P: files written from a billing month pass pyx12 (IK5*A, no IK3/IK4); the validation wrapper reports the
oracle samples as pyx12 does; claims that cannot be billed are left out with the reason; RHC/FQHC refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from careloop.billing import services
from careloop.billing.tests.factories import MONTH, D, StandInRuleset, enrolled_patient, log_time, make_practice
from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor
from careloop.core.errors import ValidationFailed
from careloop.interop.x12.claims import InstitutionalPractice, build_837p, export_837p
from careloop.interop.x12.validate import validate_sets, validate_x12
from careloop.registry.models import Coverage

ORACLES = Path(__file__).resolve().parents[6] / "shared" / "oracles" / "x12"
LFH = ORACLES / "linuxforhealth-x12-5010"


def _segments(text: str) -> list[list[str]]:
    return [s.strip().split("*") for s in text.split("~") if s.strip()]


def _month(org: object) -> None:
    services.run_billing_month(organization=org, month=MONTH, actor=Actor.system(org.pk),  # type: ignore[attr-defined,arg-type]
                               evaluate=_evaluate(), ruleset=StandInRuleset())


def _evaluate():  # type: ignore[no-untyped-def]
    from careloop.billing.tests.factories import stand_in_evaluate

    return stand_in_evaluate


@pytest.mark.django_db
def test_837p_from_a_billing_month_passes_pyx12(tmp_path: Path) -> None:
    p = make_practice(make_org())
    ann = enrolled_patient(p, "Ames", mbi="1EG4TE5MK73")
    bob = enrolled_patient(p, "Bates", mbi="2AC3CD4EF56", conditions=("I509", "N184", "E119"))
    log_time(p, ann, 45, D(2026, 3, 5))
    log_time(p, bob, 25, D(2026, 3, 9))
    _month(p.org)
    out = tmp_path / "claims.x12"
    result = export_837p(organization=p.org, month=MONTH, actor=Actor.system(p.org.pk), out=out)
    assert result.validation.accepted and result.validation.errors == ()
    ack = _segments(result.validation.ack)
    assert not [s for s in ack if s[0] in ("IK3", "IK4")]
    assert [s[:2] for s in ack if s[0] in ("IK5", "AK9")] == [["IK5", "A"], ["AK9", "A"]]
    segs = _segments(out.read_text())
    assert (result.claims, result.lines) == (2, 3)
    assert segs[1][8] == "005010X222A1" and segs[2][:2] == ["ST", "837"]
    clms = [s for s in segs if s[0] == "CLM"]
    assert [(c[2], c[5]) for c in clms] == [("116.57", "11:B:1"), ("66.13", "11:B:1")]
    assert [s[9] for s in segs if s[:2] == ["NM1", "IL"]] == ["1EG4TE5MK73", "2AC3CD4EF56"]
    his = [s[1:] for s in segs if s[0] == "HI"]
    assert his == [["ABK:E119", "ABF:I509"], ["ABK:E119", "ABF:I509", "ABF:N184"]]
    assert [s[1:5] for s in segs if s[0] == "SV1"] == [
        ["HC:99490", "66.13", "UN", "1"], ["HC:99439", "50.44", "UN", "1"], ["HC:99490", "66.13", "UN", "1"]]
    assert {s[3] for s in segs if s[:2] == ["DTP", "472"]} == {"20260331"}
    assert [s[9] for s in segs if s[:2] == ["NM1", "82"]] == [p.practitioner.npi] * 2
    se = next(s for s in segs if s[0] == "SE")
    st = next(i for i, s in enumerate(segs) if s[0] == "ST")
    assert int(se[1]) == len(segs) - st - 2  # ST..SE inclusive (GE and IEA follow)
    assert segs[-1][:2] == ["IEA", "1"] and segs[-1][2] == segs[0][13]


@pytest.mark.django_db
def test_claims_that_cannot_be_billed_are_left_out_with_the_reason() -> None:
    p = make_practice(make_org())
    ann = enrolled_patient(p, "Ames", mbi="")
    bob = enrolled_patient(p, "Bates", mbi="2AC3CD4EF56")
    log_time(p, ann, 25, D(2026, 3, 5))
    log_time(p, bob, 25, D(2026, 3, 5))
    _month(p.org)
    result = build_837p(organization=p.org, month=MONTH, actor=Actor.system(p.org.pk))
    assert result.validation.accepted and result.claims == 1
    assert result.skipped == [{"patient_id": ann.pk, "problems": ["no valid Medicare Beneficiary Identifier (MBI)"]}]
    # the MBI recorded on the patient's Medicare Part B coverage is used when the patient row has none
    Coverage.objects.create(organization=p.org, patient=ann, kind="medicare-part-b", member_id="4AB5CD6EF78",
                            start=D(2020, 1, 1))
    result = build_837p(organization=p.org, month=MONTH, actor=Actor.system(p.org.pk))
    assert result.claims == 2 and result.skipped == []
    assert "NM1*IL*1*AMES*ANN****MI*4AB5CD6EF78~" in result.text


@pytest.mark.django_db
def test_rhc_and_fqhc_bill_institutional_claims() -> None:
    p = make_practice(make_org(practice_type="rhc"))
    with pytest.raises(InstitutionalPractice, match="837I"):
        build_837p(organization=p.org, month=MONTH, actor=Actor.system(p.org.pk))


@pytest.mark.django_db
def test_an_empty_month_is_an_error_not_an_empty_file(tmp_path: Path) -> None:
    p = make_practice(make_org())
    with pytest.raises(ValidationFailed, match="no billable lines"):
        export_837p(organization=p.org, month=MONTH, actor=Actor.system(p.org.pk), out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.mark.django_db
def test_large_months_split_into_transaction_sets_each_validated() -> None:
    import datetime as dt

    from careloop.billing import selectors
    from careloop.interop.x12.writer import BillingProvider, Envelope, Party, write_837p

    p = make_practice(make_org())
    for i, mbi in enumerate(("1EG4TE5MK73", "2AC3CD4EF56", "3HJ5KM6NP78")):
        log_time(p, enrolled_patient(p, f"Pat{i}", mbi=mbi), 25, D(2026, 3, 5))
    _month(p.org)
    claims = list(selectors.month_claims(organization_id=p.org.pk, month=MONTH))
    out = write_837p(claims, provider=BillingProvider("Clinic", "1999999984", "123456789", "1 Main St", "Town",
                                                      "IL", "62701"),
                     envelope=Envelope(Party("Clinic", "123456789"), Party("MEDICARE", "MEDICARE"), "Billing",
                                       "5550100", "MEDICARE PART B", "MEDICARE", 42,
                                       dt.datetime(2026, 4, 2, 9, 30)), max_claims_per_st=2)
    assert out.claims == 3 and len(out.sets) == 2
    segs = _segments(out.text)
    assert [s[:3] for s in segs if s[0] in ("ST", "GE", "IEA")] == [
        ["ST", "837", "0001"], ["ST", "837", "0002"], ["GE", "2", "42"], ["IEA", "1", "000000042"]]
    assert validate_x12(out.text).accepted  # the whole file
    parts = validate_sets([out.standalone(i) for i in range(2)], workers=2)
    assert [v.accepted for v in parts] == [True, True]


def test_validator_reports_a_broken_trailer() -> None:
    text = (Path(LFH / "demo.example1.837").read_text().replace("005010X222A2", "005010X222A1")
            if LFH.is_dir() else None)
    if text is None:
        pytest.skip(f"X12 oracle samples not present at {LFH}")
    assert validate_x12(text).accepted
    broken = text.replace("SE*", "SE*9", 1)
    v = validate_x12(broken)
    assert not v.accepted and v.errors


@pytest.mark.parametrize(("name", "accepted"), [
    ("demo.example1.837", True), ("demo.example2.837", True), ("demo.example7.837", True),
    ("demo.example6.837", False), ("demo.example9.837", False), ("demo.cob.example4.837", False),
])
def test_validator_agrees_with_the_recorded_pyx12_results(name: str, accepted: bool) -> None:
    """MANIFEST.md: with GS08/ST03 rewritten to X222A1 these are accepted / rejected by pyx12 4.0.0."""
    path = LFH / name
    if not path.exists():
        pytest.skip(f"X12 oracle sample {path} not present (shared/oracles is not in a public checkout)")
    v = validate_x12(path.read_text().replace("005010X222A2", "005010X222A1"))
    assert v.accepted is accepted
    if not accepted:
        assert any(e.startswith(("IK3", "IK4", "IK5")) for e in v.errors)


def test_validator_never_raises_on_garbage() -> None:
    v = validate_x12("this is not X12")
    assert not v.accepted


@pytest.mark.django_db
def test_a_line_without_a_chronic_diagnosis_points_to_the_active_conditions() -> None:
    p = make_practice(make_org())
    ann = enrolled_patient(p, "Ames", conditions=("R030", "J029"))  # no CCW chronic condition (an RPM patient)
    log_time(p, ann, 25, D(2026, 3, 5))
    _month(p.org)
    result = build_837p(organization=p.org, month=MONTH, actor=Actor.system(p.org.pk))
    assert result.claims == 1 and result.validation.accepted
    assert "HI*ABK:J029*ABF:R030~" in result.text and "SV1*HC:99490*66.13*UN*1***1~" in result.text


def test_transaction_sets_are_equal_and_balanced_over_the_validation_workers() -> None:
    from careloop.interop.x12.validate import partition
    from careloop.interop.x12.writer import claims_per_set

    assert claims_per_set(4_000, parts=2) == 4_000  # one set
    assert claims_per_set(28_798, parts=2) == 4_800  # 6 sets, 3 per worker
    assert claims_per_set(5_674, parts=2) == 2_837
    assert claims_per_set(15_001, parts=2) == 3_751  # 4 sets, none over 5,000
    assert claims_per_set(15_001, parts=1) == 3_751
    assert partition([5, 5, 5, 3], 2) == [[0, 2], [1, 3]]  # 10 and 8
    assert partition([9, 1, 1, 1, 6], 2) == [[0], [1, 2, 3, 4]]
    assert partition([1], 2) == [[0]]


@pytest.mark.django_db
def test_several_transaction_sets_validated_together_in_one_envelope() -> None:
    import datetime as dt

    from careloop.billing import selectors
    from careloop.interop.x12.writer import BillingProvider, Envelope, Party, write_837p

    p = make_practice(make_org())
    for i, mbi in enumerate(("1EG4TE5MK73", "2AC3CD4EF56", "3HJ5KM6NP78")):
        log_time(p, enrolled_patient(p, f"Pat{i}", mbi=mbi), 25, D(2026, 3, 5))
    _month(p.org)
    claims = list(selectors.month_claims(organization_id=p.org.pk, month=MONTH))
    out = write_837p(claims, provider=BillingProvider("Clinic", "1999999984", "123456789", "1 Main St", "Town",
                                                      "IL", "62701"),
                     envelope=Envelope(Party("Clinic", "123456789"), Party("MEDICARE", "MEDICARE"), "Billing",
                                       "5550100", "MEDICARE PART B", "MEDICARE", 42,
                                       dt.datetime(2026, 4, 2, 9, 30)), max_claims_per_st=1)
    both = out.subset([0, 2])
    assert [s[:3] for s in _segments(both) if s[0] in ("ST", "GE")] == [
        ["ST", "837", "0001"], ["ST", "837", "0003"], ["GE", "2", "42"]]
    checked = validate_x12(both)
    assert checked.accepted and checked.ack.count("IK5*A") == 2
    broken = out.subset([0, 1]).replace("SE*", "SE*9", 1)  # a wrong segment count in the first set
    assert not validate_x12(broken).accepted
