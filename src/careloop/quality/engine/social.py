"""Social-history observations (US Core smoking status, pregnancy status)."""

from __future__ import annotations

from careloop.quality.engine.context import Context
from careloop.quality.engine.fhir import Resource
from careloop.quality.engine.profiles import PREGNANCY_STATUS, SMOKING_STATUS
from careloop.quality.engine.qicore import observations_of


def smoking_status_observations(ctx: Context) -> list[Resource]:
    """``[USCoreSmokingStatusProfile]``."""
    return observations_of(ctx, SMOKING_STATUS)


def pregnancy_status_observations(ctx: Context) -> list[Resource]:
    """``[USCoreObservationPregnancyStatusProfile]``."""
    return observations_of(ctx, PREGNANCY_STATUS)
