from django.db import models


class RiskTier(models.TextChoices):
    HIGH = "high", "High"
    RISING = "rising", "Rising"
    MODERATE = "moderate", "Moderate"
    LOW = "low", "Low"


class RunKind(models.TextChoices):
    FULL = "full", "Full refresh"
    INCREMENTAL = "incremental", "Incremental refresh"
