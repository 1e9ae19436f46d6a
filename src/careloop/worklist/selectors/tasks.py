"""Task reads: the queue, a patient's open tasks, workload per staff member, assignment candidates."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Case, Count, IntegerField, Max, Q, QuerySet, Sum, Value, When
from django.utils.module_loading import import_string

from careloop.accounts import rules as access
from careloop.accounts.models import User
from careloop.clinics.models import CareTeamMember, Organization
from careloop.core import clock
from careloop.core.db import select_rows
from careloop.core.errors import NotFound
from careloop.programs import selectors as programs
from careloop.worklist.choices import OPEN_STATUSES, RiskTier
from careloop.worklist.models import CareTask, Notification, StaffAbsence, TaskEvent
from careloop.worklist.rules.assignment import DEFAULT_CAPACITY, Candidate

QUEUE_FIELDS = (
    "id",
    "patient_id",
    "patient__family",
    "patient__given",
    "task_type",
    "reason",
    "status",
    "due_at",
    "deadline_at",
    "priority",
    "priority_explanation",
    "at_risk",
    "escalation_level",
    "program",
    "assigned_user_id",
    "assigned_role",
    "source_type",
    "source_id",
    "snoozed_until",
)
MAX_PAGE = 200


@dataclass(frozen=True)
class QueueFilters:
    task_type: str = ""
    program: str = ""
    due_before: dt.datetime | None = None
    patient_id: int | None = None
    patient_name: str = ""  # prefix of "family given", lower case
    status: str = ""  # "" = the queue (requested, ready, in-progress); or one status, e.g. on-hold
    include_snoozed: bool = False


def queue(
    *,
    organization_id: int,
    user_id: int | None,
    now: dt.datetime,
    filters: QueueFilters = QueueFilters(),  # noqa: B008 - frozen dataclass
    role: str = "",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], bool]:
    """A page of ``user_id``'s tasks (None: unassigned tasks, optionally for ``role``) in priority order.

    Returns (rows, has_more). The default (queued statuses, not snoozed) is one range scan of
    ``task_queue_idx``; only the listed columns are read.
    """
    limit = min(max(limit, 1), MAX_PAGE)
    offset = max(offset, 0)
    key, params = _queue_shape(organization_id, user_id, now, filters, role, limit, offset)
    compiled = _compiled_queries().get(key) if key is not None else None
    if compiled is not None:
        rows = _run_compiled(compiled, params)
        return rows[:limit], len(rows) > limit
    qs = _queue_queryset(organization_id=organization_id, user_id=user_id, now=now, filters=filters, role=role)
    qs = qs.order_by("-priority", "due_at", "id").values(*QUEUE_FIELDS)[offset : offset + limit + 1]
    if key is not None:
        _remember(key, qs, organization_id, user_id, filters, role)
    rows = list(qs)
    return rows[:limit], len(rows) > limit


# The queue is the hottest read (every coordinator, every page): building and compiling its queryset costs more
# than running it. Each server thread compiles each shape of the query (which filters are set, the page) once
# and then runs the SQL with new parameters, through the same row converters the ORM uses. A shape is cached
# only if the parameters computed here are exactly those the ORM compiled, so the cache cannot change results.
_LOCAL = threading.local()
_MAX_SHAPES = 64


@dataclass(frozen=True)
class _Compiled:
    sql: str
    converters: list[tuple[int, tuple[list[Any], Any]]]


def _compiled_queries() -> dict[tuple[object, ...], _Compiled | None]:
    cache: dict[tuple[object, ...], _Compiled | None] | None = getattr(_LOCAL, "queue", None)
    if cache is None or len(cache) > _MAX_SHAPES:
        cache = _LOCAL.queue = {}
    return cache


def _queue_shape(  # noqa: PLR0913 - the queue's inputs
    organization_id: int, user_id: int | None, now: dt.datetime, filters: QueueFilters, role: str, limit: int,
    offset: int,
) -> tuple[tuple[object, ...] | None, list[Any]]:
    """(shape key or None when not cacheable, the query's parameters in the ORM's order)."""
    if filters.patient_name.strip():
        return None, []
    adapt = connection.ops.adapt_datetimefield_value
    params: list[Any] = [organization_id]
    if user_id is not None:
        params.append(user_id)
    if filters.status:
        params.append(filters.status)
    elif connection.vendor != "postgresql":  # PostgreSQL compiles `in_queue = true` to a bare `in_queue`
        params.append(True)
    with_role = user_id is None and bool(role)
    if with_role:
        params.append(role)
    if not filters.include_snoozed:
        params.append(adapt(now))
    for value in (filters.task_type, filters.program):
        if value:
            params.append(value)
    if filters.due_before is not None:
        params.append(adapt(filters.due_before))
    if filters.patient_id is not None:
        params.append(filters.patient_id)
    key = (connection.vendor, user_id is None, bool(filters.status), with_role, filters.include_snoozed,
           bool(filters.task_type), bool(filters.program), filters.due_before is not None,
           filters.patient_id is not None, limit, offset)
    return key, params


def _remember(  # noqa: PLR0913 - the queue's inputs
    key: tuple[object, ...], qs: QuerySet[Any], organization_id: int, user_id: int | None, filters: QueueFilters,
    role: str,
) -> None:
    """Cache the shape's SQL if ``_queue_shape`` puts parameters where the ORM does. Checked on a probe of the
    same shape whose every parameter is distinct, so no two parameters can be swapped unnoticed."""
    compiler = qs.query.get_compiler(using=qs.db)
    sql, _ = compiler.as_sql()
    at = dt.datetime(1901, 2, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    probe_filters = QueueFilters(
        task_type="~type~" if filters.task_type else "", program="~program~" if filters.program else "",
        due_before=dt.datetime(1902, 3, 4, 5, 6, 7, 8, tzinfo=dt.UTC) if filters.due_before is not None else None,
        patient_id=-103 if filters.patient_id is not None else None, status="~status~" if filters.status else "",
        include_snoozed=filters.include_snoozed,
    )
    probe_user = -102 if user_id is not None else None
    probe_role = "~role~" if role else ""
    low, high = qs.query.low_mark, qs.query.high_mark
    probe = _queue_queryset(organization_id=-101, user_id=probe_user, now=at, filters=probe_filters, role=probe_role)
    probe = probe.order_by("-priority", "due_at", "id").values(*QUEUE_FIELDS)[low:high]
    probe_sql, probe_params = probe.query.get_compiler(using=qs.db).as_sql()
    expected = _queue_shape(-101, probe_user, at, probe_filters, probe_role, high - low - 1 if high else 0, low)[1]
    ok = probe_sql == sql and list(probe_params) == expected and list(qs.query.values_select) == list(QUEUE_FIELDS)
    fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
    _compiled_queries()[key] = _Compiled(sql, list(compiler.get_converters(fields).items())) if ok else None


def _run_compiled(compiled: _Compiled, params: list[Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cur:
        cur.execute(compiled.sql, params)
        raw = cur.fetchall()
    out = []
    for r in raw:
        row = list(r)
        for pos, (convs, expression) in compiled.converters:
            value = row[pos]
            for convert in convs:
                value = convert(value, expression, connection)
            row[pos] = value
        out.append(dict(zip(QUEUE_FIELDS, row, strict=True)))
    return out


def _queue_queryset(
    *, organization_id: int, user_id: int | None, now: dt.datetime, filters: QueueFilters, role: str
) -> QuerySet[CareTask]:
    # One filter per call: their parameters then come in this order (see _queue_shape).
    qs = CareTask.objects.filter(organization_id=organization_id).filter(assigned_user_id=user_id)
    qs = qs.filter(status=filters.status) if filters.status else qs.filter(in_queue=True)
    if user_id is None and role:
        qs = qs.filter(assigned_role=role)
    if not filters.include_snoozed:
        qs = qs.filter(Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now))
    if filters.task_type:
        qs = qs.filter(task_type=filters.task_type)
    if filters.program:
        qs = qs.filter(program=filters.program)
    if filters.due_before is not None:
        qs = qs.filter(due_at__lt=filters.due_before)
    if filters.patient_id is not None:
        qs = qs.filter(patient_id=filters.patient_id)
    if filters.patient_name.strip():
        name = " ".join(filters.patient_name.lower().replace(",", " ").split())
        qs = qs.filter(patient__search_name__startswith=name)
    return qs


def task_by_id(*, organization_id: int, task_id: int) -> CareTask:
    task = CareTask.objects.filter(organization_id=organization_id, pk=task_id).select_related("patient").first()
    if task is None:
        raise NotFound("task not found")
    return task


def task_events(*, organization_id: int, task_id: int) -> QuerySet[TaskEvent]:
    return TaskEvent.objects.filter(organization_id=organization_id, task_id=task_id).order_by("at", "pk")


def patient_open_tasks(*, organization_id: int, patient_id: int) -> QuerySet[CareTask]:
    return (
        CareTask.objects.filter(
            organization_id=organization_id, patient_id=patient_id, status__in=sorted(OPEN_STATUSES)
        )
        .select_related("assigned_user")
        .order_by("-priority", "due_at", "id")
    )


def risk_tiers(*, organization_id: int, patient_ids: Iterable[int]) -> dict[int, str]:
    """patient id -> risk tier. The risk app does not exist yet: ``settings.WORKLIST_RISK_TIER_PROVIDER`` may
    name a callable ``(organization_id=..., patient_ids=[...]) -> {patient_id: tier}``; patients it does not
    return (or every patient, with no provider) are "moderate"."""
    ids = list(patient_ids)
    found: dict[int, str] = {}
    path = getattr(settings, "WORKLIST_RISK_TIER_PROVIDER", "")
    if path and ids:
        found = dict(import_string(path)(organization_id=organization_id, patient_ids=ids))
    return {pid: found.get(pid, RiskTier.MODERATE) if found.get(pid) in RiskTier.values else RiskTier.MODERATE
            for pid in ids}


def _marks(values: list[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def caseloads(*, organization_id: int, user_ids: Iterable[int] | None = None) -> dict[int, int]:
    """user id -> distinct patients with queued tasks assigned to them."""
    where, params = "organization_id = %s AND in_queue = %s AND assigned_user_id IS NOT NULL", [organization_id, True]
    if user_ids is not None:
        ids: list[Any] = list(user_ids)
        if not ids:
            return {}
        where, params = f"{where} AND assigned_user_id IN ({_marks(ids)})", [*params, *ids]
    qn = connection.ops.quote_name
    with connection.cursor() as cur:  # one GROUP BY, without compiling the aggregate query (the queue worker's path)
        cur.execute(f"SELECT assigned_user_id, COUNT(DISTINCT patient_id) FROM {qn(CareTask._meta.db_table)} "  # noqa: S608 - model metadata
                    f"WHERE {where} GROUP BY assigned_user_id", params)
        return {int(uid): int(n) for uid, n in cur.fetchall()}


def absent_user_ids(*, organization_id: int, on: dt.date) -> set[int]:
    day = connection.ops.adapt_datefield_value(on)
    where = 'organization_id = %s AND "start" <= %s AND "end" >= %s'
    return {uid for (uid,) in select_rows(StaffAbsence, ("user_id",), where, [organization_id, day, day])}


_CLINICAL_ROLES = sorted(access.CLINICAL)


def assignment_candidates(
    *, organization_id: int, on: dt.date, roles: Iterable[str] | None = None, user_ids: Iterable[int] | None = None
) -> list[Candidate]:
    """Active clinical staff (optionally of ``roles`` or with ``user_ids``) with capacity, caseload and
    whether they are away on ``on``."""
    where = f"organization_id = %s AND is_active = %s AND role IN ({_marks(_CLINICAL_ROLES)})"
    params: list[Any] = [organization_id, True, *_CLINICAL_ROLES]
    empty = False
    if roles is not None:
        wanted = list(roles)
        empty = empty or not wanted
        where, params = f"{where} AND role IN ({_marks(wanted)})", [*params, *wanted]
    if user_ids is not None:
        wanted_ids = list(user_ids)
        empty = empty or not wanted_ids
        where, params = f"{where} AND id IN ({_marks(wanted_ids)})", [*params, *wanted_ids]
    people = [] if empty else select_rows(User, ("id", "role", "username", "first_name", "last_name"), where, params)
    ids = [p[0] for p in people]
    capacity: dict[int, int] = {}
    teams: dict[int, set[int]] = {}
    if ids:
        for uid, team_id, cap in select_rows(
                CareTeamMember, ("user_id", "team_id", "capacity"),
                f"organization_id = %s AND user_id IN ({_marks(ids)}) AND is_active = %s",
                [organization_id, *ids, True]):
            capacity[uid] = max(capacity.get(uid, 0), cap)
            teams.setdefault(uid, set()).add(team_id)
    loads = caseloads(organization_id=organization_id, user_ids=ids)
    away = absent_user_ids(organization_id=organization_id, on=on)
    return [
        Candidate(
            user_id=uid,
            role=role,
            capacity=capacity.get(uid, DEFAULT_CAPACITY),
            caseload=loads.get(uid, 0),
            away=uid in away,
            team_ids=frozenset(teams.get(uid, ())),
            name=f"{first} {last}".strip() or username,
        )
        for uid, role, username, first, last in people
    ]


@dataclass
class WorkloadRow:
    user_id: int | None
    name: str
    role: str
    capacity: int
    caseload: int
    open_tasks: int
    overdue: int
    at_risk: int
    panel: int
    away: bool
    supervisor_id: int | None = None
    load_pct: int = field(default=0)


def team_workload(
    *, organization_id: int, now: dt.datetime, today: dt.date, user_ids: Iterable[int] | None = None
) -> list[WorkloadRow]:
    """Per staff member: caseload vs capacity, queued/overdue/at-risk tasks, designated panel, away today.
    The last row (user_id None) counts the unassigned tasks."""
    candidates = {c.user_id: c for c in assignment_candidates(organization_id=organization_id, on=today,
                                                                user_ids=user_ids)}
    supervisors = dict(
        User.objects.filter(pk__in=list(candidates)).values_list("pk", "supervisor_id")
    )
    stats = (
        CareTask.objects.filter(organization_id=organization_id, in_queue=True)
        .values("assigned_user_id")
        .annotate(
            n=Count("id"),
            overdue=Sum(Case(When(due_at__lt=now, then=Value(1)), default=Value(0), output_field=IntegerField())),
            risky=Sum(Case(When(at_risk=True, then=Value(1)), default=Value(0), output_field=IntegerField())),
            latest=Max("due_at"),
        )
    )
    by_user: dict[int | None, dict[str, Any]] = {r["assigned_user_id"]: dict(r) for r in stats}
    panels = programs.designated_patient_counts(organization_id=organization_id, on=today)
    rows = []
    for uid, c in sorted(candidates.items(), key=lambda kv: (kv[1].role, kv[1].name, kv[0])):
        s = by_user.get(uid) or {}
        rows.append(
            WorkloadRow(uid, c.name, c.role, c.capacity, c.caseload, s.get("n", 0), s.get("overdue") or 0,
                        s.get("risky") or 0, panels.get(uid, 0), c.away, supervisors.get(uid),
                        round(100 * c.caseload / max(c.capacity, 1)))
        )
    if user_ids is None:
        s = by_user.get(None) or {}
        rows.append(WorkloadRow(None, "Unassigned", "", 0, 0, s.get("n", 0), s.get("overdue") or 0,
                                s.get("risky") or 0, 0, False))
    return rows


def notifications_for(*, organization_id: int, user_id: int, unread_only: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(organization_id=organization_id, user_id=user_id)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.select_related("task").order_by("-created_at", "-pk")


def organization_zone(organization_id: int) -> ZoneInfo:
    """The clinic's time zone (what "today" and "this month" mean for it)."""
    rows = select_rows(Organization, ("time_zone",), "id = %s", [organization_id], limit=1)
    if not rows:
        raise NotFound("organization not found")
    return clock.clinic_zone(rows[0][0])


def upcoming_absences(*, organization_id: int, today: dt.date, user_id: int | None = None) -> QuerySet[StaffAbsence]:
    qs = StaffAbsence.objects.filter(organization_id=organization_id, end__gte=today)
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    return qs.select_related("user").order_by("start", "pk")
