"""CSV export of a billing month for billing systems: one row per current claim line (billable, denied and
held lines, so the billing office sees the whole month), with the patient's MBI, the practitioner NPI, amounts
and the rule ids and reasons behind the line. Audited per patient."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from django.db import transaction

from careloop.accounts import rules as access
from careloop.audit.services import EventSpec, record_events
from careloop.billing.choices import ACTIVE_STATUSES
from careloop.billing.models import ClaimLine
from careloop.clinics.models import Practitioner
from careloop.core.actor import Actor
from careloop.core.errors import PermissionDenied
from careloop.registry.models import Patient

HEADER = ["month", "patient_id", "mbi", "family", "given", "birth_date", "code", "units", "status",
          "service_date", "place_of_service", "billing_npi", "diagnoses", "allowed_amount", "patient_share",
          "charge", "rule_ids", "reason", "revision"]


def month_csv_rows(*, organization_id: int, month: str, actor: Actor) -> Iterator[list[str]]:
    if actor.role != "system" and (actor.organization_id != organization_id
                                   or not access.has_permission(actor.role, "billing.export")):
        raise PermissionDenied(f"role {actor.role!r} may not export claims")
    npis = dict(Practitioner.objects.filter(organization_id=organization_id).values_list("pk", "npi"))
    rows = list(ClaimLine.objects.filter(organization_id=organization_id, month=month,
                                         status__in=list(ACTIVE_STATUSES)).order_by("patient_id", "status", "code")
                .values_list("patient_id", "code", "units", "status", "service_date", "place_of_service",
                             "practitioner_id", "diagnoses", "allowed_amount", "patient_share", "amount",
                             "rule_ids", "reason", "revision"))
    pids = sorted({r[0] for r in rows})
    pats: dict[int, tuple[str, str, str, str]] = {}
    for i in range(0, len(pids), 5_000):
        for pk, mbi, fam, giv, born in Patient.objects.filter(organization_id=organization_id,
                                                               pk__in=pids[i : i + 5_000]).values_list(
                "pk", "mbi", "family", "given", "birth_date"):
            pats[pk] = (mbi, fam, giv, born.isoformat() if born else "")
    with transaction.atomic():
        record_events(actor=actor, organization_id=organization_id, events=[
            EventSpec("billing.csv_exported", pid, "PatientMonth", f"{pid}:{month}") for pid in pids])
    yield HEADER
    for pid, code, units, status, dos, pos, prac, dx, allowed, share, amount, rule_ids, reason, rev in rows:
        mbi, fam, giv, birth = pats.get(pid, ("", "", "", ""))
        yield [month, str(pid), mbi, fam, giv, birth, code, str(units), status, dos.isoformat() if dos else "",
               pos, npis.get(prac or 0, ""), " ".join(dx or []), str(allowed), str(share), str(amount),
               " ".join(rule_ids or []), reason, str(rev)]


def _cell(value: str) -> str:
    """No spreadsheet formulas from data (a name starting with = + - @)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def month_csv(*, organization_id: int, month: str, actor: Actor) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in month_csv_rows(organization_id=organization_id, month=month, actor=actor):
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()
