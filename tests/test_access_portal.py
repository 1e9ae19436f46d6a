"""Portal and partner scoping: a patient sees only their own plan, a caregiver only with consent (until revoked),
a partner only the patients shared with it and only until expiry. Every access is audited."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from careloop.access import selectors, services
from careloop.accounts.tests.factories import actor, bearer, make_token, make_user
from careloop.audit.models import AuditEvent
from careloop.careplans import services as plans
from careloop.careplans.tests.factories import T0, make_clinic
from careloop.core.errors import NotFound, PermissionDenied

pytestmark = pytest.mark.django_db


def _setup():  # type: ignore[no-untyped-def]
    c = make_clinic()
    mine = plans.create_plan(organization_id=c.org.pk, patient_id=c.patient.pk, actor=c.coord, templates=["diabetes"])
    theirs = plans.create_plan(organization_id=c.org.pk, patient_id=c.other_patient.pk, actor=c.coord,
                               templates=["copd"])
    return c, mine, theirs


@time_machine.travel(T0, tick=False)
def test_patient_sees_only_their_own_plan() -> None:
    c, mine, theirs = _setup()
    pu = make_user(c.org, "patient")
    services.link_portal_account(organization_id=c.org.pk, patient_id=c.patient.pk, user_id=pu.pk, actor=c.coord)
    a = actor(pu)
    assert [p.pk for p in selectors.portal_plans(actor=a, today=T0.date())] == [mine.pk]
    assert services.view_plan(actor=a, plan_id=mine.pk).pk == mine.pk
    with pytest.raises(NotFound):
        services.view_plan(actor=a, plan_id=theirs.pk)
    with pytest.raises(NotFound):
        services.comment_on_plan(actor=a, plan_id=theirs.pk, body="hello")
    services.comment_on_plan(actor=a, plan_id=mine.pk, body="I want to walk with my dog", kind="goal_proposal")
    services.mark_action_done(actor=a, plan_id=mine.pk, action_id="diabetes-s1")
    assert AuditEvent.objects.filter(action="careplan.viewed", patient_id=c.patient.pk).count() == 1
    assert AuditEvent.objects.filter(action="careplan.access_denied", outcome="denied").count() == 2
    client = Client()
    headers = bearer(make_token(pu))
    assert client.get(f"/api/access/portal/plans/{mine.pk}", **headers).status_code == 200
    assert client.get(f"/api/access/portal/plans/{theirs.pk}", **headers).status_code == 404
    assert client.get(f"/api/careplans/{mine.pk}", **headers).status_code == 403
    assert client.get(f"/api/access/partner/plans/{mine.pk}", **headers).status_code == 403


def test_caregiver_sees_the_plan_only_with_consent_and_until_revoked() -> None:
    c, mine, _ = _setup()
    cg = actor(make_user(c.org, "caregiver"))
    assert selectors.portal_plans(actor=cg, today=T0.date()) == []
    proxy = services.grant_proxy(organization_id=c.org.pk, patient_id=c.patient.pk, caregiver_id=cg.user_id or 0,
                                 consent_date=T0.date(), relationship="daughter", actor=c.coord)
    assert selectors.portal_plans(actor=cg, today=T0.date() - dt.timedelta(days=1)) == []  # before consent
    assert [p.pk for p in selectors.portal_plans(actor=cg, today=T0.date())] == [mine.pk]
    services.revoke_proxy(organization_id=c.org.pk, proxy_id=proxy.pk, actor=c.coord)
    assert selectors.portal_plans(actor=cg, today=T0.date()) == []
    with pytest.raises(NotFound):
        services.view_plan(actor=cg, plan_id=mine.pk)


def test_partner_sees_shared_patients_only_until_expiry() -> None:
    c, mine, theirs = _setup()
    partner = make_user(c.org, "partner")
    pa = actor(partner)
    with time_machine.travel(T0, tick=False):
        services.share_with_partner(organization_id=c.org.pk, patient_id=c.patient.pk, partner_id=partner.pk,
                                    partner_kind="specialist", expires_at=T0 + dt.timedelta(days=30), actor=c.coord)
        assert [p.pk for p in selectors.partner_plans(actor=pa, now=T0)] == [mine.pk]
        services.view_plan(actor=pa, plan_id=mine.pk)
        services.comment_on_plan(actor=pa, plan_id=mine.pk, body="Echo next month")
        with pytest.raises(NotFound):
            services.view_plan(actor=pa, plan_id=theirs.pk)
        with pytest.raises(PermissionDenied):
            services.mark_action_done(actor=pa, plan_id=mine.pk, action_id="diabetes-s1")
        with pytest.raises(PermissionDenied):
            services.comment_on_plan(actor=pa, plan_id=mine.pk, body="x", kind="goal_proposal")
    with time_machine.travel(T0 + dt.timedelta(days=31), tick=False):
        assert selectors.partner_plans(actor=pa, now=T0 + dt.timedelta(days=31)) == []
        with pytest.raises(NotFound):
            services.view_plan(actor=pa, plan_id=mine.pk)
        assert Client().get(f"/api/access/partner/plans/{mine.pk}", **bearer(make_token(partner))).status_code == 404


def test_no_access_across_organizations() -> None:
    c, mine, _ = _setup()
    other = make_clinic()
    pu = make_user(other.org, "patient")
    services.link_portal_account(organization_id=other.org.pk, patient_id=other.patient.pk, user_id=pu.pk,
                                 actor=other.coord)
    with pytest.raises(NotFound):
        services.view_plan(actor=actor(pu), plan_id=mine.pk)
    stranger = make_user(other.org, "partner")
    with pytest.raises(Exception, match="partner"):
        services.share_with_partner(organization_id=c.org.pk, patient_id=c.patient.pk, partner_id=stranger.pk,
                                    partner_kind="snf", expires_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
                                    actor=c.coord)
