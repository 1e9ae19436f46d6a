"""Population dashboard and cohort lists (issue 4 point 9): counts per tier and per program/APCM level,
expected revenue, filters, CSV export, tenancy and audit of every listed patient."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client

from careloop.accounts import rules as rules_access
from careloop.accounts.models import User
from careloop.accounts.tests.factories import actor, make_user
from careloop.audit.models import AuditEvent
from careloop.clinics.models import Organization
from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor
from careloop.programs import eligibility, rules, selectors, services
from careloop.programs.tests.factories import make_practitioner, make_team
from careloop.registry.models import Patient
from careloop.registry.tests.factories import add_condition, add_coverage, make_patient

D = dt.date
ALL4 = ("availability", "one_practitioner_per_month", "right_to_stop", "cost_sharing")


def _clinic(slug: str = "pop") -> tuple[Organization, list[Patient], User]:
    from careloop.risk.models import PatientRisk

    org = make_org(slug)
    nurse = make_user(org, "nurse", username=f"nurse-{slug}")
    patients = []
    for i, (codes, qmb, tier) in enumerate([
        (["E119"], False, "high"),  # G0556, PCM
        (["E119", "I10"], True, "low"),  # G0558, CCM
        (["E119", "I10"], False, "high"),  # G0557, CCM
        ([], False, None),  # G0556, never scored
    ]):
        p = make_patient(org, f"P{i}", f"Pat{slug}")
        for code in codes:
            add_condition(p, code)
        if qmb:
            add_coverage(p, "qmb", start=D(2026, 1, 1))
        if tier:
            PatientRisk.objects.create(organization=org, patient=p, as_of=D(2026, 3, 1), methodology_version="v1",
                                       tier=tier)
        patients.append(p)
    eligibility.compute_eligibility(organization_id=org.pk, month="2026-03", actor=Actor.system(org.pk))
    make_team(org, [(nurse, 10)])
    consent = services.ConsentIn(method="verbal", disclosures=ALL4, obtained_by_user_id=nurse.pk,
                                 obtained_at=dt.datetime(2026, 3, 1, 15, tzinfo=dt.UTC))
    services.enroll_patient(organization_id=org.pk, patient_id=patients[2].pk, program="APCM",
                            billing_practitioner_id=make_practitioner(org).pk, consent=consent, actor=actor(nurse),
                            start=D(2026, 3, 2))
    return org, patients, nurse


def test_program_rows_value_and_capture() -> None:
    rows = rules.program_rows([("APCM", "G0557"), ("APCM", "G0557"), ("CCM", "")], [("APCM", "G0557")])
    assert [(r.program, r.level, r.eligible, r.enrolled) for r in rows] == [("APCM", "G0557", 2, 1), ("CCM", "", 1, 0)]
    apcm = rows[0]
    assert (apcm.capture, apcm.revenue_enrolled, apcm.revenue_eligible) == (50.0, 53.78, 107.56)
    assert rules.program_rows([], []) == []


@pytest.mark.django_db
def test_population_summary_counts_tiers_levels_and_revenue() -> None:
    org, patients, _ = _clinic()
    s = selectors.population_summary(organization_id=org.pk, month="2026-03")
    assert s.patients == 4
    assert dict(s.tiers) == {"high": 2, "rising": 0, "moderate": 0, "low": 1, "unscored": 1}
    apcm = {r.level: (r.eligible, r.enrolled) for r in s.programs if r.program == "APCM"}
    assert apcm == {"G0556": (2, 0), "G0557": (1, 1), "G0558": (1, 0)}
    ccm = next(r for r in s.programs if r.program == "CCM")
    assert (ccm.eligible, ccm.enrolled) == (2, 0)
    assert s.revenue_enrolled == 53.78
    assert (s.capacity, s.enrolled_patients, s.free) == (10, 1, 9)
    # the month before: no decisions, nobody enrolled yet
    before = selectors.population_summary(organization_id=org.pk, month="2026-02")
    assert before.decisions == 0 and before.enrolled_patients == 0


@pytest.mark.django_db
def test_cohort_filters() -> None:
    org, p, _ = _clinic()
    oid = org.pk

    def ids(**f: str) -> set[int]:
        return {r.patient_id for r in selectors.cohort(organization_id=oid, month="2026-03", **f)}

    assert ids() == {x.pk for x in p}
    assert ids(tier="high") == {p[0].pk, p[2].pk}
    assert ids(tier="unscored") == {p[3].pk}
    assert ids(program="CCM") == {p[1].pk, p[2].pk}
    assert ids(level="G0558") == {p[1].pk}
    assert ids(program="APCM", enrolled="no") == {p[0].pk, p[1].pk, p[3].pk}
    assert ids(enrolled="yes") == {p[2].pk}
    assert ids(program="CCM", enrolled="yes") == set()


@pytest.mark.django_db
def test_pages_csv_tenancy_and_audit() -> None:
    org, p, _ = _clinic("alpha")
    other, q, _ = _clinic("bravo")
    client = Client()
    client.force_login(make_user(org, "leader", username="leader-alpha"))
    page = client.get("/programs/population/", {"month": "2026-03"})
    assert page.status_code == 200 and b"G0558" in page.content
    listed = client.get("/programs/cohort/", {"month": "2026-03", "tier": "high"})
    assert listed.status_code == 200
    assert b"Patalpha" in listed.content and b"Patbravo" not in listed.content
    assert AuditEvent.objects.filter(action="cohort.listed", patient_id=p[0].pk).count() == 1
    exported = client.get("/programs/cohort/", {"month": "2026-03", "program": "CCM", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert sorted(int(r["patient_id"]) for r in rows) == sorted([p[1].pk, p[2].pk])
    assert {r["apcm_level"] for r in rows} == {"G0557", "G0558"}
    assert AuditEvent.objects.filter(action="cohort.exported").count() == 2
    assert not AuditEvent.objects.filter(action__startswith="cohort", patient_id__in=[x.pk for x in q]).exists()
    assert client.get("/programs/cohort/", {"month": "March"}).status_code == 400


@pytest.mark.django_db
def test_panel_records_qmb_period_and_device_days() -> None:
    from careloop.programs.models import DeviceDayCount
    from careloop.registry.models import Coverage

    org = make_org("panel")
    p = make_patient(org, "Quinn", "Q")
    client = Client()
    client.force_login(make_user(org, "admin", username="admin-panel"))
    url = f"/programs/patients/{p.pk}/"
    missing = client.post(url + "qmb/", {"start": "2026-03-15", "evidence": " "})
    assert b"evidence is required" in missing.content and not Coverage.objects.filter(kind="qmb").exists()
    bad = client.post(url + "qmb/", {"start": "15/03/2026", "evidence": "x"})
    assert b"invalid date" in bad.content
    ok = client.post(url + "qmb/", {"start": "2026-03-15", "evidence": "state portal 3/16", "source": "state-medicaid"})
    assert ok.status_code == 200 and b"state portal 3/16" in ok.content
    row = Coverage.objects.get(patient=p, kind="qmb")
    assert (row.start, row.end, row.source) == (D(2026, 3, 15), None, "state-medicaid")
    for day in ("2026-03-01", "2026-03-02", "2026-03-02"):
        client.post(url + "device-days/", {"kind": "rpm", "day": day, "readings": "3"})
    assert DeviceDayCount.objects.filter(patient=p, kind="rpm").count() == 2
    assert selectors.device_days(organization_id=org.pk, patient_id=p.pk, month="2026-03") == {"rpm": 2, "rtm": 0}
    assert b"invalid device day" in client.post(url + "device-days/", {"kind": "rpm", "day": "x"}).content
    assert AuditEvent.objects.filter(action="device_day.recorded", patient_id=p.pk).count() == 3
    chw = Client()
    chw.force_login(make_user(org, "chw", username="chw-panel"))
    expected = 200 if rules_access.has_permission("chw", "qmb.manage") else 403
    assert chw.post(url + "qmb/", {"start": "2026-03-15", "evidence": "x"}).status_code == expected
