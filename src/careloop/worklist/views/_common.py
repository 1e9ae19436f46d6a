"""View plumbing: source links, form parsing (the permission guard is ``accounts.permissions.staff_view``)."""

from __future__ import annotations

import datetime as dt

from careloop.core.actor import Actor
from careloop.core.errors import ValidationFailed

# Where a task's source can be opened in the UI ({patient_id}, {source_id}); other sources show as text.
SOURCE_LINKS: dict[str, str] = {
    "Patient": "/patients/{patient_id}/",
    "Encounter": "/patients/{patient_id}/",
    "CareTask": "/queue/tasks/{source_id}/",
}


def source_url(source_type: str, source_id: str, patient_id: int) -> str:
    pattern = SOURCE_LINKS.get(source_type)
    return pattern.format(patient_id=patient_id, source_id=source_id) if pattern and source_id else ""


def org(actor: Actor) -> int:
    assert actor.organization_id is not None
    return actor.organization_id


def int_or_none(value: str | None, name: str = "") -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise ValidationFailed(f"{name or 'value'} must be a number", field_errors={name: "not a number"}) from exc


def parse_date(value: str | None, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value or "")
    except ValueError as exc:
        raise ValidationFailed(f"{name} must be a date (YYYY-MM-DD)", field_errors={name: "not a date"}) from exc


def parse_time(value: str | None, name: str) -> dt.time | None:
    if not value:
        return None
    try:
        return dt.time.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(f"{name} must be a time (HH:MM)", field_errors={name: "not a time"}) from exc
