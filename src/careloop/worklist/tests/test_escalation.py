"""Escalation with a frozen clock, at-risk flags, re-prioritization, recurring check-ins and the scheduler."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from careloop.audit.models import AuditEvent
from careloop.programs.services import designate_care_member
from careloop.worklist import scheduler, services
from careloop.worklist.models import CareTask, Notification, ScheduledJobRun, TaskEvent
from careloop.worklist.services.recurring import monthly_checkin_key
from careloop.worklist.tests.factories import T0, make_clinic, make_task

pytestmark = pytest.mark.django_db
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


def test_overdue_tasks_escalate_once_a_day_and_notify_the_supervisor_or_leaders(
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    c = make_clinic()
    boss = c.user("bea", "nurse")
    cora = c.user("cora", "coordinator")
    cora.supervisor = boss
    cora.save()
    lead1, lead2 = c.user("lee", "leader"), c.user("lou", "leader")
    with time_machine.travel(T0, tick=False):
        task = make_task(c.org, c.patients[0], due_at=T0 + 2 * H)
        unassigned = make_task(c.org, c.patients[1], "care_plan_review", due_at=T0 + 2 * H)  # no provider
    assert (task.assigned_user_id, unassigned.assigned_user_id) == (cora.pk, None)
    before = task.priority

    with time_machine.travel(T0 + H, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert services.escalate_overdue().escalated == 0  # not overdue yet
    with time_machine.travel(T0 + 3 * H, tick=False), django_capture_on_commit_callbacks(execute=True):
        r = services.escalate_overdue()
    assert (r.escalated, r.notified) == (2, 3)
    task.refresh_from_db()
    assert (task.escalation_level, task.escalated_at) == (1, T0 + 3 * H)
    assert task.priority > before
    assert task.priority_explanation[0] == "Urgency +50: overdue by 1 h (due Mon 09 Mar 12:00)"
    assert task.priority_explanation[-1] == "Escalated +5: overdue, escalated 1x"
    assert sorted(Notification.objects.values_list("user_id", "task_id", "kind")) == sorted([
        (boss.pk, task.pk, "escalation"), (lead1.pk, unassigned.pk, "escalation"),
        (lead2.pk, unassigned.pk, "escalation")])
    assert TaskEvent.objects.filter(task=task, kind="escalated").count() == 1
    assert AuditEvent.objects.filter(action="task.escalated", role="system").count() == 2

    with time_machine.travel(T0 + 10 * H, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert services.escalate_overdue().escalated == 0  # once per interval
    with time_machine.travel(T0 + 3 * H + D, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert services.escalate_overdue().escalated == 2
    task.refresh_from_db()
    assert task.escalation_level == 2
    for days in (2, 3, 4):
        with time_machine.travel(T0 + 3 * H + days * D, tick=False):
            services.escalate_overdue()
    task.refresh_from_db()
    assert task.escalation_level == 3  # capped


def test_completed_and_snoozed_tasks_do_not_escalate() -> None:
    c = make_clinic()
    c.user("cora", "coordinator")
    with time_machine.travel(T0, tick=False):
        done = make_task(c.org, c.patients[0], due_at=T0 + H)
        services.change_status(organization_id=c.org.pk, task_id=done.pk, status="completed", actor=c.actor("cora"))
        snoozed = make_task(c.org, c.patients[1], due_at=T0 + H)
        services.snooze_task(organization_id=c.org.pk, task_id=snoozed.pk, until=T0 + 2 * D, actor=c.actor("cora"))
    with time_machine.travel(T0 + D, tick=False):
        assert services.escalate_overdue().escalated == 0
    with time_machine.travel(T0 + 3 * D, tick=False):
        assert services.escalate_overdue().escalated == 1


def test_deadline_at_risk_is_flagged_before_it_is_missed(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    """Discharge on Thursday: contact due by the end of the 2nd business day (Monday). Flagged on Monday morning,
    when less than one business day is left, and not before."""
    c = make_clinic()
    nina = c.user("nina", "nurse")
    lead = c.user("lee", "leader")
    thursday = dt.datetime(2026, 3, 5, 15, tzinfo=dt.UTC)
    deadline = dt.datetime(2026, 3, 10, 3, 59, 59, tzinfo=dt.UTC)  # Mon 9 Mar 23:59:59 New York
    with time_machine.travel(thursday, tick=False):
        task = make_task(c.org, c.patients[0], "post_discharge_contact", deadline_at=deadline,
                         due_at=deadline - 6 * H)
    assert task.at_risk is False
    with time_machine.travel(dt.datetime(2026, 3, 6, 21, tzinfo=dt.UTC), tick=False):  # Fri 16:00: 10 h left
        assert services.escalate_overdue().flagged_at_risk == 0
    monday = dt.datetime(2026, 3, 9, 12, tzinfo=dt.UTC)  # Mon 08:00 New York: 9 business hours... minus 0
    with time_machine.travel(monday + H, tick=False), django_capture_on_commit_callbacks(execute=True):
        r = services.escalate_overdue()
    assert r.flagged_at_risk == 1
    task.refresh_from_db()
    assert task.at_risk is True
    assert sorted(Notification.objects.values_list("user_id", "kind")) == sorted([(nina.pk, "at_risk"),
                                                                                   (lead.pk, "at_risk")])
    assert TaskEvent.objects.get(task=task, kind="at_risk").to_value == "Mon 09 Mar 23:59"
    with time_machine.travel(monday + 2 * H, tick=False):
        assert services.escalate_overdue().flagged_at_risk == 0  # flagged once


def test_priorities_are_recomputed_when_the_urgency_band_changes() -> None:
    c = make_clinic()
    with time_machine.travel(T0, tick=False):
        task = make_task(c.org, c.patients[0], due_at=T0 + 5 * D)
    assert task.priority_explanation[0].startswith("Urgency +20: due within a week")
    assert task.priority_valid_until == T0 + 2 * D
    with time_machine.travel(T0 + D, tick=False):
        assert services.escalate_overdue().reprioritized == 0
    with time_machine.travel(T0 + 2 * D, tick=False):
        assert services.escalate_overdue().reprioritized == 1
    task.refresh_from_db()
    assert task.priority_explanation[0].startswith("Urgency +32.5: due within 3 days")
    assert task.priority_valid_until == T0 + 4 * D


def test_monthly_checkins_for_patients_with_a_designated_member_and_no_contact() -> None:
    c = make_clinic(n_patients=4)
    cora = c.user("cora", "coordinator")
    lead = c.actor("lee", "leader")
    p0, p1, p2, p3 = c.patients
    with time_machine.travel(T0, tick=False):
        for p in (p0, p1, p2):
            designate_care_member(organization_id=c.org.pk, patient_id=p.pk, user_id=cora.pk, actor=lead,
                                  since=dt.date(2026, 2, 1))
        services.log_outreach(organization_id=c.org.pk, patient_id=p1.pk, channel="phone", outcome="reached",
                              actor=c.actor("cora"))
        services.log_outreach(organization_id=c.org.pk, patient_id=p2.pk, channel="phone", outcome="no_answer",
                              actor=c.actor("cora"))
        result = services.run_monthly_checkins(organization_id=c.org.pk, month="2026-03", actor=lead)
        assert (result.candidates, result.created, result.existing) == (2, 2, 0)
        again = services.run_monthly_checkins(organization_id=c.org.pk, month="2026-03", actor=lead)
        assert (again.created, again.existing) == (0, 2)
    tasks = CareTask.objects.filter(task_type="monthly_checkin").order_by("patient_id")
    assert [t.patient_id for t in tasks] == [p0.pk, p2.pk]
    assert {t.dedupe_key for t in tasks} == {monthly_checkin_key(p0.pk, "2026-03"), monthly_checkin_key(p2.pk,
                                                                                                       "2026-03")}
    t = tasks[0]
    assert (t.assigned_user_id, t.due_at, t.deadline_at) == (
        cora.pk, dt.datetime(2026, 3, 20, 21, tzinfo=dt.UTC), dt.datetime(2026, 4, 1, 3, 59, 59, tzinfo=dt.UTC))
    assert t.reason == "Monthly check-in for March 2026: no contact yet"
    assert p3.pk not in [x.patient_id for x in tasks]


def test_scheduler_runs_each_period_once() -> None:
    c = make_clinic()
    with time_machine.travel(T0 + dt.timedelta(minutes=7), tick=False):
        make_task(c.org, c.patients[0], due_at=T0)
        first = scheduler.run_due()
        second = scheduler.run_due()  # a second scheduler in the same period
    assert [(r["job"], r["period"], r["status"]) for r in first] == [
        ("worklist.escalate", "2026-03-09T14:05Z", "done"), ("risk.refresh", "2026-03-09", "done"),
        ("worklist.recurring", "2026-03-09", "done"), ("careplans.yearly_review", "2026-03-09", "done")]
    assert first[0]["detail"]["escalated"] == 1
    assert [r["status"] for r in second] == ["skipped", "skipped", "skipped", "skipped"]
    with time_machine.travel(T0 + dt.timedelta(minutes=11), tick=False):
        assert [r["status"] for r in scheduler.run_due()] == ["done", "skipped", "skipped", "skipped"]
    assert ScheduledJobRun.objects.count() == 5


def test_a_failing_job_is_recorded() -> None:
    def boom(now: dt.datetime) -> dict[str, object]:
        raise RuntimeError("nope")

    with time_machine.travel(T0, tick=False):
        report = scheduler.run_due(jobs=(scheduler.Job("test.boom", scheduler.daily, boom),))
    assert report[0]["status"] == "failed"
    assert ScheduledJobRun.objects.get(job="test.boom").detail == {"error": "RuntimeError: nope"}
