"""The escalation job: escalate overdue tasks, flag regulatory deadlines at risk before they are missed, and
recompute priorities whose urgency band changed. Runs from the scheduler every 5 minutes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q

from careloop.accounts.models import User
from careloop.audit.services import EventSpec, record_events
from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.worklist import selectors
from careloop.worklist.choices import NotificationKind, TaskEventKind
from careloop.worklist.models import CareTask
from careloop.worklist.rules import priority as prio
from careloop.worklist.services._common import at_risk_hours, event_rows, notify_after_commit

MAX_ESCALATION_LEVEL = 3
ESCALATION_INTERVAL = dt.timedelta(days=1)  # an overdue task escalates again after a day, up to the max level
AT_RISK_LOOKAHEAD = dt.timedelta(days=7)  # calendar superset of any "N business hours" window we flag
BATCH = 2000
_FIELDS = ["priority", "priority_explanation", "priority_valid_until", "escalation_level", "escalated_at",
           "at_risk", "risk_tier", "updated_at"]


@dataclass
class EscalationResult:
    escalated: int = 0
    flagged_at_risk: int = 0
    reprioritized: int = 0
    notified: int = 0
    by_organization: dict[int, dict[str, int]] = field(default_factory=dict)


def escalate_overdue(*, now: dt.datetime | None = None, organization_id: int | None = None) -> EscalationResult:
    """Run the escalation pass for one organization or all. Idempotent within an ``ESCALATION_INTERVAL``."""
    now = now or clock.now()
    result = EscalationResult()
    orgs = Organization.objects.all() if organization_id is None else Organization.objects.filter(pk=organization_id)
    for org_id, tz in orgs.values_list("pk", "time_zone"):
        counts = _escalate_org(org_id, clock.clinic_zone(tz), now)
        result.by_organization[org_id] = counts
        result.escalated += counts["escalated"]
        result.flagged_at_risk += counts["at_risk"]
        result.reprioritized += counts["reprioritized"]
        result.notified += counts["notified"]
    return result


def _recipients(org_id: int) -> tuple[dict[int, int | None], list[int]]:
    supervisors: dict[int, int | None] = dict(
        User.objects.filter(organization_id=org_id, is_active=True, supervisor__isnull=False).values_list(
            "pk", "supervisor_id"
        )
    )
    leaders = list(User.objects.filter(organization_id=org_id, is_active=True, role="leader").values_list("pk",
                                                                                                       flat=True))
    return supervisors, leaders


def _escalate_org(org_id: int, zone: ZoneInfo, now: dt.datetime) -> dict[str, int]:
    actor = Actor.system(org_id, "worklist escalation")
    counts = {"escalated": 0, "at_risk": 0, "reprioritized": 0, "notified": 0}
    not_snoozed = Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now)
    base = CareTask.objects.filter(organization_id=org_id, in_queue=True)
    overdue = base.filter(not_snoozed, Q(due_at__lt=now) | Q(deadline_at__lt=now)).filter(
        Q(escalated_at__isnull=True) | Q(escalated_at__lte=now - ESCALATION_INTERVAL),
        escalation_level__lt=MAX_ESCALATION_LEVEL,
    )
    risky = base.filter(at_risk=False, deadline_at__gt=now, deadline_at__lte=now + AT_RISK_LOOKAHEAD)
    stale = base.filter(priority_valid_until__lte=now)
    supervisors, leaders = _recipients(org_id)
    for kind, qs in (("escalate", overdue), ("at_risk", risky), ("reprioritize", stale)):
        last_id = 0
        while True:
            with transaction.atomic():
                tasks = list(qs.filter(pk__gt=last_id).select_for_update().order_by("pk")[:BATCH])
                if not tasks:
                    break
                last_id = tasks[-1].pk
                _apply(kind, tasks, zone, now, actor, supervisors, leaders, counts)
    return counts


def _apply(
    kind: str, tasks: list[CareTask], zone: ZoneInfo, now: dt.datetime, actor: Actor,
    supervisors: dict[int, int | None], leaders: list[int], counts: dict[str, int],
) -> None:
    org_id = tasks[0].organization_id
    tiers = selectors.risk_tiers(organization_id=org_id, patient_ids={t.patient_id for t in tasks})
    history: list[tuple[int, str, str, str, str]] = []
    audit: list[EventSpec] = []
    notes: list[tuple[int, int, int | None, str, str]] = []
    changed: list[CareTask] = []
    for t in tasks:
        if kind == "at_risk":
            if not prio.deadline_at_risk(t.deadline_at, now=now, zone=zone, threshold_hours=at_risk_hours()):
                continue
            t.at_risk = True
            assert t.deadline_at is not None
            when = t.deadline_at.astimezone(zone).strftime("%a %d %b %H:%M")
            text = f"Deadline at risk ({when}): {t.reason}"
            history.append((t.pk, TaskEventKind.AT_RISK.value, "", when, "less than a business day left"))
            audit.append(EventSpec("task.flagged_at_risk", t.patient_id, "CareTask", str(t.pk)))
            people = {t.assigned_user_id} if t.assigned_user_id else set()
            people |= _bosses(t, supervisors, leaders)
            notes += [(org_id, uid, t.pk, NotificationKind.AT_RISK.value, text) for uid in sorted(people)]
            counts["at_risk"] += 1
        elif kind == "escalate":
            t.escalation_level += 1
            t.escalated_at = now
            text = f"Overdue task escalated (level {t.escalation_level}): {t.reason}"
            history.append((t.pk, TaskEventKind.ESCALATED.value, str(t.escalation_level - 1),
                            str(t.escalation_level), "overdue"))
            audit.append(EventSpec("task.escalated", t.patient_id, "CareTask", str(t.pk),
                                   detail={"level": t.escalation_level}))
            notes += [(org_id, uid, t.pk, NotificationKind.ESCALATION.value, text)
                      for uid in sorted(_bosses(t, supervisors, leaders))]
            counts["escalated"] += 1
        else:
            counts["reprioritized"] += 1
        t.risk_tier = tiers[t.patient_id]
        p = prio.compute_priority(
            prio.PriorityInput(t.task_type, t.due_at, t.deadline_at, t.risk_tier, t.value_note, t.escalation_level),
            now=now, zone=zone,
        )
        t.priority, t.priority_explanation, t.priority_valid_until = p.score, p.explanation, p.valid_until
        t.updated_at = now
        changed.append(t)
    CareTask.objects.bulk_update(changed, _FIELDS, batch_size=500)
    event_rows(org_id, history, actor, now)
    record_events(actor=actor, organization_id=org_id, events=audit)
    notify_after_commit(notes)
    counts["notified"] += len(notes)


def _bosses(task: CareTask, supervisors: dict[int, int | None], leaders: list[int]) -> set[int]:
    """The assignee's supervisor when they have one, else the organization's leaders."""
    boss = supervisors.get(task.assigned_user_id) if task.assigned_user_id else None
    return {boss} if boss else set(leaders)
