"""Task services: create (priority, assignment, dedupe), bulk create, status, snooze, reassign, absences."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError

from careloop.audit.models import AuditEvent
from careloop.clinics.models import CareTeam
from careloop.core.errors import NotFound, PermissionDenied, ValidationFailed
from careloop.programs.services import designate_care_member
from careloop.worklist import services
from careloop.worklist.models import CareTask, Notification, TaskEvent
from careloop.worklist.services.tasks import TaskSpec
from careloop.worklist.tests.factories import T0, add_to_team, make_clinic, make_task, system

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        yield


def _events(task: CareTask) -> list[tuple[str, str, str, str]]:
    return list(TaskEvent.objects.filter(task=task).order_by("pk").values_list("kind", "from_value", "to_value",
                                                                               "reason"))


def test_create_task_prioritizes_explains_assigns_and_audits() -> None:
    c = make_clinic()
    nina = c.user("nina", "nurse")
    deadline = T0 + dt.timedelta(hours=20)
    task = make_task(c.org, c.patients[0], "post_discharge_contact", reason="Discharged from St Mary's",
                     deadline_at=deadline, program="TCM", source_type="Encounter", source_id="e-1",
                     dedupe_key="adt:e-1:contact")
    assert (task.status, task.in_queue, task.due_at, task.deadline_at) == ("requested", True, deadline, deadline)
    assert (task.assigned_user_id, task.assigned_role) == (nina.pk, "nurse")
    assert task.assignment_reason == "nurse with the most spare capacity (0/60 patients)"
    assert task.risk_tier == "moderate"
    assert task.priority == round(0.5 * 85 + 0.3 * 40 + 0.2 * 100)
    assert task.priority_explanation[0] == "Urgency +42.5: due within 24 hours: regulatory deadline Tue 10 Mar 06:00"
    assert task.at_risk is True  # less than one business day (9 business hours) left
    assert _events(task) == [("created", "", "requested", "Discharged from St Mary's"),
                             ("assigned", "", str(nina.pk), task.assignment_reason)]
    event = AuditEvent.objects.get(action="task.created")
    assert (event.patient_id, event.object_id, event.role) == (c.patients[0].pk, str(task.pk), "system")


def test_designated_member_gets_the_task_even_at_capacity() -> None:
    c = make_clinic()
    cora, other = c.user("cora", "coordinator"), c.user("olga", "coordinator")
    team = CareTeam.objects.create(organization=c.org, name="Blue")
    add_to_team(team, cora, capacity=1)
    make_task(c.org, c.patients[1], assigned_role="coordinator")  # cora or olga: both empty, lowest id wins
    designate_care_member(organization_id=c.org.pk, patient_id=c.patients[0].pk, user_id=cora.pk,
                          actor=c.actor("lead", "leader"))
    task = make_task(c.org, c.patients[0])
    assert (task.assigned_user_id, task.assignment_reason) == (cora.pk, "designated care-team member (continuity)")
    # Someone else's patient goes by capacity: cora is full (1 patient), olga is not.
    assert make_task(c.org, c.patients[2]).assigned_user_id == other.pk


TIERS: dict[int, str] = {}


def tiers(*, organization_id: int, patient_ids: list[int]) -> dict[int, str]:
    return {pid: TIERS[pid] for pid in patient_ids if pid in TIERS}


def test_risk_tier_comes_from_the_optional_provider(settings) -> None:  # type: ignore[no-untyped-def]
    settings.WORKLIST_RISK_TIER_PROVIDER = "careloop.worklist.tests.test_tasks.tiers"
    c = make_clinic()
    TIERS.update({c.patients[0].pk: "high", c.patients[1].pk: "bogus"})
    task = make_task(c.org, c.patients[0])
    assert task.risk_tier == "high"
    assert task.priority_explanation[1] == "Risk +30: high risk tier"
    assert make_task(c.org, c.patients[1]).risk_tier == "moderate"  # unknown tier -> moderate
    assert make_task(c.org, c.patients[2]).risk_tier == "moderate"  # not returned -> moderate


def test_same_dedupe_key_returns_the_existing_task() -> None:
    c = make_clinic()
    first = make_task(c.org, c.patients[0], dedupe_key="gap:1")
    again = make_task(c.org, c.patients[0], dedupe_key="gap:1", reason="a different reason")
    assert again.pk == first.pk
    assert CareTask.objects.count() == 1
    assert AuditEvent.objects.filter(action="task.created").count() == 1


def test_dedupe_race_loses_inside_a_savepoint_and_returns_the_winner(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The pre-check misses a row another transaction committed meanwhile: the INSERT hits the constraint."""
    c = make_clinic()
    winner = make_task(c.org, c.patients[0], dedupe_key="race")
    real_filter = CareTask.objects.filter
    calls = {"n": 0}

    def blind_first_check(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        qs = real_filter(*args, **kwargs)
        return qs.none() if calls["n"] == 1 else qs

    monkeypatch.setattr(CareTask.objects, "filter", blind_first_check)
    got = make_task(c.org, c.patients[0], dedupe_key="race")
    assert got.pk == winner.pk
    assert real_filter(dedupe_key="race").count() == 1


def test_dedupe_key_is_a_database_constraint_per_organization() -> None:
    a, b = make_clinic("a"), make_clinic("b")
    make_task(a.org, a.patients[0], dedupe_key="k")
    make_task(b.org, b.patients[0], dedupe_key="k")  # another organization may use the same key
    with pytest.raises(IntegrityError):
        CareTask.objects.create(organization=a.org, patient=a.patients[0], task_type="other", reason="x",
                                dedupe_key="k", due_at=T0)


def test_create_task_validates_and_scopes() -> None:
    a, b = make_clinic("a"), make_clinic("b")
    with pytest.raises(ValidationFailed) as err:
        services.create_task(organization_id=a.org.pk, patient_id=a.patients[0].pk, task_type="nap", reason="",
                             dedupe_key="", program="XYZ", actor=system(a.org))
    assert set(err.value.field_errors) == {"task_type", "reason", "dedupe_key", "program"}
    with pytest.raises(NotFound):
        make_task(a.org, b.patients[0])
    with pytest.raises(NotFound):  # an actor of org B cannot create in org A
        services.create_task(organization_id=a.org.pk, patient_id=a.patients[0].pk, task_type="other", reason="x",
                             dedupe_key="x", actor=b.actor("cora", "coordinator"))
    with pytest.raises(PermissionDenied):
        services.create_task(organization_id=a.org.pk, patient_id=a.patients[0].pk, task_type="other", reason="x",
                             dedupe_key="x", actor=a.actor("pat", "patient"))


def test_bulk_create_is_set_based_and_deduplicated(django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    c = make_clinic(n_patients=8)
    cora = c.user("cora", "coordinator")
    make_task(c.org, c.patients[0], dedupe_key="bulk:0")
    specs = [TaskSpec(p.pk, "care_gap_closure", f"gap {i}", f"bulk:{i}") for i, p in enumerate(c.patients)]
    specs.append(TaskSpec(c.patients[1].pk, "care_gap_closure", "dup", "bulk:1"))
    with django_assert_max_num_queries(25):
        result = services.create_tasks_bulk(organization_id=c.org.pk, specs=specs, actor=system(c.org))
    assert (len(result.created_ids), result.existing) == (7, 2)
    assert CareTask.objects.filter(assigned_user=cora).count() == 8
    assert TaskEvent.objects.filter(kind="created").count() == 8
    assert AuditEvent.objects.filter(action="task.created").count() == 8
    again = services.create_tasks_bulk(organization_id=c.org.pk, specs=specs, actor=system(c.org))
    assert (again.created_ids, again.existing) == ([], 9)


def test_status_changes_follow_the_table_and_keep_history() -> None:
    c = make_clinic()
    cora = c.user("cora", "coordinator")
    task = make_task(c.org, c.patients[0])
    me = c.actor("cora")
    services.change_status(organization_id=c.org.pk, task_id=task.pk, status="in-progress", actor=me)
    with pytest.raises(ValidationFailed, match="a reason is required"):
        services.change_status(organization_id=c.org.pk, task_id=task.pk, status="on-hold", actor=me)
    services.change_status(organization_id=c.org.pk, task_id=task.pk, status="on-hold", reason="in hospital",
                           actor=me)
    task.refresh_from_db()
    assert (task.status, task.in_queue) == ("on-hold", False)
    done = services.change_status(organization_id=c.org.pk, task_id=task.pk, status="completed", actor=me)
    assert (done.in_queue, done.completed_at) == (False, T0)
    with pytest.raises(ValidationFailed, match="a completed task cannot become ready"):
        services.change_status(organization_id=c.org.pk, task_id=task.pk, status="ready", actor=me)
    assert [e[:3] for e in _events(task)][2:] == [("status_changed", "requested", "in-progress"),
                                                 ("status_changed", "in-progress", "on-hold"),
                                                 ("status_changed", "on-hold", "completed")]
    assert AuditEvent.objects.filter(action="task.status_changed", actor_id=cora.pk).count() == 3


def test_only_the_assignee_or_a_lead_works_a_task() -> None:
    c = make_clinic()
    c.user("cora", "coordinator")
    task = make_task(c.org, c.patients[0])
    with pytest.raises(PermissionDenied):
        services.change_status(organization_id=c.org.pk, task_id=task.pk, status="ready",
                               actor=c.actor("chris", "chw"))
    services.change_status(organization_id=c.org.pk, task_id=task.pk, status="ready", actor=c.actor("lee", "leader"))
    with pytest.raises(PermissionDenied):
        services.change_status(organization_id=c.org.pk, task_id=task.pk, status="ready",
                               actor=c.actor("bill", "billing"))


def test_reassign_needs_a_reason_is_kept_audited_and_notifies(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    c = make_clinic()
    cora, olga = c.user("cora", "coordinator"), c.user("olga", "coordinator")
    task = make_task(c.org, c.patients[0])
    assert task.assigned_user_id == cora.pk
    with pytest.raises(ValidationFailed, match="a reason is required"):
        services.reassign_task(organization_id=c.org.pk, task_id=task.pk, user_id=olga.pk, reason=" ",
                               actor=c.actor("cora"))
    with pytest.raises(PermissionDenied):
        services.reassign_task(organization_id=c.org.pk, task_id=task.pk, user_id=olga.pk, reason="x",
                               actor=c.actor("olga"))
    with django_capture_on_commit_callbacks(execute=True):
        services.reassign_task(organization_id=c.org.pk, task_id=task.pk, user_id=olga.pk,
                               reason="speaks Spanish", actor=c.actor("cora"))
    task.refresh_from_db()
    assert task.assigned_user_id == olga.pk
    assert _events(task)[-1] == ("reassigned", str(cora.pk), str(olga.pk), "speaks Spanish")
    assert AuditEvent.objects.filter(action="task.reassigned").values_list("detail", flat=True).get() == (
        f'{{"from":{cora.pk},"reason":"speaks Spanish","to":{olga.pk}}}')
    assert list(Notification.objects.values_list("user_id", "kind")) == [(olga.pk, "reassigned")]


def test_snooze_hides_until_a_time() -> None:
    c = make_clinic()
    c.user("cora", "coordinator")
    task = make_task(c.org, c.patients[0])
    with pytest.raises(ValidationFailed):
        services.snooze_task(organization_id=c.org.pk, task_id=task.pk, until=T0 - dt.timedelta(hours=1),
                             actor=c.actor("cora"))
    services.snooze_task(organization_id=c.org.pk, task_id=task.pk, until=T0 + dt.timedelta(days=1),
                         actor=c.actor("cora"))
    task.refresh_from_db()
    assert task.snoozed_until == T0 + dt.timedelta(days=1)


def test_bulk_action_reports_each_task() -> None:
    c = make_clinic()
    c.user("cora", "coordinator")
    t1, t2 = make_task(c.org, c.patients[0]), make_task(c.org, c.patients[1])
    services.change_status(organization_id=c.org.pk, task_id=t2.pk, status="cancelled", reason="moved away",
                           actor=c.actor("cora"))
    out = services.bulk_action(organization_id=c.org.pk, task_ids=[t1.pk, t2.pk, 999999], action="complete",
                               actor=c.actor("cora"))
    assert out.done == [t1.pk]
    assert out.skipped == {t2.pk: "a cancelled task cannot become completed", 999999: "task not found"}


def test_absence_skips_and_rebalances(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    c = make_clinic()
    cora, olga = c.user("cora", "coordinator"), c.user("olga", "coordinator")
    lead = c.actor("lee", "leader")
    designate_care_member(organization_id=c.org.pk, patient_id=c.patients[0].pk, user_id=cora.pk, actor=lead)
    soon = make_task(c.org, c.patients[0], due_at=T0 + dt.timedelta(days=2))
    later = make_task(c.org, c.patients[0], due_at=T0 + dt.timedelta(days=20))
    assert soon.assigned_user_id == later.assigned_user_id == cora.pk
    with django_capture_on_commit_callbacks(execute=True):
        _, moved = services.record_absence(organization_id=c.org.pk, user_id=cora.pk, start=dt.date(2026, 3, 9),
                                           end=dt.date(2026, 3, 13), reason="vacation", actor=lead)
    assert moved == [(soon.pk, olga.pk)]
    soon.refresh_from_db()
    later.refresh_from_db()
    assert (soon.assigned_user_id, later.assigned_user_id) == (olga.pk, cora.pk)
    assert soon.assignment_reason.startswith("assignee away 2026-03-09 to 2026-03-13; coordinator with the most")
    # While she is away, new tasks for her patient skip her too.
    assert make_task(c.org, c.patients[0]).assigned_user_id == olga.pk
    assert Notification.objects.filter(user=olga, kind="reassigned").count() == 1
    with pytest.raises(PermissionDenied):
        services.record_absence(organization_id=c.org.pk, user_id=olga.pk, start=dt.date(2026, 3, 9),
                                end=dt.date(2026, 3, 9), actor=c.actor("cora"))
