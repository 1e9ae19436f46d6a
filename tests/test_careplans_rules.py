"""Care-plan rules: templates, validation, readable diffs, review dates (pure, no database)."""

from __future__ import annotations

import datetime as dt

from careloop.careplans import rules

TODAY = dt.date(2026, 3, 9)
COND = [{"id": 7, "icd10": "E119", "display": "T2DM"}]


def test_every_condition_template_is_present_and_well_formed() -> None:
    assert sorted(rules.templates()) == ["ckd", "copd", "dementia", "depression", "diabetes", "heart_failure",
                                         "hypertension"]
    for key in rules.templates():
        doc, intents = rules.apply_template(rules.empty_document(), key, today=TODAY, conditions=[])
        assert rules.validate_document(doc) == {}
        assert doc["goals"] and doc["interventions"] and intents


def test_template_prefills_goals_links_conditions_and_is_idempotent() -> None:
    doc, intents = rules.apply_template(rules.empty_document(), "diabetes", today=TODAY, conditions=COND)
    assert doc["problems"] == [{"id": "diabetes-p", "text": "Type 2 diabetes", "condition_ids": [7],
                                "icd10": ["E119"]}]
    assert doc["goals"][0]["target_date"] == "2026-09-09"
    assert [i.task_type for i in intents] == ["care_plan_review", "referral_followup"]
    again, _ = rules.apply_template(doc, "diabetes", today=TODAY, conditions=COND)
    assert again == doc


def test_template_for_icd10_normalises_dots() -> None:
    assert rules.template_for_icd10("I50.9") == "heart_failure"
    assert rules.template_for_icd10("e11.65") == "diabetes"
    assert rules.template_for_icd10("Z00.00") is None


def test_validation_reports_bad_sections() -> None:
    doc = rules.empty_document()
    doc["goals"] = [{"id": "g1", "text": "Walk", "status": "dreaming"}]
    doc["problems"] = [{"id": "p1", "text": ""}]
    doc["preferences"] = {"involvement": "whatever"}
    doc["extra"] = []
    errors = rules.validate_document(doc)
    assert set(errors) == {"goals", "problems", "preferences", "document"}


def test_diff_is_readable() -> None:
    old = rules.empty_document()
    old["goals"] = [{"id": "g1", "text": "Walk daily", "status": "active"},
                    {"id": "g2", "text": "Stop smoking", "status": "active"}]
    new = rules.empty_document()
    new["goals"] = [{"id": "g1", "text": "Walk daily", "status": "achieved"},
                    {"id": "g3", "text": "See my grandchildren graduate", "status": "active", "patient_stated": True}]
    new["preferences"] = {"text": "", "involvement": "patient_decides"}
    lines = [(d.section, d.change, d.text) for d in rules.diff_documents(old, new)]
    assert lines == [
        ("goals", "added", "See my grandchildren graduate (status=active)"),
        ("goals", "changed", "Walk daily: status: active → achieved"),
        ("goals", "removed", "Stop smoking (status=active)"),
        ("preferences", "changed", "involvement: shared → patient_decides"),
    ]
    assert rules.diff_documents(new, new) == []


def test_review_due_twelve_months_later_including_leap_day() -> None:
    assert rules.next_review_due(dt.date(2026, 3, 9)) == dt.date(2027, 3, 9)
    assert rules.next_review_due(dt.date(2028, 2, 29)) == dt.date(2029, 2, 28)


def test_plain_language_marks_done_actions_and_explains_involvement() -> None:
    doc, _ = rules.apply_template(rules.empty_document(), "diabetes", today=TODAY, conditions=[])
    sections = rules.plain_language(doc, {"diabetes-s1"})
    things = next(s for s in sections if s["key"] == "self_management")
    assert things["heading"] == "Things you can do"
    assert [i["done"] for i in things["items"]] == [True, False]
    goals = next(s for s in sections if s["key"] == "goals")
    assert goals["items"][0]["text"] == "HbA1c below 8% within 6 months (by September 9, 2026)"
    assert sections[-1]["items"][0]["text"] == "You and your care team make decisions together."
