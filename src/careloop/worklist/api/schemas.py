"""Pydantic (ninja) schemas of the worklist API."""

from __future__ import annotations

import datetime as dt

from ninja import Schema


class QueueTaskOut(Schema):
    id: int
    patient_id: int
    patient_name: str
    task_type: str
    reason: str
    status: str
    due_at: dt.datetime
    deadline_at: dt.datetime | None
    priority: int
    why: list[str]
    at_risk: bool
    escalation_level: int
    program: str
    assigned_user_id: int | None
    assigned_role: str
    source_type: str
    source_id: str
    snoozed_until: dt.datetime | None


class QueuePage(Schema):
    results: list[QueueTaskOut]
    has_more: bool
    next_offset: int | None


class TaskEventOut(Schema):
    at: dt.datetime
    kind: str
    actor_name: str
    from_value: str
    to_value: str
    reason: str


class TaskOut(QueueTaskOut):
    dedupe_key: str
    risk_tier: str
    value_note: str
    assignment_reason: str
    status_reason: str
    completed_at: dt.datetime | None
    created_at: dt.datetime
    events: list[TaskEventOut]


class TaskIn(Schema):
    patient_id: int
    task_type: str
    reason: str
    dedupe_key: str = ""
    due_at: dt.datetime | None = None
    deadline_at: dt.datetime | None = None
    program: str = ""
    assigned_role: str = ""
    value_note: str = ""
    source_type: str = ""
    source_id: str = ""


class StatusIn(Schema):
    status: str
    reason: str = ""


class AssignIn(Schema):
    user_id: int | None
    reason: str


class SnoozeIn(Schema):
    until: dt.datetime
    reason: str = ""


class BulkIn(Schema):
    task_ids: list[int]
    action: str
    user_id: int | None = None
    until: dt.datetime | None = None
    reason: str = ""


class BulkOut(Schema):
    done: list[int]
    skipped: dict[int, str]


class WorkloadOut(Schema):
    user_id: int | None
    name: str
    role: str
    capacity: int
    caseload: int
    load_pct: int
    open_tasks: int
    overdue: int
    at_risk: int
    panel: int
    away: bool


class NotificationOut(Schema):
    id: int
    kind: str
    text: str
    task_id: int | None
    created_at: dt.datetime
    read_at: dt.datetime | None


class ReadIn(Schema):
    ids: list[int] | None = None


class AbsenceIn(Schema):
    user_id: int
    start: dt.date
    end: dt.date
    reason: str = ""
    rebalance: bool = True


class AbsenceOut(Schema):
    id: int
    user_id: int
    start: dt.date
    end: dt.date
    reason: str
    moved: list[tuple[int, int | None]] = []


class ScriptOut(Schema):
    key: str
    title: str
    text: str


class OutreachIn(Schema):
    channel: str
    outcome: str
    at: dt.datetime | None = None
    task_id: int | None = None
    note: str = ""
    script_key: str = ""
    minutes: int | None = None
    program: str = ""


class OutreachOut(Schema):
    id: int
    patient_id: int
    task_id: int | None
    user_id: int | None
    at: dt.datetime
    channel: str
    outcome: str
    note: str


class TcmEvidenceOut(Schema):
    contacted: bool
    contact_at: dt.datetime | None
    attempt_ids: list[int]
    satisfied: bool
    explanation: str


class MinutesOut(Schema):
    program: str
    total: int
    interactive: int
    by_staff_type: dict[str, int]


class TimeEntryOut(Schema):
    id: int
    patient_id: int
    staff_id: int
    staff_type: str
    minutes: int
    activity: str
    program: str
    interactive: bool
    service_date: dt.date
    started_at: dt.datetime | None
    note: str
    source: str
    task_id: int | None
    voided: bool
    void_reason: str


class PatientTimeOut(Schema):
    month: str
    totals: list[MinutesOut]
    entries: list[TimeEntryOut]


class TimeEntryIn(Schema):
    minutes: int
    activity: str
    program: str
    interactive: bool = False
    service_date: dt.date
    start_time: dt.time | None = None
    staff_user_id: int | None = None
    staff_type: str | None = None
    note: str = ""
    task_id: int | None = None


class TimeEditIn(Schema):
    reason: str
    minutes: int | None = None
    activity: str | None = None
    program: str | None = None
    interactive: bool | None = None
    service_date: dt.date | None = None
    start_time: dt.time | None = None
    note: str | None = None
    staff_type: str | None = None


class VoidIn(Schema):
    reason: str


class RevisionOut(Schema):
    at: dt.datetime
    actor_name: str
    reason: str
    old_values: dict[str, object]
    new_values: dict[str, object]


class TimerStartIn(Schema):
    patient_id: int
    program: str
    activity: str = "care_coordination"
    task_id: int | None = None


class TimerStopIn(Schema):
    interactive: bool = False
    note: str = ""
    program: str | None = None
    activity: str | None = None


class TimerOut(Schema):
    running: bool
    patient_id: int | None = None
    program: str | None = None
    activity: str | None = None
    started_at: dt.datetime | None = None
    elapsed_seconds: int | None = None


class TimerStopOut(Schema):
    entry: TimeEntryOut | None


class MonthMinutesOut(Schema):
    patient_id: int
    program: str
    total: int
    interactive: int
    by_staff_type: dict[str, int]


class MonthMinutesPage(Schema):
    month: str
    count: int
    results: list[MonthMinutesOut]
