"""The worklist UI: my queue with filters and bulk actions (HTMX), the team view, a task page, the chart panel."""

from __future__ import annotations

import pytest
import time_machine
from django.test import Client

from careloop.audit.models import AuditEvent
from careloop.worklist.models import CareTask, OutreachAttempt
from careloop.worklist.tests.factories import T0, make_clinic, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        yield


def test_queue_page_filters_and_bulk_complete() -> None:
    c = make_clinic(n_patients=3)
    cora = c.user("cora", "coordinator")
    t1 = make_task(c.org, c.patients[0], "care_gap_closure", reason="Colonoscopy overdue")
    t2 = make_task(c.org, c.patients[1], "monthly_checkin", reason="March check-in")
    ui = Client()
    ui.force_login(cora)
    page = ui.get("/queue/")
    assert page.status_code == 200
    assert b"Colonoscopy overdue" in page.content and b"March check-in" in page.content
    assert b"Urgency +" in page.content  # why now
    rows = ui.get("/queue/", {"type": "care_gap_closure"}, HTTP_HX_REQUEST="true")
    assert b"Colonoscopy overdue" in rows.content and b"March check-in" not in rows.content
    assert b"<html" not in rows.content  # a partial for HTMX
    done = ui.post("/queue/bulk/", {"task_ids": [t1.pk, t2.pk], "action": "complete"}, HTTP_HX_REQUEST="true")
    assert b"complete: 2 done" in done.content
    assert set(CareTask.objects.values_list("status", flat=True)) == {"completed"}
    assert AuditEvent.objects.filter(action="task.listed", actor_id=cora.pk).exists()


def test_queue_page_is_own_only_for_staff() -> None:
    c = make_clinic()
    c.user("cora", "coordinator")
    ui = Client()
    ui.force_login(c.user("chris", "chw"))
    assert ui.get("/queue/", {"who": c.user("cora").pk}).status_code == 403
    assert ui.get("/team/").status_code == 403


def test_team_page_and_task_page() -> None:
    c = make_clinic()
    cora = c.user("cora", "coordinator")
    task = make_task(c.org, c.patients[0], reason="Call about new inhaler")
    ui = Client()
    ui.force_login(c.user("lee", "leader"))
    team = ui.get("/team/")
    assert team.status_code == 200 and cora.username.encode() in team.content
    page = ui.get(f"/queue/tasks/{task.pk}/")
    assert b"Why it is here, and why now" in page.content and b"Call about new inhaler" in page.content
    ui.post(f"/queue/tasks/{task.pk}/", {"op": "status", "status": "cancelled", "reason": "duplicate"})
    task.refresh_from_db()
    assert (task.status, task.status_reason) == ("cancelled", "duplicate")


def test_chart_panel_logs_a_call_and_time() -> None:
    c = make_clinic()
    nina = c.user("nina", "nurse")
    p = c.patients[0]
    make_task(c.org, p, "post_discharge_contact", program="TCM", reason="Discharged yesterday")
    ui = Client()
    ui.force_login(nina)
    chart = ui.get(f"/patients/{p.pk}/")
    assert b'hx-get="/worklist/patients/' in chart.content
    panel = ui.get(f"/worklist/patients/{p.pk}/panel/")
    assert b"Discharged yesterday" in panel.content and b"After a hospital stay" in panel.content
    r = ui.post(f"/worklist/patients/{p.pk}/panel/outreach/", {"channel": "phone", "outcome": "reached",
                                                                "minutes": "9", "program": "TCM"})
    assert b"Attempt logged." in r.content
    assert OutreachAttempt.objects.get().outcome == "reached"
    r = ui.post(f"/worklist/patients/{p.pk}/panel/time/", {"minutes": "6", "program": "TCM", "activity": "other",
                                                            "service_date": "2026-03-09"})
    assert b"Time added." in r.content
    assert b"<td>TCM</td><td class=\"num\">15</td>" in r.content
    r = ui.post(f"/worklist/patients/{p.pk}/panel/time/", {"minutes": "0", "program": "TCM", "activity": "other",
                                                            "service_date": "2026-03-09"})
    assert b"invalid time entry" in r.content
    assert AuditEvent.objects.filter(action="worklist.panel_viewed", patient_id=p.pk).count() == 4
