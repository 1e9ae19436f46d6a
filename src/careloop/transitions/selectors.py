"""Transition reads, scoped to one organization."""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import QuerySet

from careloop.core.db import keyed_tenant_column, select_instances, select_rows
from careloop.registry.models import Encounter, PatientEvent
from careloop.transitions.choices import EpisodeStatus
from careloop.transitions.models import DischargeMedication, TransitionEpisode
from careloop.worklist.models import CareTask, OutreachAttempt
from careloop.worklist.rules.timeline import Attempt

EPISODE_CLASSES = ("IMP", "OBSENC", "EMER")
NOT_DISCHARGED = ("cancelled", "entered-in-error", "in-progress", "planned", "arrived", "triaged", "onleave")


def episode(*, organization_id: int, episode_id: int) -> TransitionEpisode | None:
    return (TransitionEpisode.objects.filter(organization_id=organization_id, pk=episode_id)
            .select_related("patient", "encounter", "visit_encounter", "medrec_by", "care_plan_reviewed_by").first())


def episode_for_encounter(*, organization_id: int, encounter_id: int) -> TransitionEpisode | None:
    return TransitionEpisode.objects.filter(organization_id=organization_id, encounter_id=encounter_id).first()


def episodes(*, organization_id: int, status: str = "", patient_id: int | None = None) -> QuerySet[TransitionEpisode]:
    qs = TransitionEpisode.objects.filter(organization_id=organization_id).select_related("patient")
    if status:
        qs = qs.filter(status=status)
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    return qs.order_by("contact_due", "pk")


def in_hospital(*, organization_id: int) -> QuerySet[Encounter]:
    """Stays that have started and not ended (the board's first column)."""
    return (Encounter.objects.filter(organization_id=organization_id, class_code__in=EPISODE_CLASSES,
                                     end__isnull=True, status="in-progress")
            .select_related("patient").order_by("start", "pk"))


def previous_episode(*, organization_id: int, patient_id: int, admitted_at: dt.datetime,
                     exclude_id: int | None) -> TransitionEpisode | None:
    """The latest non-cancelled episode discharged up to 30 days before ``admitted_at``."""
    qs = TransitionEpisode.objects.filter(
        organization_id=organization_id, patient_id=patient_id, discharged_at__lte=admitted_at,
        discharged_at__gte=admitted_at - dt.timedelta(days=30)).exclude(status=EpisodeStatus.CANCELLED)
    if exclude_id is not None:
        qs = qs.exclude(pk=exclude_id)
    return qs.order_by("-discharged_at", "-pk").first()


def first_visit_after(*, organization_id: int, patient_id: int, after: dt.datetime) -> Encounter | None:
    return (Encounter.objects.filter(organization_id=organization_id, patient_id=patient_id, class_code__in=("AMB",),
                                     start__gt=after)
            .exclude(status__in=("cancelled", "entered-in-error", "planned")).order_by("start", "pk").first())


def discharged_without_episode(*, organization_id: int, since: dt.datetime | None) -> list[int]:
    """Encounter ids of discharges (IMP, OBSENC, EMER) that have no episode yet: one query."""
    qs = (Encounter.objects.filter(organization_id=organization_id, class_code__in=EPISODE_CLASSES,
                                   end__isnull=False)
          .exclude(status__in=NOT_DISCHARGED)
          .exclude(pk__in=TransitionEpisode.objects.filter(organization_id=organization_id).values("encounter_id")))
    if since is not None:
        qs = qs.filter(end__gte=since)
    return list(qs.order_by("end", "pk").values_list("pk", flat=True))


def episode_tasks(*, organization_id: int, episode_id: int) -> QuerySet[CareTask]:
    return CareTask.objects.filter(organization_id=organization_id,
                                   dedupe_key__startswith=f"transition:{episode_id}:").order_by("pk")


def patient_events(*, organization_id: int, patient_id: int, since: dt.datetime) -> QuerySet[PatientEvent]:
    return PatientEvent.objects.filter(organization_id=organization_id, patient_id=patient_id,
                                       occurred_at__gte=since).order_by("occurred_at", "pk")


def discharge_meds(*, organization_id: int, episode_id: int) -> QuerySet[DischargeMedication]:
    return DischargeMedication.objects.filter(organization_id=organization_id, episode_id=episode_id).order_by("pk")


