"""Vital-sign observations: blood pressure readings and BMI (US Core vital-sign profiles)."""

from __future__ import annotations

from careloop.quality.engine.context import Context
from careloop.quality.engine.fhir import Quantity, Resource
from careloop.quality.engine.profiles import BLOOD_PRESSURE, BMI_CODE
from careloop.quality.engine.profiles import BMI as BMI_PROFILE
from careloop.quality.engine.qicore import LOINC, component_quantity, observations_of

SYSTOLIC = (LOINC, "8480-6")
DIASTOLIC = (LOINC, "8462-4")
BMI = BMI_CODE
MM_HG = "mm[Hg]"


def blood_pressures(ctx: Context) -> list[Resource]:
    """``[USCoreBloodPressureProfile]`` (any status; callers filter)."""
    return ctx.memo("bp", lambda: observations_of(ctx, BLOOD_PRESSURE))


def systolic(observation: Resource) -> Quantity | None:
    return component_quantity(observation, SYSTOLIC)


def diastolic(observation: Resource) -> Quantity | None:
    return component_quantity(observation, DIASTOLIC)


def bmi_observations(ctx: Context) -> list[Resource]:
    """``[USCoreBMIProfile]``."""
    return observations_of(ctx, BMI_PROFILE)
