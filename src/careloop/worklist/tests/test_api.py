"""/api/worklist: the queue (order, filters, limit, audit), task actions, time, timer, permissions, tenancy."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client

from careloop.accounts.tests.factories import bearer, make_token
from careloop.audit.models import AuditEvent
from careloop.worklist.models import CareTask, TimeEntry
from careloop.worklist.tests.factories import T0, make_clinic, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        yield


def _h(c, name: str, role: str | None = None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return bearer(make_token(c.user(name, role)))


def test_queue_is_priority_sorted_limited_filtered_and_audited() -> None:
    c = make_clinic(n_patients=4)
    cora = c.user("cora", "coordinator")
    low = make_task(c.org, c.patients[0], "care_gap_closure", due_at=T0 + dt.timedelta(days=20), program="CCM")
    high = make_task(c.org, c.patients[1], "post_discharge_contact", assigned_role="coordinator",
                     due_at=T0 + dt.timedelta(hours=3), program="TCM")
    mid = make_task(c.org, c.patients[2], "monthly_checkin", due_at=T0 + dt.timedelta(days=2), program="CCM")
    make_task(c.org, c.patients[3], "care_plan_review")  # a provider's task: unassigned, not cora's
    h = _h(c, "cora")
    body = Client().get("/api/worklist/queue", **h).json()
    assert [t["id"] for t in body["results"]] == [high.pk, mid.pk, low.pk]
    assert (body["has_more"], body["next_offset"]) == (False, None)
    first = body["results"][0]
    assert first["patient_name"] == f"{c.patients[1].family}, {c.patients[1].given}"
    assert first["why"][0].startswith("Urgency +42.5: due within 24 hours")
    assert (first["assigned_user_id"], first["status"], first["program"]) == (cora.pk, "requested", "TCM")
    page = Client().get("/api/worklist/queue", {"limit": 2}, **h).json()
    assert ([t["id"] for t in page["results"]], page["has_more"], page["next_offset"]) == ([high.pk, mid.pk], True, 2)
    assert [t["id"] for t in Client().get("/api/worklist/queue", {"program": "CCM"}, **h).json()["results"]] == [
        mid.pk, low.pk]
    assert [t["id"] for t in Client().get("/api/worklist/queue", {"type": "care_gap_closure"}, **h).json()[
        "results"]] == [low.pk]
    due = (T0 + dt.timedelta(days=3)).isoformat()
    assert [t["id"] for t in Client().get("/api/worklist/queue", {"due_before": due}, **h).json()["results"]] == [
        high.pk, mid.pk]
    listed = AuditEvent.objects.filter(action="task.listed", actor_id=cora.pk)
    first_listing = listed.order_by("pk").values_list("patient_id", flat=True)[:3]  # the first request's, in order
    assert sorted(first_listing) == sorted(p.pk for p in c.patients[:3])


def test_chw_sees_own_queue_only_and_a_leader_sees_the_team() -> None:
    c = make_clinic(n_patients=2)
    chw = c.user("chris", "chw")
    c.user("cora", "coordinator")
    mine = make_task(c.org, c.patients[0], "other", assigned_role="chw")
    theirs = make_task(c.org, c.patients[1], "other", assigned_role="coordinator")
    assert mine.assigned_user_id == chw.pk
    h = _h(c, "chris")
    assert [t["id"] for t in Client().get("/api/worklist/queue", **h).json()["results"]] == [mine.pk]
    r = Client().get("/api/worklist/queue", {"user_id": c.user("cora").pk}, **h)
    assert (r.status_code, r.json()) == (403, {"detail": "only a team lead can see another person's queue"})
    assert Client().get("/api/worklist/team", **h).status_code == 403
    lead = _h(c, "lee", "leader")
    r = Client().get("/api/worklist/queue", {"user_id": c.user("cora").pk}, **lead)
    assert [t["id"] for t in r.json()["results"]] == [theirs.pk]
    team = {row["name"]: row for row in Client().get("/api/worklist/team", **lead).json()}
    assert (team[f"cora-{c.org.slug}"]["open_tasks"], team[f"cora-{c.org.slug}"]["caseload"]) == (1, 1)
    assert team["Unassigned"]["open_tasks"] == 0
    assert AuditEvent.objects.filter(action="worklist.team_viewed").count() == 1


def test_another_organization_is_404_or_empty() -> None:
    a, b = make_clinic("a"), make_clinic("b")
    a.user("cora", "coordinator")
    b.user("cora", "coordinator")
    b_task = make_task(b.org, b.patients[0])
    h = _h(a, "cora")
    client = Client()
    assert client.get("/api/worklist/queue", **h).json()["results"] == []
    assert client.get(f"/api/worklist/tasks/{b_task.pk}", **h).status_code == 404
    assert client.post(f"/api/worklist/tasks/{b_task.pk}/status", {"status": "completed"},
                       content_type="application/json", **h).status_code == 404
    assert client.get(f"/api/worklist/patients/{b.patients[0].pk}/tasks", **h).status_code == 404
    assert client.get(f"/api/worklist/patients/{b.patients[0].pk}/time", **h).status_code == 404
    assert client.post(f"/api/worklist/patients/{b.patients[0].pk}/outreach", {"channel": "phone",
                       "outcome": "reached"}, content_type="application/json", **h).status_code == 404
    assert client.post("/api/worklist/timer/start", {"patient_id": b.patients[0].pk, "program": "CCM"},
                       content_type="application/json", **h).status_code == 404
    lead = _h(a, "lee", "leader")
    assert client.get("/api/worklist/queue", {"user_id": b.user("cora").pk}, **lead).status_code == 404
    assert [r["name"] for r in client.get("/api/worklist/team", **lead).json()] == [f"cora-{a.org.slug}",
                                                                                   "Unassigned"]
    assert CareTask.objects.get(pk=b_task.pk).status == "requested"


def test_task_actions_over_the_api() -> None:
    c = make_clinic()
    c.user("cora", "coordinator")
    olga = c.user("olga", "coordinator")
    h = _h(c, "cora")
    client = Client()
    r = client.post("/api/worklist/tasks", {"patient_id": c.patients[0].pk, "task_type": "referral_followup",
                                            "reason": "Cardiology referral sent 2 weeks ago", "program": "CCM"},
                    content_type="application/json", **h)
    assert r.status_code == 201, r.content
    tid = r.json()["id"]
    assert r.json()["dedupe_key"].startswith("manual:")
    r = client.post(f"/api/worklist/tasks/{tid}/status", {"status": "on-hold"}, content_type="application/json", **h)
    assert (r.status_code, r.json()["detail"]) == (400, "a reason is required to make a task on-hold")
    r = client.post(f"/api/worklist/tasks/{tid}/snooze", {"until": (T0 + dt.timedelta(days=2)).isoformat()},
                    content_type="application/json", **h)
    assert r.json()["snoozed_until"] == "2026-03-11T14:00:00Z"
    assert client.get("/api/worklist/queue", **h).json()["results"] == []
    assert [t["id"] for t in client.get("/api/worklist/queue", {"snoozed": "true"}, **h).json()["results"]] == [tid]
    r = client.post(f"/api/worklist/tasks/{tid}/assign", {"user_id": olga.pk, "reason": "covering"},
                    content_type="application/json", **h)
    assert r.json()["assigned_user_id"] == olga.pk
    assert [e["kind"] for e in client.get(f"/api/worklist/tasks/{tid}", **h).json()["events"]] == [
        "created", "assigned", "snoozed", "reassigned"]
    r = client.post("/api/worklist/tasks/bulk", {"task_ids": [tid], "action": "complete"},
                    content_type="application/json", **_h(c, "olga"))
    assert r.json() == {"done": [tid], "skipped": {}}


def test_time_endpoints_and_month_minutes() -> None:
    c = make_clinic()
    nina = c.user("nina", "nurse")
    p = c.patients[0]
    h = _h(c, "nina")
    client = Client()
    r = client.post(f"/api/worklist/patients/{p.pk}/time", {"minutes": 22, "activity": "medication_management",
                    "program": "CCM", "interactive": True, "service_date": "2026-03-09", "start_time": "09:30"},
                    content_type="application/json", **h)
    assert r.status_code == 201, r.content
    eid = r.json()["id"]
    assert (r.json()["started_at"], r.json()["staff_id"]) == ("2026-03-09T09:30:00-04:00", nina.pk)
    r = client.patch(f"/api/worklist/time/{eid}", {"minutes": 25, "reason": "call ran over"},
                     content_type="application/json", **h)
    assert r.json()["minutes"] == 25
    assert client.get(f"/api/worklist/time/{eid}/revisions", **h).json()[0]["old_values"] == {"minutes": 22}
    body = client.get(f"/api/worklist/patients/{p.pk}/time", **h).json()
    assert (body["month"], body["totals"]) == ("2026-03", [{"program": "CCM", "total": 25, "interactive": 25,
                                                           "by_staff_type": {"clinical_staff": 25}}])
    billing = _h(c, "bill", "billing")
    r = client.get("/api/worklist/minutes", {"month": "2026-03"}, **billing)
    assert r.json() == {"month": "2026-03", "count": 1, "results": [
        {"patient_id": p.pk, "program": "CCM", "total": 25, "interactive": 25,
         "by_staff_type": {"clinical_staff": 25}}]}
    assert client.post(f"/api/worklist/patients/{p.pk}/time", {"minutes": 5, "activity": "other", "program": "CCM",
                       "service_date": "2026-03-09"}, content_type="application/json", **billing).status_code == 403
    assert client.get("/api/worklist/minutes", {"month": "March"}, **billing).status_code == 400
    r = client.post(f"/api/worklist/time/{eid}/void", {"reason": "duplicate"}, content_type="application/json", **h)
    assert r.json()["voided"] is True
    assert client.get("/api/worklist/minutes", {"month": "2026-03"}, **billing).json()["count"] == 0


def test_timer_survives_navigation_and_stopping_logs_the_minutes() -> None:
    c = make_clinic(n_patients=2)
    nina = c.user("nina", "nurse")
    p = c.patients[0]
    ui = Client()
    ui.force_login(nina)
    r = ui.post(f"/worklist/patients/{p.pk}/panel/timer-start/", {"program": "CCM", "activity": "care_plan"})
    assert b"Timer running since" in r.content
    with time_machine.travel(T0 + dt.timedelta(minutes=7), tick=False):
        assert ui.get("/queue/").status_code == 200  # another page
        assert ui.get(f"/patients/{c.patients[1].pk}/").status_code == 200
        panel = ui.get(f"/worklist/patients/{c.patients[1].pk}/panel/")
        assert b"Your timer is running on" in panel.content
        panel = ui.get(f"/worklist/patients/{p.pk}/panel/")
        assert b"(7 min, CCM)" in panel.content
        assert Client().get("/api/worklist/timer", **bearer(make_token(nina))).json()["elapsed_seconds"] == 420
    with time_machine.travel(T0 + dt.timedelta(minutes=18, seconds=40), tick=False):
        r = ui.post(f"/worklist/patients/{p.pk}/panel/timer-stop/", {"interactive": "on", "note": "reviewed plan"})
    assert b"Logged 18 min." in r.content
    entry = TimeEntry.objects.get()
    assert (entry.minutes, entry.program, entry.activity, entry.interactive, entry.source, entry.started_at) == (
        18, "CCM", "care_plan", True, "timer", T0)
    assert b"<td>CCM</td><td class=\"num\">18</td>" in ui.get(f"/worklist/patients/{p.pk}/panel/").content


def test_timer_over_the_api() -> None:
    c = make_clinic()
    h = _h(c, "nina", "nurse")
    client = Client()
    assert client.get("/api/worklist/timer", **h).json() == {"running": False, "patient_id": None, "program": None,
                                                             "activity": None, "started_at": None,
                                                             "elapsed_seconds": None}
    client.post("/api/worklist/timer/start", {"patient_id": c.patients[0].pk, "program": "RPM"},
                content_type="application/json", **h)
    with time_machine.travel(T0 + dt.timedelta(minutes=21), tick=False):
        r = client.post("/api/worklist/timer/stop", {}, content_type="application/json", **h)
    assert (r.json()["entry"]["minutes"], r.json()["entry"]["program"]) == (21, "RPM")


def test_outreach_and_tcm_evidence_api() -> None:
    c = make_clinic()
    c.user("nina", "nurse")
    p = c.patients[0]
    h = _h(c, "nina")
    client = Client()
    for outcome in ("no_answer", "left_message"):
        r = client.post(f"/api/worklist/patients/{p.pk}/outreach", {"channel": "phone", "outcome": outcome},
                        content_type="application/json", **h)
        assert r.status_code == 201, r.content
    r = client.get(f"/api/worklist/patients/{p.pk}/tcm-evidence",
                   {"start": (T0 - dt.timedelta(days=1)).isoformat(), "end": (T0 + dt.timedelta(days=1)).isoformat()},
                   **h)
    assert (r.json()["satisfied"], r.json()["contacted"], len(r.json()["attempt_ids"])) == (True, False, 2)
    assert len(client.get(f"/api/worklist/patients/{p.pk}/outreach", **h).json()) == 2
    assert len(client.get("/api/worklist/scripts", **h).json()) == 12


def test_ping_needs_authentication() -> None:
    c = make_clinic()
    assert Client().get("/api/worklist/ping").status_code == 401
    assert Client().get("/api/worklist/ping", **_h(c, "cora", "coordinator")).json()["ok"] is True
    assert Client().get("/api/worklist/ping", **_h(c, "bill", "billing")).status_code == 403
