"""Designated care-team member: rules, service (history, one current), selectors and API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from careloop.accounts.tests.factories import actor, bearer, make_token, make_user
from careloop.audit.models import AuditEvent
from careloop.clinics.tests.factories import make_org
from careloop.core.errors import NotFound, PermissionDenied, ValidationFailed
from careloop.programs import rules, selectors, services
from careloop.programs.models import DesignatedCareMember
from careloop.registry.tests.factories import make_patient

D = dt.date


@pytest.mark.parametrize(("since", "until", "day", "covers"), [
    (D(2026, 3, 1), None, D(2026, 3, 1), True), (D(2026, 3, 1), None, D(2026, 2, 28), False),
    (D(2026, 3, 1), D(2026, 3, 5), D(2026, 3, 5), True), (D(2026, 3, 1), D(2026, 3, 5), D(2026, 3, 6), False),
])
def test_covers(since: D, until: D | None, day: D, covers: bool) -> None:
    assert rules.covers(rules.Designation(1, since, until), day) is covers


def test_close_on() -> None:
    current = rules.Designation(1, D(2026, 3, 1), None)
    assert rules.close_on(current, D(2026, 3, 10)) == D(2026, 3, 9)
    assert rules.close_on(current, D(2026, 3, 1)) == D(2026, 3, 1)
    assert rules.overlaps_month(rules.Designation(1, D(2026, 2, 1), D(2026, 3, 1)), D(2026, 3, 1), D(2026, 3, 31))


@pytest.mark.django_db
def test_designating_keeps_history_and_one_current_member() -> None:
    org = make_org()
    p = make_patient(org, "Ames", "Ann")
    cora, olga = make_user(org, "coordinator"), make_user(org, "nurse")
    lead = actor(make_user(org, "leader"))
    first = services.designate_care_member(organization_id=org.pk, patient_id=p.pk, user_id=cora.pk,
                                           since=D(2026, 1, 5), actor=lead)
    same = services.designate_care_member(organization_id=org.pk, patient_id=p.pk, user_id=cora.pk, actor=lead)
    assert same.pk == first.pk
    services.designate_care_member(organization_id=org.pk, patient_id=p.pk, user_id=olga.pk, since=D(2026, 3, 1),
                                   actor=lead, reason="moved teams")
    rows = list(DesignatedCareMember.objects.order_by("since").values_list("user_id", "since", "until"))
    assert rows == [(cora.pk, D(2026, 1, 5), D(2026, 2, 28)), (olga.pk, D(2026, 3, 1), None)]
    on = selectors.designated_member(organization_id=org.pk, patient_id=p.pk, on=D(2026, 2, 10))
    assert on is not None and on.user_id == cora.pk
    assert selectors.designated_users(organization_id=org.pk, patient_ids=[p.pk], on=D(2026, 3, 9)) == {p.pk: olga.pk}
    assert selectors.designated_patient_counts(organization_id=org.pk, on=D(2026, 3, 9)) == {olga.pk: 1}
    assert AuditEvent.objects.filter(action="care_member.designated", patient_id=p.pk).count() == 2
    ended = services.end_designation(organization_id=org.pk, patient_id=p.pk, until=D(2026, 3, 31), actor=lead)
    assert ended is not None and ended.until == D(2026, 3, 31)


@pytest.mark.django_db
def test_designation_is_checked() -> None:
    org, other = make_org(), make_org()
    p = make_patient(org, "Ames", "Ann")
    lead = actor(make_user(org, "leader"))
    with pytest.raises(ValidationFailed, match="billing cannot be a designated"):
        services.designate_care_member(organization_id=org.pk, patient_id=p.pk,
                                       user_id=make_user(org, "billing").pk, actor=lead)
    with pytest.raises(NotFound):
        services.designate_care_member(organization_id=org.pk, patient_id=p.pk,
                                       user_id=make_user(other, "nurse").pk, actor=lead)
    with pytest.raises(PermissionDenied):
        services.designate_care_member(organization_id=org.pk, patient_id=p.pk,
                                       user_id=make_user(org, "nurse").pk, actor=actor(make_user(org, "chw")))
    with pytest.raises(PermissionDenied):
        services.designate_care_member(organization_id=org.pk, patient_id=p.pk,
                                       user_id=make_user(org, "nurse").pk, actor=actor(make_user(other, "leader")))


@pytest.mark.django_db
def test_designation_api() -> None:
    org = make_org()
    p = make_patient(org, "Ames", "Ann")
    nina = make_user(org, "nurse")
    h = bearer(make_token(make_user(org, "coordinator")))
    r = Client().post(f"/api/programs/patients/{p.pk}/designated-member", {"user_id": nina.pk},
                      content_type="application/json", **h)
    assert (r.status_code, r.json()["user_id"]) == (200, nina.pk)
    body = Client().get(f"/api/programs/patients/{p.pk}/designated-member", **h).json()
    assert body["current"]["username"] == nina.username
    assert Client().get("/api/programs/patients/999999/designated-member", **h).status_code == 404
