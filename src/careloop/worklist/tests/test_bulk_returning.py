"""``create_tasks_bulk`` learns its new ids from the INSERT (RETURNING): history rows, audit events and the
result list follow the specs' order, and a key another transaction inserted after the pre-check is skipped by
ON CONFLICT DO NOTHING and counted as existing, with no history or audit event of its own."""

from __future__ import annotations

import json

import pytest
import time_machine

from careloop.audit.models import AuditEvent
from careloop.worklist import services
from careloop.worklist.models import CareTask, TaskEvent
from careloop.worklist.services import tasks as task_services
from careloop.worklist.services.tasks import TaskSpec
from careloop.worklist.tests.factories import T0, make_clinic, make_task, system

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        yield


def test_new_ids_history_and_audit_follow_the_specs() -> None:
    c = make_clinic(n_patients=4)
    nina = c.user("nina", "nurse")
    specs = [TaskSpec(p.pk, task_type, f"{task_type} {p.pk}", f"ret:{p.pk}:{task_type}", program="TCM")
             for p in c.patients for task_type in ("post_discharge_contact", "care_plan_review")]
    result = services.create_tasks_bulk(organization_id=c.org.pk, specs=specs, actor=system(c.org))
    assert result.existing == 0
    tasks = {t.pk: t for t in CareTask.objects.filter(organization_id=c.org.pk)}
    assert sorted(result.created_ids) == sorted(tasks)
    assert [tasks[pk].dedupe_key for pk in result.created_ids] == [s.dedupe_key for s in specs]
    contact = [t for t in tasks.values() if t.task_type == "post_discharge_contact"]
    assert {t.assigned_user_id for t in contact} == {nina.pk}
    for pk in result.created_ids:
        kinds = list(TaskEvent.objects.filter(task_id=pk).order_by("pk").values_list("kind", "to_value", "reason"))
        task = tasks[pk]
        expected = [("created", "requested", task.reason)]
        if task.assigned_user_id is not None:
            expected.append(("assigned", str(task.assigned_user_id), task.assignment_reason))
        assert kinds == expected
    audit = AuditEvent.objects.filter(action="task.created").order_by("seq").values_list("object_id", "detail")
    assert [(pk, json.loads(d) if isinstance(d, str) else d) for pk, d in audit] == [
        (str(pk), {"dedupe_key": tasks[pk].dedupe_key}) for pk in result.created_ids]


def test_a_key_inserted_after_the_precheck_counts_as_existing(monkeypatch: pytest.MonkeyPatch) -> None:
    c = make_clinic(n_patients=2)
    winner = make_task(c.org, c.patients[0], dedupe_key="race:0")  # another transaction's task
    real = task_services.select_rows
    calls = {"n": 0}

    def precheck_misses(*args: object, **kwargs: object) -> list[tuple[object, ...]]:
        calls["n"] += 1
        rows = real(*args, **kwargs)  # type: ignore[arg-type]
        return [] if calls["n"] == 1 else rows  # the first read is the dedupe pre-check: it sees nothing

    monkeypatch.setattr(task_services, "select_rows", precheck_misses)
    specs = [TaskSpec(p.pk, "care_gap_closure", f"gap {i}", f"race:{i}") for i, p in enumerate(c.patients)]
    before = AuditEvent.objects.filter(action="task.created").count()
    result = services.create_tasks_bulk(organization_id=c.org.pk, specs=specs, actor=system(c.org))
    assert calls["n"] >= 1 and result.existing == 1 and len(result.created_ids) == 1
    made = CareTask.objects.get(pk=result.created_ids[0])
    assert made.dedupe_key == "race:1" and winner.pk not in result.created_ids
    assert CareTask.objects.filter(organization_id=c.org.pk).count() == 2
    assert not TaskEvent.objects.filter(task=winner).exclude(kind__in=["created", "assigned"]).exists()
    assert TaskEvent.objects.filter(task=winner).count() == TaskEvent.objects.filter(task=made).count()
    assert AuditEvent.objects.filter(action="task.created").count() == before + 1
