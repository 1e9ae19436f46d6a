"""Care-plan services: versions are immutable, every change is a new version, templates create tasks, reviews."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from careloop.accounts.tests.factories import actor, make_user
from careloop.audit.models import AuditEvent
from careloop.careplans import selectors, services
from careloop.careplans.models import CarePlanVersion
from careloop.careplans.tests.factories import T0, make_clinic
from careloop.core.errors import PermissionDenied, ValidationFailed
from careloop.worklist.models import CareTask

pytestmark = pytest.mark.django_db


@time_machine.travel(T0, tick=False)
def test_create_from_template_makes_version_one_and_the_tasks_it_implies() -> None:
    c = make_clinic()
    plan = services.create_plan(organization_id=c.org.pk, patient_id=c.patient.pk, actor=c.coord,
                                templates=["diabetes"])
    v1 = selectors.version(plan=plan)
    assert (plan.current_version, v1.number, v1.author_name, v1.reason) == (1, 1, c.coordinator.username,
                                                                            "Plan created")
    assert v1.document["problems"][0]["condition_ids"] == [c.condition.pk]
    assert plan.review_due_on == dt.date(2027, 3, 9)
    tasks = CareTask.objects.filter(patient=c.patient, source_type="careplan").order_by("dedupe_key")
    assert [(t.task_type, t.dedupe_key) for t in tasks] == [
        ("care_plan_review", f"careplan:{plan.pk}:diabetes-i1"),
        ("referral_followup", f"careplan:{plan.pk}:diabetes-i2"),
    ]
    services.apply_template(organization_id=c.org.pk, plan_id=plan.pk, key="hypertension", actor=c.coord)
    services.apply_template(organization_id=c.org.pk, plan_id=plan.pk, key="heart_failure", actor=c.coord)
    assert CareTask.objects.filter(patient=c.patient, source_type="careplan").count() == 5
    assert AuditEvent.objects.filter(action="careplan.version_saved", patient_id=c.patient.pk).count() == 3


def test_every_change_is_a_new_immutable_version_with_a_diff() -> None:
    c = make_clinic()
    plan = services.create_plan(organization_id=c.org.pk, patient_id=c.patient.pk, actor=c.coord,
                                templates=["diabetes"])
    doc = selectors.current_document(plan=plan)
    doc["goals"].append({"id": "own-1", "text": "Dance at my granddaughter's wedding", "status": "active",
                         "patient_stated": True, "target_date": "2026-08-01"})
    doc["goals"][0]["status"] = "achieved"
    v2 = services.save_version(organization_id=c.org.pk, plan_id=plan.pk, document=doc, reason="Visit 3/9",
                               actor=c.coord, base_version=1)
    assert v2.number == 2
    assert selectors.version(plan=plan, number=1).document["goals"][0]["status"] == "active"
    lines = [(d.change, d.text) for d in selectors.diff(plan=plan, a=1, b=2)]
    assert ("added", "Dance at my granddaughter's wedding (status=active, target_date=2026-08-01)") in lines
    assert ("changed", "HbA1c below 8% within 6 months: status: active → achieved") in lines
    with pytest.raises(ValueError, match="immutable"):
        v2.save()
    with pytest.raises(ValidationFailed, match="nothing changed"):
        services.save_version(organization_id=c.org.pk, plan_id=plan.pk, document=doc, reason="again", actor=c.coord)
    with pytest.raises(ValidationFailed, match="changed meanwhile"):
        services.save_version(organization_id=c.org.pk, plan_id=plan.pk, document={**doc, "goals": []},
                              reason="stale", actor=c.coord, base_version=1)
    with pytest.raises(ValidationFailed, match="reason"):
        services.save_version(organization_id=c.org.pk, plan_id=plan.pk, document={**doc, "goals": []}, reason=" ",
                              actor=c.coord)
    assert CarePlanVersion.objects.filter(plan=plan).count() == 2


def test_only_clinical_staff_write_and_other_orgs_are_refused() -> None:
    c = make_clinic()
    billing = actor(make_user(c.org, "billing"))
    with pytest.raises(PermissionDenied):
        services.create_plan(organization_id=c.org.pk, patient_id=c.patient.pk, actor=billing, templates=[])
    other = make_clinic()
    with pytest.raises(PermissionDenied):
        services.create_plan(organization_id=c.org.pk, patient_id=c.patient.pk, actor=other.coord, templates=[])
    plan = services.create_plan(organization_id=c.org.pk, patient_id=c.patient.pk, actor=c.coord, templates=[])
    patient_user = actor(make_user(c.org, "patient"))
    with pytest.raises(PermissionDenied):
        services.add_comment(organization_id=c.org.pk, plan_id=plan.pk, actor=patient_user, body="hi")


@time_machine.travel(T0, tick=False)
def test_request_review_after_discharge_is_one_task_per_due_date() -> None:
    c = make_clinic()
    due = dt.date(2026, 3, 11)
    t1 = services.request_review(patient=c.patient, reason="Discharged from St. Mary's", due=due)
    t2 = services.request_review(c.patient, "Discharged from St. Mary's", due)
    assert t1.pk == t2.pk
    assert (t1.task_type, t1.reason) == ("care_plan_review", "Discharged from St. Mary's")
    assert t1.deadline_at == dt.datetime(2026, 3, 11, 13, 0, tzinfo=dt.UTC)  # 09:00 New York (EDT)


def test_yearly_review_check_creates_a_task_when_twelve_months_passed() -> None:
    c = make_clinic()
    with time_machine.travel(T0, tick=False):
        services.create_plan(organization_id=c.org.pk, patient_id=c.patient.pk, actor=c.coord, templates=[])
        assert services.run_yearly_reviews(organization_id=c.org.pk) == 0
    with time_machine.travel(T0 + dt.timedelta(days=365), tick=False):
        assert services.run_yearly_reviews(organization_id=c.org.pk) == 1
        assert services.run_yearly_reviews(organization_id=c.org.pk) == 1  # same task (dedupe), not a second
    assert CareTask.objects.filter(patient=c.patient, task_type="care_plan_review", reason="Yearly care plan review"
                                   ).count() == 1


def test_yearly_review_job_runs_for_every_organization() -> None:
    from careloop.careplans.tasks import yearly_review_job

    c = make_clinic()
    with time_machine.travel(T0, tick=False):
        services.create_plan(organization_id=c.org.pk, patient_id=c.patient.pk, actor=c.coord, templates=[])
    later = T0 + dt.timedelta(days=366)
    with time_machine.travel(later, tick=False):
        assert yearly_review_job(later)[str(c.org.pk)] == 1
