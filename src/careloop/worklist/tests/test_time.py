"""Time entries, the timer, monthly totals across month boundaries and zones, outreach and TCM evidence."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from careloop.audit.models import AuditEvent
from careloop.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from careloop.worklist import selectors, services
from careloop.worklist.models import TimeEntry, TimeEntryRevision
from careloop.worklist.tests.factories import T0, make_clinic, make_task

pytestmark = pytest.mark.django_db
D = dt.date
UTC = dt.UTC


def _add(c, who: str, patient, minutes: int, program: str = "CCM", day: D = D(2026, 3, 2), **kw):  # type: ignore[no-untyped-def]
    return services.add_time_entry(organization_id=c.org.pk, patient_id=patient.pk, minutes=minutes,
                                   activity=kw.pop("activity", "care_coordination"), program=program,
                                   interactive=kw.pop("interactive", False), service_date=day, actor=c.actor(who),
                                   **kw)


@pytest.fixture(autouse=True)
def frozen():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        yield


def test_minutes_by_program_is_per_clinic_month_and_staff_type() -> None:
    c = make_clinic(n_patients=2)
    c.user("nina", "nurse")
    c.user("doc", "provider")
    p, q = c.patients
    _add(c, "nina", p, 20, interactive=True)
    _add(c, "nina", p, 15)
    _add(c, "doc", p, 30)
    _add(c, "nina", p, 10, program="BHI")
    _add(c, "nina", p, 99, day=D(2026, 2, 28))  # February
    _add(c, "nina", q, 5, program="RPM")
    voided = _add(c, "nina", q, 50, program="RPM")
    services.void_time_entry(organization_id=c.org.pk, entry_id=voided.pk, reason="wrong patient",
                             actor=c.actor("nina"))
    got = selectors.minutes_by_program(organization_id=c.org.pk, patient_ids=None, month="2026-03")
    assert got == {
        (p.pk, "CCM"): {"total": 65, "interactive": 20,
                        "by_staff_type": {"clinical_staff": 35, "billing_practitioner": 30}},
        (p.pk, "BHI"): {"total": 10, "interactive": 0, "by_staff_type": {"clinical_staff": 10}},
        (q.pk, "RPM"): {"total": 5, "interactive": 0, "by_staff_type": {"clinical_staff": 5}},
    }
    assert selectors.minutes_by_program(organization_id=c.org.pk, patient_ids=[q.pk], month="2026-03") == {
        (q.pk, "RPM"): {"total": 5, "interactive": 0, "by_staff_type": {"clinical_staff": 5}}}
    assert selectors.minutes_by_program(organization_id=c.org.pk, patient_ids=[p.pk], month="2026-02")[
        (p.pk, "CCM")]["total"] == 99


def test_an_entry_at_2330_local_on_the_31st_belongs_to_that_month() -> None:
    c = make_clinic()
    c.user("nina", "nurse")
    p = c.patients[0]
    with time_machine.travel(dt.datetime(2026, 2, 1, 4, 45, tzinfo=UTC), tick=False):  # 23:45 Jan 31 in New York
        entry = _add(c, "nina", p, 12, day=D(2026, 1, 31), start_time=dt.time(23, 30))
        assert entry.started_at == dt.datetime(2026, 2, 1, 4, 30, tzinfo=UTC)  # February in UTC
        services.start_timer(organization_id=c.org.pk, patient_id=p.pk, program="CCM", actor=c.actor("nina"))
    with time_machine.travel(dt.datetime(2026, 2, 1, 5, 10, tzinfo=UTC), tick=False):  # 00:10 Feb 1 local
        timed = services.stop_timer(organization_id=c.org.pk, actor=c.actor("nina"))
    assert timed is not None
    assert (timed.minutes, timed.service_date) == (25, D(2026, 1, 31))  # counted on the day it started
    jan = selectors.minutes_by_program(organization_id=c.org.pk, patient_ids=[p.pk], month="2026-01")
    feb = selectors.minutes_by_program(organization_id=c.org.pk, patient_ids=[p.pk], month="2026-02")
    assert (jan[(p.pk, "CCM")]["total"], feb) == (37, {})


def test_same_utc_instant_in_another_clinic_zone_is_another_month() -> None:
    c = make_clinic()
    c.org.time_zone = "America/Los_Angeles"
    c.org.save()
    c.user("nina", "nurse")
    with time_machine.travel(dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC), tick=False):  # 22:00 Feb 28 in LA
        services.start_timer(organization_id=c.org.pk, patient_id=c.patients[0].pk, program="PCM",
                             actor=c.actor("nina"))
    with time_machine.travel(dt.datetime(2026, 3, 1, 6, 30, tzinfo=UTC), tick=False):
        entry = services.stop_timer(organization_id=c.org.pk, actor=c.actor("nina"))
    assert entry is not None and entry.service_date == D(2026, 2, 28)


def test_timer_start_stop_cancel_and_one_per_user() -> None:
    c = make_clinic(n_patients=2)
    c.user("nina", "nurse")
    me = c.actor("nina")
    p, q = c.patients
    timer = services.start_timer(organization_id=c.org.pk, patient_id=p.pk, program="CCM", actor=me)
    assert services.start_timer(organization_id=c.org.pk, patient_id=p.pk, program="CCM", actor=me).pk == timer.pk
    with pytest.raises(Conflict):
        services.start_timer(organization_id=c.org.pk, patient_id=q.pk, program="CCM", actor=me)
    with time_machine.travel(T0 + dt.timedelta(seconds=50), tick=False):
        assert services.stop_timer(organization_id=c.org.pk, actor=me) is None  # under a minute
    with pytest.raises(NotFound):
        services.stop_timer(organization_id=c.org.pk, actor=me)
    services.start_timer(organization_id=c.org.pk, patient_id=q.pk, program="RPM", actor=me)
    services.cancel_timer(organization_id=c.org.pk, actor=me)
    assert selectors.running_timer(organization_id=c.org.pk, user_id=me.user_id or 0) is None
    timer_events = AuditEvent.objects.filter(action__startswith="timer.").order_by("pk")
    assert list(timer_events.values_list("action", "patient_id")) == [
        ("timer.started", p.pk), ("timer.discarded", p.pk), ("timer.started", q.pk), ("timer.discarded", q.pk)]
    with pytest.raises(PermissionDenied):
        services.start_timer(organization_id=c.org.pk, patient_id=p.pk, program="CCM",
                             actor=c.actor("bill", "billing"))


def test_manual_entries_validate_and_time_for_others_needs_edit_any() -> None:
    c = make_clinic()
    nina = c.user("nina", "nurse")
    c.user("olga", "coordinator")
    p = c.patients[0]
    with pytest.raises(ValidationFailed) as err:
        _add(c, "nina", p, 0, program="XYZ", day=D(2026, 3, 10))
    assert set(err.value.field_errors) == {"minutes", "program", "service_date"}
    with pytest.raises(PermissionDenied):
        _add(c, "olga", p, 10, staff_user_id=nina.pk)
    c.user("lee", "leader")
    entry = services.add_time_entry(organization_id=c.org.pk, patient_id=p.pk, minutes=10, activity="outreach",
                                    program="CCM", interactive=False, service_date=D(2026, 3, 9),
                                    staff_user_id=nina.pk, actor=c.actor("lee"))
    assert (entry.staff_id, entry.staff_type, entry.created_by_id) == (nina.pk, "clinical_staff", c.user("lee").pk)
    with pytest.raises(PermissionDenied, match="does not log care-management time"):  # a leader's own time
        services.add_time_entry(organization_id=c.org.pk, patient_id=p.pk, minutes=10, activity="outreach",
                                program="CCM", interactive=False, service_date=D(2026, 3, 9), actor=c.actor("lee"))
    with pytest.raises(ValidationFailed, match="only clinical staff"):
        services.add_time_entry(organization_id=c.org.pk, patient_id=p.pk, minutes=10, activity="outreach",
                                program="CCM", interactive=False, service_date=D(2026, 3, 9),
                                staff_user_id=c.user("bill", "billing").pk, actor=c.actor("lee"))


def test_edits_keep_history_and_voids_are_soft() -> None:
    c = make_clinic()
    c.user("nina", "nurse")
    c.user("olga", "coordinator")
    entry = _add(c, "nina", c.patients[0], 20, start_time=dt.time(9, 15))
    with pytest.raises(ValidationFailed, match="a reason is required"):
        services.edit_time_entry(organization_id=c.org.pk, entry_id=entry.pk, changes={"minutes": 25}, reason="",
                                 actor=c.actor("nina"))
    with pytest.raises(PermissionDenied):
        services.edit_time_entry(organization_id=c.org.pk, entry_id=entry.pk, changes={"minutes": 25}, reason="x",
                                 actor=c.actor("olga"))
    services.edit_time_entry(organization_id=c.org.pk, entry_id=entry.pk,
                             changes={"minutes": 25, "service_date": D(2026, 3, 3)}, reason="typo",
                             actor=c.actor("nina"))
    entry.refresh_from_db()
    assert (entry.minutes, entry.service_date, entry.started_at) == (
        25, D(2026, 3, 3), dt.datetime(2026, 3, 3, 14, 15, tzinfo=UTC))
    rev = TimeEntryRevision.objects.get(entry=entry)
    assert (rev.actor_name, rev.reason, rev.at) == ("nina-" + c.org.slug, "typo", T0)
    assert rev.old_values == {"minutes": 20, "service_date": "2026-03-02", "started_at": "2026-03-02T14:15:00+00:00"}
    assert rev.new_values == {"minutes": 25, "service_date": "2026-03-03", "started_at": "2026-03-03T14:15:00+00:00"}
    services.void_time_entry(organization_id=c.org.pk, entry_id=entry.pk, reason="duplicate",
                             actor=c.actor("lee", "leader"))
    entry.refresh_from_db()
    assert (entry.voided, entry.void_reason, entry.voided_at) == (True, "duplicate", T0)
    assert TimeEntry.objects.count() == 1
    with pytest.raises(ValidationFailed, match="voided"):
        services.edit_time_entry(organization_id=c.org.pk, entry_id=entry.pk, changes={"minutes": 5}, reason="x",
                                 actor=c.actor("lee"))
    assert list(AuditEvent.objects.filter(object_type="TimeEntry").order_by("pk").values_list("action", flat=True)) == [
        "time_entry.created", "time_entry.edited", "time_entry.voided"]


def test_outreach_moves_the_task_logs_time_and_gives_tcm_evidence() -> None:
    c = make_clinic()
    nina = c.user("nina", "nurse")
    p = c.patients[0]
    task = make_task(c.org, p, "post_discharge_contact", program="TCM")
    assert task.assigned_user_id == nina.pk
    first = services.log_outreach(organization_id=c.org.pk, patient_id=p.pk, channel="phone", outcome="no_answer",
                                  task_id=task.pk, at=T0 - dt.timedelta(hours=3), actor=c.actor("nina"))
    task.refresh_from_db()
    assert task.status == "in-progress"
    start, end = T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=1)
    evidence = selectors.tcm_contact_evidence(organization_id=c.org.pk, patient_id=p.pk, start=start, end=end)
    assert (evidence.satisfied, evidence.explanation) == (False, "1 timely attempt(s); 2 are required")
    services.log_outreach(organization_id=c.org.pk, patient_id=p.pk, channel="letter", outcome="left_message",
                          actor=c.actor("nina"))
    second = services.log_outreach(organization_id=c.org.pk, patient_id=p.pk, channel="phone", outcome="reached",
                                   task_id=task.pk, minutes=12, actor=c.actor("nina"),
                                   script_key="post_discharge_contact")
    evidence = selectors.tcm_contact_evidence(organization_id=c.org.pk, patient_id=p.pk, start=start, end=end)
    assert (evidence.contacted, evidence.contact_at, evidence.attempt_ids) == (True, T0, [first.pk, second.pk])
    entry = TimeEntry.objects.get()
    assert (entry.minutes, entry.program, entry.interactive, entry.activity, entry.source, entry.outreach_id) == (
        12, "TCM", True, "outreach", "outreach", second.pk)
    with pytest.raises(ValidationFailed) as err:
        services.log_outreach(organization_id=c.org.pk, patient_id=p.pk, channel="pigeon", outcome="maybe",
                              at=T0 + dt.timedelta(hours=1), actor=c.actor("nina"))
    assert set(err.value.field_errors) == {"channel", "outcome", "at"}
    assert AuditEvent.objects.filter(action="outreach.logged").count() == 3
