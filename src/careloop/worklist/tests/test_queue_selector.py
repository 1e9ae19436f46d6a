"""The queue selector's compiled-SQL cache returns exactly what the ORM query returns, for every user and filter."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from careloop.worklist import selectors
from careloop.worklist.models import CareTask
from careloop.worklist.selectors import tasks as task_selectors
from careloop.worklist.tests.factories import T0, make_clinic, make_task


def _fresh(**kw: Any) -> tuple[list[dict[str, Any]], bool]:
    """The queue through the ORM (this thread's compiled queries forgotten first)."""
    task_selectors._LOCAL.queue = {}
    return selectors.queue(**kw)


@pytest.mark.django_db
def test_cached_queue_sql_matches_the_orm_for_each_user_and_filter() -> None:
    clinic = make_clinic(n_patients=4)
    a, b = clinic.user("coordinator"), clinic.user("nurse")
    def task(patient: Any, kind: str, key: str, **fields: Any) -> None:
        made = make_task(clinic.org, patient, kind, dedupe_key=key)
        CareTask.objects.filter(pk=made.pk).update(**fields)

    for i, patient in enumerate(clinic.patients):
        task(patient, "monthly_checkin", f"a{i}", assigned_user=a, priority=10 * i, program="CCM",
             due_at=T0 + dt.timedelta(days=i), in_queue=True, snoozed_until=None)
        task(patient, "care_gap_closure", f"b{i}", assigned_user=b, priority=5 * i, program="PCM",
             due_at=T0 + dt.timedelta(days=i), in_queue=True, snoozed_until=None)
        task(patient, "other", f"u{i}", assigned_user=None, assigned_role="coordinator", priority=i, in_queue=True,
             snoozed_until=None)
    shapes = [
        selectors.QueueFilters(),
        selectors.QueueFilters(task_type="monthly_checkin"),
        selectors.QueueFilters(program="PCM", due_before=T0 + dt.timedelta(days=2)),
        selectors.QueueFilters(patient_id=clinic.patients[1].pk),
    ]
    now = T0
    for filters in shapes:
        for role in ("", "coordinator"):
            for limit in (2, 50):
                for user in (a.pk, b.pk, None):
                    kw: dict[str, Any] = dict(organization_id=clinic.org.pk, user_id=user, now=now, filters=filters,
                                              role=role, limit=limit)
                    orm = _fresh(**kw)
                    selectors.queue(**kw)  # compiles and caches the shape
                    for other in (a.pk, b.pk, None):  # then runs it with other parameters
                        kw2 = dict(kw, user_id=other)
                        cached = selectors.queue(**kw2)
                        saved = task_selectors._LOCAL.queue
                        assert cached == _fresh(**kw2), (filters, role, limit, user, other)
                        task_selectors._LOCAL.queue = saved
                    assert orm == selectors.queue(**kw)
    cache = task_selectors._compiled_queries()
    assert cache and all(v is not None for v in cache.values())  # every shape used here is cacheable
    mine, more = selectors.queue(organization_id=clinic.org.pk, user_id=a.pk, now=now, limit=2)
    assert [r["priority"] for r in mine] == [30, 20] and more
    assert {r["assigned_user_id"] for r in mine} == {a.pk}
    other_org = make_clinic(n_patients=1)
    assert selectors.queue(organization_id=other_org.org.pk, user_id=a.pk, now=now) == ([], False)