# ---- batch reads for the queue worker (``services.sync_encounters``): one query per batch, not per episode ----


def _marks(values: list[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def _at(value: dt.datetime) -> object:
    return connection.ops.adapt_datetimefield_value(value)


_NOT_VISITS = ("cancelled", "entered-in-error", "planned")


def recent_episode_rows(*, organization_id: int, patient_ids: set[int], since: dt.datetime,
                        until: dt.datetime) -> list[tuple[int, int, dt.datetime]]:
    """(pk, patient_id, discharged_at) of the patients' non-cancelled episodes discharged in [since, until]."""
    pids: list[Any] = sorted(patient_ids)
    if not pids:
        return []
    rows = select_rows(
        TransitionEpisode, ("id", "patient_id", "discharged_at"),
        f"organization_id = %s AND patient_id IN ({_marks(pids)}) AND discharged_at >= %s AND discharged_at <= %s"
        " AND NOT (status = %s)",
        [organization_id, *pids, _at(since), _at(until), EpisodeStatus.CANCELLED.value])
    return [(pk, pid, at) for pk, pid, at in rows if at is not None]


def outreach_attempts(*, organization_id: int, patient_ids: set[int], start: dt.datetime,
                      end: dt.datetime) -> dict[int, list[Attempt]]:
    """The patients' outreach attempts in [start, end], by patient (for ``tcm_contact_evidence``)."""
    out: dict[int, list[Attempt]] = {}
    pids: list[Any] = sorted(patient_ids)
    if not pids:
        return out
    for pid, pk, at, channel, outcome in select_rows(
            OutreachAttempt, ("patient_id", "id", "at", "channel", "outcome"),
            f"organization_id = %s AND patient_id IN ({_marks(pids)}) AND at >= %s AND at <= %s",
            [organization_id, *pids, _at(start), _at(end)], order_by=("at", "id")):
        out.setdefault(pid, []).append(Attempt(pk, at, channel, outcome))
    return out


def visits_after(*, organization_id: int, patient_ids: set[int], after: dt.datetime) -> dict[int, list[Encounter]]:
    """The patients' ambulatory visits after ``after``, by patient, earliest first (``first_visit_after``)."""
    out: dict[int, list[Encounter]] = {}
    pids: list[Any] = sorted(patient_ids)
    if not pids:
        return out
    for enc in select_instances(
            Encounter, f"organization_id = %s AND patient_id IN ({_marks(pids)}) AND class_code = %s AND start > %s"
            f" AND NOT (status IN ({_marks(list(_NOT_VISITS))}))",
            [organization_id, *pids, "AMB", _at(after), *_NOT_VISITS], order_by=("start", "id")):
        out.setdefault(enc.patient_id, []).append(enc)
    return out


# Columns of the encounters ``services.sync_encounters`` reads (as ``EncounterRow``).
ENCOUNTER_ROW = ("id", "patient_id", "class_code", "status", "facility", "start", "end", "discharge_disposition")


class EncounterRow(NamedTuple):
    pk: int
    patient_id: int
    class_code: str
    status: str
    facility: str
    start: dt.datetime | None
    end: dt.datetime | None
    discharge_disposition: str


def encounter_rows(*, organization_id: int, encounter_ids: list[int]) -> list[EncounterRow]:
    """The encounters (those of the organization) as ``EncounterRow``, by start then id."""
    if not encounter_ids:
        return []
    ids: list[Any] = list(encounter_ids)
    return [EncounterRow(*r) for r in select_rows(
        Encounter, ENCOUNTER_ROW, f"{keyed_tenant_column()} = %s AND id IN ({_marks(ids)})", [organization_id, *ids],
        order_by=("start", "id"))]


def episodes_for_encounters(*, organization_id: int, encounter_ids: list[int]) -> list[TransitionEpisode]:
    """The encounters' episodes, locked until the transaction ends (``select_for_update``)."""
    if not encounter_ids:
        return []
    ids: list[Any] = list(encounter_ids)
    return select_instances(TransitionEpisode, f"{keyed_tenant_column()} = %s AND encounter_id IN ({_marks(ids)})",
                            [organization_id, *ids], for_update=True)
