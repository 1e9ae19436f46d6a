"""Care-plan reads, scoped to the organization. Portal/partner scoping is done by the access app."""

from __future__ import annotations

from django.db.models import QuerySet

from careloop.careplans import rules
from careloop.careplans.models import ActionCompletion, CarePlan, CarePlanVersion, PlanComment
from careloop.core.errors import NotFound


def plan(*, organization_id: int, plan_id: int) -> CarePlan:
    p = CarePlan.objects.filter(organization_id=organization_id, pk=plan_id).select_related("patient").first()
    if p is None:
        raise NotFound("care plan not found")
    return p


def plans_for_patient(*, organization_id: int, patient_id: int) -> QuerySet[CarePlan]:
    return CarePlan.objects.filter(organization_id=organization_id, patient_id=patient_id).order_by("-pk")


def plans_for_patients(*, organization_id: int, patient_ids: list[int]) -> QuerySet[CarePlan]:
    return CarePlan.objects.filter(organization_id=organization_id, patient_id__in=patient_ids) \
        .select_related("patient").order_by("patient__family", "-pk")


def versions(*, plan: CarePlan) -> QuerySet[CarePlanVersion]:
    return CarePlanVersion.objects.filter(plan=plan).order_by("-number")


def version(*, plan: CarePlan, number: int | None = None) -> CarePlanVersion:
    qs = CarePlanVersion.objects.filter(plan=plan)
    v = qs.filter(number=number).first() if number is not None else qs.order_by("-number").first()
    if v is None:
        raise NotFound("version not found")
    return v


def current_document(*, plan: CarePlan) -> rules.Doc:
    v = CarePlanVersion.objects.filter(plan=plan).order_by("-number").first()
    return v.document if v is not None else rules.empty_document()


def diff(*, plan: CarePlan, a: int, b: int) -> list[rules.DiffLine]:
    return rules.diff_documents(version(plan=plan, number=a).document, version(plan=plan, number=b).document)


def comments(*, plan: CarePlan) -> QuerySet[PlanComment]:
    return PlanComment.objects.filter(plan=plan).order_by("created_at", "pk")


def done_action_ids(*, plan: CarePlan) -> set[str]:
    return set(ActionCompletion.objects.filter(plan=plan).values_list("action_id", flat=True))


def completions(*, plan: CarePlan) -> QuerySet[ActionCompletion]:
    return ActionCompletion.objects.filter(plan=plan).order_by("-done_on", "-pk")
