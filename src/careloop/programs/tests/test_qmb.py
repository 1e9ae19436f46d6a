"""QMB periods: 271 and CSV parsing, import (idempotent, quarantine, state wins) and manual entry."""

from __future__ import annotations

import datetime as dt

import pytest

from careloop.accounts.tests.factories import actor, make_user
from careloop.audit.models import AuditEvent
from careloop.clinics.tests.factories import make_org
from careloop.core.errors import PermissionDenied, ValidationFailed
from careloop.programs import eligibility, qmb, services
from careloop.programs.tests.factories import MBI_A, MBI_B, MBI_C, qmb_eb, subscriber, x271
from careloop.registry.models import Coverage, QuarantinedInput
from careloop.registry.tests.factories import make_patient

D = dt.date


def test_parse_271_finds_qmb_periods() -> None:
    text = x271(
        subscriber(1, MBI_A, "EB*1**30*MB~", qmb_eb("20260115", "20261231")),
        subscriber(2, MBI_B, qmb_eb("20260301", via_msg=True)),
        subscriber(3, MBI_C, qmb_eb("20250101", "20251231", eb01="6")),  # inactive: not QMB
        subscriber(4, "BADMBI", qmb_eb("20260101")),
    )
    records, rejected = qmb.parse_271(text)
    assert [(r.mbi, r.start, r.end, r.source) for r in records] == [
        (MBI_A, D(2026, 1, 15), D(2026, 12, 31), "x12-271"), (MBI_B, D(2026, 3, 1), None, "x12-271")]
    assert [r.reason for r in rejected] == ["invalid or missing MBI 'BADMBI'"]
    assert "QMB" in records[0].evidence


def test_parse_271_rejects_other_documents() -> None:
    assert qmb.parse_271("hello")[1][0].reason.startswith("not an X12")
    assert qmb.parse_271(x271().replace("ST*271", "ST*270"))[1][0].reason == "not a 271 eligibility response"


def test_parse_csv() -> None:
    text = ("mbi,qmb_start,qmb_end,source\n"
            f"{MBI_A},2026-01-01,,state\n{MBI_B.lower()},2026-02-01,2026-03-15,\n"
            "XXX,2026-01-01,,csv\n"
            f"{MBI_C},2026-13-01,,csv\n{MBI_C},2026-03-01,2026-02-01,csv\n{MBI_C},2026-03-01,,fax\n")
    records, rejected = qmb.parse_csv(text)
    assert [(r.mbi, r.start, r.end, r.source) for r in records] == [
        (MBI_A, D(2026, 1, 1), None, "state-medicaid"), (MBI_B, D(2026, 2, 1), D(2026, 3, 15), "csv")]
    assert [r.location for r in rejected] == ["line 4", "line 5", "line 6", "line 7"]
    assert qmb.parse_csv("a,b\n1,2\n")[1][0].location == "header"


@pytest.mark.django_db
def test_import_is_idempotent_quarantines_and_state_wins() -> None:
    org = make_org()
    a = make_patient(org, "Ames", "Ann", mbi=MBI_A)
    make_patient(org, "Bell", "Bo", mbi=MBI_B)
    billing = actor(make_user(org, "billing"))
    text = x271(subscriber(1, MBI_A, qmb_eb("20260101")), subscriber(2, MBI_C, qmb_eb("20260101")))
    first = services.import_qmb(organization_id=org.pk, text=text, fmt="271", actor=billing, source_name="r.271")
    assert (first.counts.created, first.unmatched, first.rejected) == (1, 1, 0)
    again = services.import_qmb(organization_id=org.pk, text=text, fmt="271", actor=billing, source_name="r.271")
    assert (again.counts.created, again.counts.unchanged) == (0, 1)
    assert QuarantinedInput.objects.filter(organization=org, channel="x12").count() == 2
    first_day, last_day = eligibility.parse_month("2026-03")
    assert eligibility.qmb_periods(org.pk, first_day, last_day)[a.pk][0].source == "x12-271"
    # The state Medicaid roster says QMB ended in February: it wins over the 271 for March.
    csv = f"mbi,qmb_start,qmb_end,source\n{MBI_A},2025-07-01,2026-02-28,state-medicaid\n"
    services.import_qmb(organization_id=org.pk, text=csv, fmt="csv", actor=billing, source_name="state.csv")
    facts = eligibility.month_facts(org.pk, "2026-03")
    assert facts[a.pk].qmb is False
    assert eligibility.month_facts(org.pk, "2026-02")[a.pk].qmb is True
    # A later roster extends the state period: updated in place, audited.
    csv2 = f"mbi,qmb_start,qmb_end,source\n{MBI_A},2025-07-01,,state-medicaid\n"
    r = services.import_qmb(organization_id=org.pk, text=csv2, fmt="csv", actor=billing, source_name="state2.csv")
    assert r.counts.updated == 1
    assert eligibility.month_facts(org.pk, "2026-03")[a.pk].qmb is True
    assert Coverage.objects.filter(organization=org, kind="qmb").count() == 2
    assert AuditEvent.objects.filter(action="coverage.qmb_updated", patient_id=a.pk).count() == 1
    assert AuditEvent.objects.filter(action="qmb.imported").count() == 4


@pytest.mark.django_db
def test_manual_qmb_needs_evidence_and_permission() -> None:
    org = make_org()
    a = make_patient(org, "Ames", "Ann", mbi=MBI_A)
    billing = actor(make_user(org, "billing"))
    with pytest.raises(ValidationFailed, match="evidence"):
        services.record_qmb_period(organization_id=org.pk, patient_id=a.pk, start=D(2026, 3, 15), end=None,
                                   evidence=" ", actor=billing)
    with pytest.raises(PermissionDenied):
        services.record_qmb_period(organization_id=org.pk, patient_id=a.pk, start=D(2026, 3, 15), end=None,
                                   evidence="state portal", actor=actor(make_user(org, "chw")))
    c = services.record_qmb_period(organization_id=org.pk, patient_id=a.pk, start=D(2026, 3, 15), end=None,
                                   evidence="state portal screenshot 2026-03-16", actor=billing)
    assert c.created == 1
    row = Coverage.objects.get(organization=org, patient=a, kind="qmb")
    assert (row.source, row.evidence) == ("manual", "state portal screenshot 2026-03-16")
    assert eligibility.month_facts(org.pk, "2026-03")[a.pk].qmb is True  # QMB starting mid-month counts
    assert eligibility.month_facts(org.pk, "2026-02")[a.pk].qmb is False
