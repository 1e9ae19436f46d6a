"""Profile-based retrieves: declared QI-Core profiles are trusted, undeclared resources are judged by content;
and CMS22 counts encounters (episodes), not patients."""

from __future__ import annotations

from careloop.quality.engine import profiles
from careloop.quality.engine.qicore import LOINC, requests, requests_not_made
from careloop.quality.measures.cms22 import ENCOUNTER_TO_SCREEN_FOR_BP, FOLLOW_UP_WITHIN_6_MONTHS
from careloop.quality.tests.factories import (
    QICORE,
    blood_pressure,
    code_for,
    context,
    encounter,
    observation,
    patient,
    run,
)
from careloop.quality.tests.factories import service_request as order


def test_declared_service_request_is_an_order_even_with_do_not_perform() -> None:
    tagged = order(code_for(FOLLOW_UP_WITHIN_6_MONTHS), "2026-01-01T10:00:00Z", do_not_perform=True,
                   profile="qicore-servicerequest")
    untagged = order(code_for(FOLLOW_UP_WITHIN_6_MONTHS), "2026-01-01T10:00:00Z", do_not_perform=True)
    ctx = context(tagged, untagged)
    assert requests(ctx, "ServiceRequest", FOLLOW_UP_WITHIN_6_MONTHS) == [tagged]
    assert requests_not_made(ctx, "ServiceRequest", FOLLOW_UP_WITHIN_6_MONTHS) == [untagged]


def test_condition_category_or_declared_profile() -> None:
    assert profiles.is_profile({"category": [{"coding": [{"code": "encounter-diagnosis"}]}]},
                               profiles.ENCOUNTER_DIAGNOSIS)
    declared = {"meta": {"profile": [QICORE + "qicore-condition-problems-health-concerns"]},
                "category": [{"coding": [{"code": "encounter-diagnosis"}]}]}
    assert profiles.is_profile(declared, profiles.PROBLEM)
    assert not profiles.is_profile(declared, profiles.ENCOUNTER_DIAGNOSIS)


def test_smoking_status_by_content_needs_social_history_category() -> None:
    status = observation((LOINC, "72166-2"), "2026-01-01T10:00:00Z", category="social-history")
    lab = observation((LOINC, "72166-2"), "2026-01-01T10:00:00Z", category="laboratory")
    assert profiles.is_profile(status, profiles.SMOKING_STATUS)
    assert not profiles.is_profile(lab, profiles.SMOKING_STATUS)


def test_device_request_marked_do_not_perform_is_not_an_order() -> None:
    device = {"resourceType": "DeviceRequest", "meta": {"profile": [QICORE + "qicore-devicerequest"]},
              "modifierExtension": [{"url": profiles.DEVICE_DO_NOT_PERFORM, "valueBoolean": True}]}
    assert not profiles.is_device_request(device)
    device["modifierExtension"] = [{"url": profiles.DEVICE_DO_NOT_PERFORM, "valueBoolean": False}]
    assert profiles.is_device_request(device)


def test_cms22_counts_each_screening_encounter() -> None:
    code = code_for(ENCOUNTER_TO_SCREEN_FOR_BP)
    first = encounter(code, "2026-02-01T09:00:00.000+00:00", "2026-02-01T09:30:00.000+00:00")
    second = encounter(code, "2026-08-01T09:00:00.000+00:00", "2026-08-01T09:30:00.000+00:00")
    virtual = encounter(code, "2026-09-01T09:00:00.000+00:00", cls="VR")
    normal = blood_pressure("2026-02-01T09:10:00.000+00:00", 118, 76)
    counts = run("CMS22", patient("1980-01-01"), first, second, virtual, normal)
    assert counts == {"initial_population": 2, "denominator": 2, "denominator_exclusion": 0, "numerator": 1,
                      "denominator_exception": 0}
