"""Pure care-plan logic: the document shape, templates, validation, diffs, review dates. No DB, no clock."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from careloop.careplans.choices import GOAL_STATUSES, INVOLVEMENT_LEVELS, SECTIONS

Doc = dict[str, Any]
LIST_SECTIONS = ("problems", "goals", "interventions", "medications", "self_management", "psychosocial",
                 "functional", "caregivers")
REVIEW_INTERVAL_MONTHS = 12


@dataclass(frozen=True)
class TaskIntent:
    key: str
    text: str
    task_type: str
    role: str
    due_days: int


@dataclass(frozen=True)
class DiffLine:
    section: str
    change: str  # added | removed | changed
    text: str


@cache
def templates() -> dict[str, dict[str, Any]]:
    path = Path(__file__).with_name("data") / "templates.yaml"
    data: dict[str, dict[str, Any]] = yaml.safe_load(path.read_text())
    return data


def empty_document() -> Doc:
    return {
        "problems": [], "goals": [], "interventions": [], "medications": [], "self_management": [],
        "psychosocial": [], "functional": [], "caregivers": [],
        "preferences": {"text": "", "involvement": "shared"},
    }


def add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise ValueError("unreachable")


def next_review_due(last_review: dt.date) -> dt.date:
    return add_months(last_review, REVIEW_INTERVAL_MONTHS)


def template_for_icd10(icd10: str) -> str | None:
    code = icd10.upper().replace(".", "")
    for key, t in templates().items():
        if any(code.startswith(p) for p in t["icd10_prefixes"]):
            return key
    return None


def apply_template(
    doc: Doc, key: str, *, today: dt.date, conditions: list[dict[str, Any]]
) -> tuple[Doc, list[TaskIntent]]:
    """Add the template's problem, goals, interventions and actions (once: items keep the template's ids)."""
    t = templates().get(key)
    if t is None:
        raise KeyError(key)
    out = copy.deepcopy(doc)
    have = {item.get("id") for s in LIST_SECTIONS for item in out[s]}
    matched = [c for c in conditions if template_for_icd10(str(c.get("icd10", ""))) == key]

    def put(section: str, item: dict[str, Any]) -> None:
        if item["id"] not in have:
            out[section].append(item)
            have.add(item["id"])

    put("problems", {"id": f"{key}-p", "text": t["label"], "condition_ids": [c["id"] for c in matched],
                     "icd10": [c["icd10"] for c in matched]})
    for i, g in enumerate(t["goals"], 1):
        put("goals", {"id": f"{key}-g{i}", "text": g["text"], "measure": g["measure"], "target": g["target"],
                      "target_date": add_months(today, int(g["months"])).isoformat(), "status": "active",
                      "patient_stated": False, "problem_id": f"{key}-p"})
    intents = []
    for i, iv in enumerate(t["interventions"], 1):
        put("interventions", {"id": f"{key}-i{i}", "text": iv["text"], "responsible_role": iv["role"],
                              "responsible": "", "problem_id": f"{key}-p"})
        intents.append(TaskIntent(f"{key}-i{i}", iv["text"], iv["task_type"], iv["role"], int(iv["due_days"])))
    for i, text in enumerate(t["self_management"], 1):
        put("self_management", {"id": f"{key}-s{i}", "text": text})
    return out, intents


def validate_document(doc: Any) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not isinstance(doc, dict):
        return {"document": "must be an object"}
    for s in LIST_SECTIONS:
        items = doc.get(s, [])
        if not isinstance(items, list) or any(not isinstance(i, dict) or not str(i.get("text", "")).strip()
                                              for i in items):
            errors[s] = "must be a list of items, each with text"
            continue
        ids = [i.get("id") for i in items]
        if any(not x for x in ids) or len(set(ids)) != len(ids):
            errors[s] = "every item needs a unique id"
    for g in doc.get("goals", []) if "goals" not in errors else []:
        if g.get("status", "active") not in GOAL_STATUSES:
            errors["goals"] = f"unknown goal status {g.get('status')!r}"
        if g.get("target_date"):
            try:
                dt.date.fromisoformat(str(g["target_date"]))
            except ValueError:
                errors["goals"] = f"bad target date {g['target_date']!r}"
    prefs = doc.get("preferences", {})
    if not isinstance(prefs, dict) or prefs.get("involvement", "shared") not in INVOLVEMENT_LEVELS:
        errors["preferences"] = f"involvement must be one of {', '.join(INVOLVEMENT_LEVELS)}"
    unknown = set(doc) - set(SECTIONS)
    if unknown:
        errors["document"] = f"unknown sections: {', '.join(sorted(unknown))}"
    return errors


def normalize(doc: Doc) -> Doc:
    out = empty_document()
    for s in LIST_SECTIONS:
        out[s] = [dict(i) for i in doc.get(s, [])]
    out["preferences"] = {**out["preferences"], **doc.get("preferences", {})}
    return out


def _describe(item: dict[str, Any]) -> str:
    extra = [f"{k}={item[k]}" for k in ("status", "target", "target_date", "responsible") if item.get(k)]
    return str(item.get("text", "")) + (f" ({', '.join(extra)})" if extra else "")


def diff_documents(old: Doc, new: Doc) -> list[DiffLine]:
    """A readable diff: items added, removed or changed per section, and preference changes."""
    lines: list[DiffLine] = []
    for s in LIST_SECTIONS:
        before = {i["id"]: i for i in old.get(s, [])}
        after = {i["id"]: i for i in new.get(s, [])}
        for k in before.keys() - after.keys():
            lines.append(DiffLine(s, "removed", _describe(before[k])))
        for k, item in after.items():
            if k not in before:
                lines.append(DiffLine(s, "added", _describe(item)))
            elif item != before[k]:
                fields = sorted(f for f in set(item) | set(before[k]) if item.get(f) != before[k].get(f))
                changes = "; ".join(f"{f}: {before[k].get(f, '')!s} → {item.get(f, '')!s}" for f in fields)
                lines.append(DiffLine(s, "changed", f"{item.get('text', '')}: {changes}"))
    pb, pa = old.get("preferences", {}), new.get("preferences", {})
    for f in sorted(set(pb) | set(pa)):
        if pb.get(f) != pa.get(f):
            lines.append(DiffLine("preferences", "changed", f"{f}: {pb.get(f, '')!s} → {pa.get(f, '')!s}"))
    lines.sort(key=lambda d: (SECTIONS.index(d.section), d.change, d.text))
    return lines


PLAIN_HEADINGS = {
    "problems": "Health problems we are working on",
    "goals": "Your goals",
    "interventions": "What your care team will do",
    "medications": "Your medicines",
    "self_management": "Things you can do",
    "psychosocial": "Your strengths and needs",
    "functional": "Help with daily activities",
    "caregivers": "People who help you",
}
INVOLVEMENT_PLAIN = {
    "patient_decides": "You make the decisions about your care.",
    "shared": "You and your care team make decisions together.",
    "team_decides_with_input": "Your care team suggests decisions and asks what you think.",
    "caregiver_decides": "Your caregiver helps make decisions for you.",
}


def plain_language(doc: Doc, done_ids: set[str]) -> list[dict[str, Any]]:
    """Sections in the patient's words for the portal and the PDF."""
    out = []
    for s in LIST_SECTIONS:
        items = []
        for i in doc.get(s, []):
            line = str(i["text"])
            if s == "goals" and i.get("target_date"):
                line += f" (by {dt.date.fromisoformat(i['target_date']).strftime('%B %-d, %Y')})"
            if s == "interventions" and (i.get("responsible") or i.get("responsible_role")):
                line += f" (who: {i.get('responsible') or i.get('responsible_role')})"
            items.append({"id": i["id"], "text": line, "done": i["id"] in done_ids,
                          "actionable": s == "self_management"})
        if items:
            out.append({"key": s, "heading": PLAIN_HEADINGS[s], "items": items})
    prefs = doc.get("preferences", {})
    pref_items = [{"id": "", "text": INVOLVEMENT_PLAIN.get(prefs.get("involvement", "shared"), ""), "done": False,
                   "actionable": False}]
    if prefs.get("text"):
        pref_items.append({"id": "", "text": str(prefs["text"]), "done": False, "actionable": False})
    out.append({"key": "preferences", "heading": "How you like to make decisions", "items": pref_items})
    return out
