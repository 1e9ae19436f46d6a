"""Care plans: one row per patient plan, and an immutable JSON document per version (who, when, why)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from careloop.careplans.choices import CommentKind, PlanStatus
from careloop.core.models import OrgScopedModel

USER = settings.AUTH_USER_MODEL


class CarePlan(OrgScopedModel):
    patient = models.ForeignKey("registry.Patient", on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200, default="Comprehensive care plan")
    status = models.CharField(max_length=16, choices=PlanStatus.choices, default=PlanStatus.ACTIVE)
    current_version = models.PositiveIntegerField(default=0)
    last_reviewed_on = models.DateField(null=True, blank=True)
    review_due_on = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "patient"], name="careplan_patient_idx")]

    def __str__(self) -> str:
        return f"{self.title} (v{self.current_version})"


class CarePlanVersion(models.Model):
    """Append-only: never updated after insert."""

    plan = models.ForeignKey(CarePlan, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    document = models.JSONField()
    author = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    author_name = models.CharField(max_length=150)
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plan", "number"], name="uniq_careplan_version")]
        ordering = ["plan", "number"]

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("care plan versions are immutable")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class PlanComment(OrgScopedModel):
    plan = models.ForeignKey(CarePlan, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    author_name = models.CharField(max_length=150)
    author_role = models.CharField(max_length=32)
    kind = models.CharField(max_length=16, choices=CommentKind.choices, default=CommentKind.COMMENT)
    body = models.TextField()


class ActionCompletion(OrgScopedModel):
    """A self-management action marked done by the patient, a caregiver or the team."""

    plan = models.ForeignKey(CarePlan, on_delete=models.CASCADE, related_name="completions")
    action_id = models.CharField(max_length=64)
    done_on = models.DateField()
    by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    by_name = models.CharField(max_length=150)
