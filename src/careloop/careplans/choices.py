from django.db import models


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"
    COMPLETED = "completed", "Completed"


class CommentKind(models.TextChoices):
    COMMENT = "comment", "Comment"
    GOAL_PROPOSAL = "goal_proposal", "Proposed goal"


GOAL_STATUSES = ("proposed", "active", "on-hold", "achieved", "cancelled")
INVOLVEMENT_LEVELS = ("patient_decides", "shared", "team_decides_with_input", "caregiver_decides")
SECTIONS = (
    "problems", "goals", "interventions", "medications", "self_management", "psychosocial", "functional",
    "preferences", "caregivers",
)
