"""Two requests create the task for the same trigger at the same time: one task, both get it."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from careloop.clinics.tests.factories import make_org
from careloop.registry.tests.factories import make_patient
from careloop.worklist.models import CareTask
from careloop.worklist.tests.factories import make_task


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_create_makes_one_task() -> None:
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("in-memory SQLite (shared cache) refuses concurrent writers with table locks; "
                    "runs on PostgreSQL and on a file database (CARELOOP_TEST_SQLITE)")
    org = make_org("race")
    patient = make_patient(org, "Race", "Rita")
    barrier = threading.Barrier(4)
    ids: list[int] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            barrier.wait(timeout=10)
            ids.append(make_task(org, patient, "post_discharge_contact", dedupe_key="adt:A03:visit-9").pk)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert CareTask.objects.filter(dedupe_key="adt:A03:visit-9").count() == 1
    assert len(set(ids)) == 1 and len(ids) == 4
