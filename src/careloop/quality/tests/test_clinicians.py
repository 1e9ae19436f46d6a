"""Per-clinician dashboard: attribution by designated care-team member, rates per clinician, drill-down and CSV,
own-only access for providers, all for leaders, tenancy and audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from careloop.accounts.tests.factories import make_user
from careloop.audit.models import AuditEvent
from careloop.clinics.models import Practitioner
from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor
from careloop.core.errors import PermissionDenied
from careloop.programs.models import DesignatedCareMember
from careloop.quality import clinicians
from careloop.quality.models import CareGap, MeasureResult
from careloop.registry.tests.factories import make_patient

FIRST, LAST = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
NOW = dt.datetime(2027, 1, 2, tzinfo=dt.UTC)


def _result(org: Any, patient: Any, numerator: int, exclusion: int = 0) -> None:
    pops = {"initial_population": 1, "denominator": 1, "denominator_exclusion": exclusion,
            "numerator": numerator}
    MeasureResult.objects.create(organization=org, patient=patient, measure="CMS165", period_start=FIRST,
                                 period_end=LAST, populations=pops, computed_at=NOW)
    if not numerator and not exclusion:
        CareGap.objects.create(organization=org, patient=patient, measure="CMS165", period_start=FIRST,
                               period_end=LAST, status="open", missing="BP < 140/90", closes_by="a BP reading",
                               due=LAST, computed_at=NOW)


def _actor(user: Any) -> Actor:
    return Actor(user_id=user.pk, username=user.username, role=user.role, organization_id=user.organization_id)


@pytest.fixture
def clinic() -> dict[str, Any]:
    org = make_org()
    ann, bob = make_user(org, "provider"), make_user(org, "provider")
    lead = make_user(org, "leader")
    Practitioner.objects.create(organization=org, given="Ann", family="Arle", credentials="MD", npi="1234567893",
                                user=ann)
    p1, p2, p3, p4, p5 = (make_patient(org, f"Fam{i}", f"Giv{i}") for i in range(1, 6))
    # ann: p1 met, p2 open gap; bob: p3 met, p4 excluded; p5 nobody.
    # p2 was bob's until March, then ann's (current on the period's last day wins).
    DesignatedCareMember.objects.create(organization=org, patient=p1, user=ann, since=dt.date(2025, 1, 1))
    DesignatedCareMember.objects.create(organization=org, patient=p2, user=bob, since=dt.date(2025, 1, 1),
                                        until=dt.date(2026, 3, 1))
    DesignatedCareMember.objects.create(organization=org, patient=p2, user=ann, since=dt.date(2026, 3, 2))
    DesignatedCareMember.objects.create(organization=org, patient=p3, user=bob, since=dt.date(2026, 6, 1))
    # p4: bob's designation ended mid-period and nobody took over: still bob's for this period.
    DesignatedCareMember.objects.create(organization=org, patient=p4, user=bob, since=dt.date(2025, 1, 1),
                                        until=dt.date(2026, 5, 1))
    _result(org, p1, 1)
    _result(org, p2, 0)
    _result(org, p3, 1)
    _result(org, p4, 0, exclusion=1)
    _result(org, p5, 0)
    return {"org": org, "ann": ann, "bob": bob, "lead": lead, "p2": p2, "p5": p5}


def _by_id(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {row["clinician_id"]: row for row in rows}


@pytest.mark.django_db
def test_leader_sees_every_clinician_with_rates(clinic: dict[str, Any]) -> None:
    rows = _by_id(clinicians.clinician_performance(actor=_actor(clinic["lead"]), first=FIRST, last=LAST))
    ann, bob = rows[clinic["ann"].pk], rows[clinic["bob"].pk]
    assert ann["name"] == "Ann Arle, MD" and ann["patients"] == 2
    (cms165,) = ann["measures"]
    assert (cms165["numerator"], cms165["performance_denominator"], cms165["rate"]) == (1, 2, 0.5)
    (bob165,) = bob["measures"]
    assert (bob165["numerator"], bob165["performance_denominator"], bob165["rate"]) == (1, 1, 1.0)
    assert rows[clinicians.UNATTRIBUTED]["patients"] == 1
    assert AuditEvent.objects.filter(action="quality.clinician_report_viewed").count() == 1


@pytest.mark.django_db
def test_provider_sees_only_own_row_and_gaps(clinic: dict[str, Any]) -> None:
    ann = _actor(clinic["ann"])
    rows = clinicians.clinician_performance(actor=ann, first=FIRST, last=LAST)
    assert [r["clinician_id"] for r in rows] == [clinic["ann"].pk]
    gaps = clinicians.clinician_gaps(actor=ann, clinician_id=clinic["ann"].pk, first=FIRST, last=LAST)
    assert [g["patient_id"] for g in gaps] == [clinic["p2"].pk]
    with pytest.raises(PermissionDenied):
        clinicians.clinician_gaps(actor=ann, clinician_id=clinic["bob"].pk, first=FIRST, last=LAST)
    with pytest.raises(PermissionDenied):
        clinicians.clinician_gaps(actor=ann, clinician_id=clinicians.UNATTRIBUTED, first=FIRST, last=LAST)
    lead_gaps = clinicians.clinician_gaps(actor=_actor(clinic["lead"]), clinician_id=clinicians.UNATTRIBUTED,
                                          first=FIRST, last=LAST)
    assert [g["patient_id"] for g in lead_gaps] == [clinic["p5"].pk]
    assert AuditEvent.objects.filter(action="quality.clinician_gaps_viewed").count() == 2


@pytest.mark.django_db
def test_other_organization_sees_nothing(clinic: dict[str, Any]) -> None:
    other = make_user(make_org(), "leader")
    assert clinicians.clinician_performance(actor=_actor(other), first=FIRST, last=LAST) == []
    assert clinicians.clinician_gaps(actor=_actor(other), clinician_id=clinic["ann"].pk, first=FIRST,
                                     last=LAST) == []
    with pytest.raises(PermissionDenied):
        clinicians.clinician_performance(actor=Actor(user_id=None, username="p", role="patient",
                                                     organization_id=clinic["org"].pk), first=FIRST, last=LAST)


@pytest.mark.django_db
def test_pages_and_csv(clinic: dict[str, Any]) -> None:
    ui = Client()
    ui.force_login(clinic["ann"])
    page = ui.get("/quality/clinicians/?period=2026-01-01:2026-12-31")
    assert page.status_code == 200
    assert b"Ann Arle, MD" in page.content and b"Unattributed" not in page.content
    csv = ui.get(f"/quality/clinicians/{clinic['ann'].pk}/gaps/?period=2026-01-01:2026-12-31&format=csv")
    assert csv.status_code == 200 and csv["Content-Type"] == "text/csv"
    lines = csv.content.decode().strip().splitlines()
    assert lines[0].startswith("patient_id,") and len(lines) == 2 and "Giv2 Fam2" in lines[1]
    assert ui.get(f"/quality/clinicians/{clinic['bob'].pk}/gaps/?period=2026-01-01:2026-12-31").status_code == 403
    ui.force_login(clinic["lead"])
    page = ui.get("/quality/clinicians/?period=2026-01-01:2026-12-31")
    assert b"Unattributed" in page.content and b"Ann Arle" in page.content


@pytest.mark.django_db
def test_api_own_only_and_csv(clinic: dict[str, Any]) -> None:
    api = Client()
    api.force_login(clinic["bob"])
    body = api.get("/api/quality/clinicians?period=2026-01-01:2026-12-31").json()
    assert [c["clinician_id"] for c in body["clinicians"]] == [clinic["bob"].pk]
    assert body["clinicians"][0]["measures"][0]["rate"] == 1.0
    assert api.get(f"/api/quality/clinicians/{clinic['bob'].pk}/gaps?period=2026-01-01:2026-12-31").json() == []
    assert api.get(f"/api/quality/clinicians/{clinic['ann'].pk}/gaps?period=2026-01-01:2026-12-31"
                   ).status_code == 403
    api.force_login(clinic["lead"])
    csv = api.get(f"/api/quality/clinicians/{clinic['ann'].pk}/gaps?period=2026-01-01:2026-12-31&format=csv")
    assert csv.status_code == 200 and csv.content.decode().count("\n") == 2
