"""Secure messages: routed to the designated member's queue with a response deadline that escalates when missed;
urgent keywords and after-hours messages show the practice's instructions at once; after-hours calls."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from careloop.access import rules, services
from careloop.access.models import AfterHoursContact
from careloop.accounts.tests.factories import actor, make_user
from careloop.careplans.tests.factories import T0, make_clinic
from careloop.core.errors import PermissionDenied
from careloop.programs.services import designate_care_member
from careloop.worklist.services import escalate_overdue

pytestmark = pytest.mark.django_db
NY = dt.timezone(dt.timedelta(hours=-4))  # EDT in March after the 8th


def _clinic():  # type: ignore[no-untyped-def]
    c = make_clinic()
    designate_care_member(organization_id=c.org.pk, patient_id=c.patient.pk, user_id=c.coordinator.pk,
                          actor=c.coord, since=dt.date(2026, 1, 1))
    services.set_protocol(organization_id=c.org.pk, nurse_line_phone="555-0100", actor=c.coord,
                          instructions="Call the nurse line at 555-0100. For an emergency call 911.")
    pu = make_user(c.org, "patient")
    services.link_portal_account(organization_id=c.org.pk, patient_id=c.patient.pk, user_id=pu.pk, actor=c.coord)
    return c, actor(pu)


def test_message_routes_to_designated_member_and_escalates_when_the_target_is_missed() -> None:
    with time_machine.travel(T0, tick=False):
        c, pa = _clinic()
        r = services.send_message(actor=pa, patient_id=c.patient.pk, body="Can I take my metformin with dinner?")
        task = r.task
        assert (task.task_type, task.assigned_user_id) == ("message_response", c.coordinator.pk)
        assert task.deadline_at == T0 + dt.timedelta(days=1)  # 1 business day (Mon -> Tue, same time)
        assert (r.show_instructions, r.urgent_terms, r.message.after_hours) == (False, [], False)
        assert escalate_overdue(now=T0 + dt.timedelta(hours=23), organization_id=c.org.pk).escalated == 0
    late = T0 + dt.timedelta(days=1, minutes=5)
    with time_machine.travel(late, tick=False):
        assert escalate_overdue(organization_id=c.org.pk).escalated == 1
    task.refresh_from_db()
    assert task.escalation_level == 1


@time_machine.travel(T0, tick=False)
def test_urgent_keywords_show_the_after_hours_instructions_at_once() -> None:
    c, pa = _clinic()
    r = services.send_message(actor=pa, patient_id=c.patient.pk, body="I have CHEST PAIN and I can’t breathe")
    assert r.show_instructions is True
    assert r.urgent_terms == ["chest pain", "can't breathe"]
    assert r.instructions.startswith("Call the nurse line at 555-0100")
    assert r.task.reason.startswith("URGENT terms: chest pain, can't breathe.")


def test_after_hours_message_goes_to_the_chart_and_the_next_morning_queue() -> None:
    friday_night = dt.datetime(2026, 3, 13, 22, 30, tzinfo=NY)
    with time_machine.travel(friday_night, tick=False):
        c, pa = _clinic()
        r = services.send_message(actor=pa, patient_id=c.patient.pk, body="My sugar was 250 tonight")
    assert r.show_instructions is True and r.message.after_hours is True
    assert r.task.due_at == dt.datetime(2026, 3, 16, 8, 0, tzinfo=NY)  # Monday 08:00
    contact = AfterHoursContact.objects.get(patient=c.patient)
    assert (contact.channel, contact.message_id, contact.followup_task_id) == ("message", r.message.pk, r.task.pk)


def test_on_call_clinician_logs_a_call_followed_up_next_business_morning() -> None:
    c, _ = _clinic()
    nurse = actor(c.nurse)
    call = services.log_after_hours_call(actor=nurse, patient_id=c.patient.pk, summary="Dizzy, advised fluids",
                                         occurred_at=dt.datetime(2026, 7, 3, 2, 0, tzinfo=NY))
    from careloop.worklist.models import CareTask

    task = CareTask.objects.get(pk=call.followup_task_id)
    assert task.due_at == dt.datetime(2026, 7, 6, 8, 0, tzinfo=NY)  # Fri 3 July 2026 is the observed holiday
    with pytest.raises(PermissionDenied):
        services.log_after_hours_call(actor=c.coord, patient_id=c.patient.pk, summary="x")


def test_caregiver_without_consent_cannot_message_and_staff_cannot_use_the_portal() -> None:
    c, _ = _clinic()
    cg = actor(make_user(c.org, "caregiver"))
    with pytest.raises(PermissionDenied):
        services.send_message(actor=cg, patient_id=c.patient.pk, body="hello")
    with pytest.raises(PermissionDenied):
        services.send_message(actor=c.coord, patient_id=c.patient.pk, body="hello")


def test_access_notice_and_on_call_schedule() -> None:
    c, _ = _clinic()
    n = services.record_access_notice(organization_id=c.org.pk, patient_id=c.patient.pk, told_on=T0.date(),
                                      method="handout", actor=c.coord)
    assert n.recorded_by == c.coordinator.username
    s = services.add_on_call_shift(organization_id=c.org.pk, clinician_id=c.nurse.pk, starts_at=T0,
                                   ends_at=T0 + dt.timedelta(hours=14), actor=c.coord)
    from careloop.access import selectors

    assert list(selectors.on_call_at(organization_id=c.org.pk, at=T0 + dt.timedelta(hours=2))) == [s]
    with pytest.raises(Exception, match="provider or nurse"):
        services.add_on_call_shift(organization_id=c.org.pk, clinician_id=c.coordinator.pk, starts_at=T0,
                                   ends_at=T0 + dt.timedelta(hours=1), actor=c.coord)


@pytest.mark.parametrize(("local", "after"), [
    (dt.datetime(2026, 3, 9, 7, 59), True), (dt.datetime(2026, 3, 9, 8, 0), False),
    (dt.datetime(2026, 3, 9, 16, 59), False), (dt.datetime(2026, 3, 9, 17, 0), True),
    (dt.datetime(2026, 3, 14, 12, 0), True), (dt.datetime(2026, 12, 25, 10, 0), True),
])
def test_after_hours_rule(local: dt.datetime, after: bool) -> None:
    assert rules.is_after_hours(local, office_open=dt.time(8), office_close=dt.time(17)) is after


def test_weekend_message_is_due_at_closing_of_the_next_business_day() -> None:
    sat = dt.datetime(2026, 3, 14, 11, 0, tzinfo=NY)
    assert rules.response_deadline(sat, business_days=1, office_close=dt.time(17)) == dt.datetime(
        2026, 3, 16, 17, 0, tzinfo=NY)
