"""Billing write use-cases: the monthly run (decisions, priced claim lines, the correction ledger) and loading
fee schedules.

Idempotency: each patient-month's facts are hashed (with the ruleset version). A re-run whose facts hash is
unchanged writes nothing. Changed facts re-evaluate the month; if the answer (codes, units, practitioners,
statuses, dates) is the same, only the decision row is refreshed; if it differs, the current lines are voided,
replacement lines added and a ``ClaimCorrection`` row records both with the reason (which facts changed).
Never a duplicate: at most one set of active lines per patient-month.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import multiprocessing
import os
import threading
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from django.db import connection, models, transaction

from careloop.accounts import rules as access
from careloop.audit.services import EventSpec, record_event, record_events
from careloop.billing import fees, selectors
from careloop.billing.choices import ACTIVE_STATUSES, FACILITY_POS, LineStatus
from careloop.billing.evidence import EvidenceProvider
from careloop.billing.models import (
    BillingRun,
    ClaimCorrection,
    ClaimLine,
    FeeScheduleEntry,
    PatientMonthDecision,
)
from careloop.billing.rules.facts import Decision
from careloop.billing.scenario import scenario_from_facts
from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.db import insert_rows, update_rows
from careloop.core.errors import PermissionDenied, ValidationFailed

CHUNK = 5_000
Evaluate = Callable[[Any, Any], Decision]


def _check(actor: Actor, organization_id: int, permission: str) -> None:
    if actor.role == "system" and actor.organization_id in (None, organization_id):
        return
    if actor.organization_id != organization_id or not access.has_permission(actor.role, permission):
        raise PermissionDenied(f"role {actor.role!r} may not {permission}")


def _engine(year: int) -> tuple[Evaluate, Any, str]:
    """The rules engine and the CMS ruleset for the service year. The version that goes into the facts hash is
    the ruleset's name plus a digest of its rules, so an edited ruleset re-decides the month on the next run."""
    from careloop.billing.rules import RulesetError, evaluate, load_ruleset

    try:
        ruleset = load_ruleset(year)
    except RulesetError as exc:
        raise ValidationFailed(str(exc), field_errors={"month": "no ruleset for this year"}) from exc
    digest = hashlib.sha256(repr(sorted((k, repr(v)) for k, v in ruleset.rules.items())).encode()).hexdigest()
    return evaluate, ruleset, f"{ruleset.name}@{digest[:12]}"


def _insert(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT rows given for every listed column; JSON encoded with orjson (Django's JSON adaptation costs
    ~40 us a value, a third of the run's write time at 100,000 patients). Other values via the backend."""
    if not rows:
        return
    fields = [model._meta.get_field(c) for c in columns]
    pg = connection.vendor == "postgresql"
    ops = connection.ops
    conv: list[Callable[[Any], Any] | None] = []
    for f in fields:
        if isinstance(f, models.JSONField):
            conv.append(lambda v: None if v is None else orjson.dumps(v).decode())
        elif isinstance(f, models.DateTimeField):
            conv.append(_memo(ops.adapt_datetimefield_value))  # the run's rows share one "now"
        elif isinstance(f, models.DateField):
            conv.append(ops.adapt_datefield_value)
        elif isinstance(f, models.DecimalField) and not pg:
            conv.append(lambda v: None if v is None else str(v))
        else:
            conv.append(None)
    qn = ops.quote_name
    marks = ", ".join("%s::jsonb" if pg and isinstance(f, models.JSONField) else "%s" for f in fields)
    cols = ", ".join(qn(str(f.column)) for f in fields)  # type: ignore[union-attr]
    sql = f"INSERT INTO {qn(model._meta.db_table)} ({cols}) VALUES ({marks})"  # noqa: S608 - names from metadata
    pairs = [(i, c) for i, c in enumerate(conv) if c is not None]
    prepared = []
    for row in rows:
        values = list(row)
        for i, c in pairs:
            values[i] = c(values[i])
        prepared.append(values)
    with connection.cursor() as cursor:
        cursor.executemany(sql, prepared)


def _memo(adapt: Callable[[Any], Any]) -> Callable[[Any], Any]:
    seen: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        if value not in seen:
            seen[value] = adapt(value)
        return seen[value]

    return convert


def facts_hash(facts: dict[str, Any], ruleset: str) -> str:
    return hashlib.sha256(ruleset.encode() + b"\0" + orjson.dumps(facts, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass
class RunCounts:
    month: str
    ruleset: str = ""
    patients: int = 0
    unchanged: int = 0
    decided: int = 0
    lines_by_code: dict[str, int] = field(default_factory=dict)
    billable_lines: int = 0
    denied: int = 0
    flagged: int = 0
    corrections: int = 0
    total_allowed: str = "0.00"
    patient_share: str = "0.00"
    run_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class PlannedLine:
    code: str
    units: int
    practitioner_id: int | None
    service_date: dt.date | None
    place_of_service: str
    diagnoses: list[str]
    rule_ids: list[str]
    reason: str
    status: str
    allowed: Decimal
    share: Decimal

    def signature(self) -> tuple[Any, ...]:
        return (self.code, self.units, self.practitioner_id, self.service_date, self.status, tuple(self.diagnoses))


def _prac_id(key: str | None) -> int | None:
    try:
        return int(key) if key else None
    except ValueError:
        return None


def plan_lines(decision: Decision, facts: dict[str, Any], *, table: dict[str, fees.Fee], pos: str,
               qp_ids: set[int]) -> list[PlannedLine]:
    """Decision -> claim lines with prices. A billable line with a flag on the same code is held (flagged);
    denials become denied lines; flags on codes the decision does not bill become flagged review lines.

    Date of service (cms-rules 2.12, UNCONFIRMED convention): the engine's date when it gives one, else the
    last day of the service month (the month's requirements are complete by then; claims go after it closes).
    """
    _, last = selectors.month_bounds(decision.month)
    qmb = selectors.qmb_in_month(facts)
    dx = selectors.claim_diagnoses(facts)
    facility = pos in FACILITY_POS
    flags_by_code: dict[str, list[Any]] = defaultdict(list)
    for fl in decision.flags:
        flags_by_code[fl.code].append(fl)
    out: list[PlannedLine] = []
    billed_codes = set()
    for ln in decision.lines:
        billed_codes.add(ln.code)
        prac = _prac_id(ln.practitioner)
        held = flags_by_code.get(ln.code, [])
        fee = table.get(ln.code)
        amount = fee.allowed(facility=facility, qp=prac in qp_ids) if fee else None
        allowed = fees.cents((amount or Decimal(0)) * ln.units)
        rule_ids = list(dict.fromkeys([*ln.rule_ids, *(f.rule_id for f in held)]))
        reason = "; ".join(f.reason for f in held)
        if amount is None:
            reason = "; ".join(x for x in (reason, f"no fee-schedule amount for {ln.code}") if x)
        status = LineStatus.FLAGGED if held else LineStatus.BILLABLE
        diagnoses = [d for d in ln.diagnoses if selectors.ICD10.match(d)][:12] or dx
        out.append(PlannedLine(ln.code, ln.units, prac, ln.date_of_service or last, pos, diagnoses, rule_ids,
                               reason, status, allowed, fees.patient_share(allowed, qmb=qmb)))
    for f in decision.denied:
        out.append(PlannedLine(f.code, 0, _prac_id(f.practitioner), None, pos, [], [f.rule_id], f.reason,
                               LineStatus.DENIED, Decimal("0.00"), Decimal("0.00")))
    for code, items in flags_by_code.items():
        if code in billed_codes:
            continue
        for f in items:
            out.append(PlannedLine(code, 0, _prac_id(f.practitioner), None, pos, [], [f.rule_id], f.reason,
                                   LineStatus.FLAGGED, Decimal("0.00"), Decimal("0.00")))
    return out


def _changed_facts(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k)]


def _describe(lines: Sequence[PlannedLine] | Sequence[dict[str, Any]]) -> str:
    parts = []
    for ln in lines:
        code, units, status = (ln.code, ln.units, ln.status) if isinstance(ln, PlannedLine) else (
            ln["code"], ln["units"], ln["status"])
        parts.append(f"{code}x{units}" + ("" if status == LineStatus.BILLABLE else f" {status}"))
    return ", ".join(parts) or "nothing"


def _decision_json(decision: Decision, facts: dict[str, Any]) -> dict[str, Any]:
    out = decision.as_json()
    out["trace"] = list(decision.trace)
    out["qmb"] = selectors.qmb_in_month(facts)
    return out


_LINE_COLUMNS = [
    "organization_id", "patient_id", "month", "decision_id", "revision", "code", "units", "practitioner_id",
    "service_date", "place_of_service", "diagnoses", "rule_ids", "reason", "status", "allowed_amount",
    "patient_share", "amount", "voided_at", "void_reason", "created_at", "updated_at",
]


def run_billing_month(
    *,
    organization: Organization,
    month: str,
    actor: Actor,
    evidence: EvidenceProvider | None = None,
    progress: Callable[[int], object] | None = None,
    evaluate: Evaluate | None = None,
    ruleset: Any = None,
    workers: int | None = None,
) -> RunCounts:
    """Decide every patient-month of ``month`` and write decisions, priced lines and corrections (see module doc).

    ``progress`` is called with the number of patients done after each chunk. ``evaluate``/``ruleset`` default
    to the engine and the CMS ruleset for the month's year. ``workers``: processes that evaluate the rules while
    this one reads and writes (default: one per CPU, up to 2, when there is more than one chunk; 0 = none).
    """
    _check(actor, organization.pk, "billing.run")
    first, _last = selectors.month_bounds(month)
    if evaluate is None or ruleset is None:
        evaluate, ruleset, version = _engine(first.year)
    else:
        version = str(getattr(ruleset, "version", "custom"))
    capabilities = evidence.capabilities(organization.pk, month) if evidence is not None else None
    pathways_of = getattr(evidence, "performance_pathways", None)
    pathways = pathways_of(organization.pk, first.year) if pathways_of is not None else None
    ctx = selectors.month_context(organization, month, capabilities=capabilities, pathways=pathways)
    pos = ctx.settings.place_of_service or "11"
    qp_ids = {pk for pk, p in ctx.practitioners.items() if p["qp"]}
    table = selectors.fee_table(year=first.year, locality=ctx.settings.locality)
    now = clock.now()
    run = BillingRun.objects.create(organization=organization, month=month, ruleset=version, started_at=now,
                                    actor_username=actor.username)
    counts = RunCounts(month=month, ruleset=version, run_id=run.pk)
    pids = selectors.patients_for_month(organization_id=organization.pk, month=month)
    counts.patients = len(pids)
    existing = {
        pid: (did, h, rev)
        for did, pid, h, rev in PatientMonthDecision.objects.filter(
            organization_id=organization.pk, month=month).values_list("pk", "patient_id", "facts_hash", "revision")
    }
    decide = _Decider(evaluate, ruleset, version, table, pos, qp_ids)
    chunks = [pids[i : i + CHUNK] for i in range(0, len(pids), CHUNK)]
    pool = _pool(decide, len(chunks), workers)
    pending: deque[tuple[list[int], dict[int, dict[str, Any]], Any]] = deque()

    def write_oldest() -> None:
        chunk, facts, job = pending.popleft()
        decided = job.result() if pool is not None else job
        with transaction.atomic():
            _write_chunk(organization.pk, month, run, facts, decided, existing, counts, actor)
        if progress is not None:
            progress(len(chunk))

    try:
        for chunk in chunks:
            activity = evidence.apcm_activity(organization.pk, chunk, month) if evidence is not None else None
            facts = selectors.month_facts(ctx, chunk, apcm_activity=activity)
            known = {pid: existing[pid][1] for pid in facts if pid in existing}
            if pool is not None:  # decided in a worker while this process reads the next chunk and writes
                pending.append((chunk, facts, pool.submit(_decide_in_worker, facts, known)))
                if len(pending) > 2:
                    write_oldest()
            else:
                pending.append((chunk, facts, decide(facts, known)))
                write_oldest()
        while pending:
            write_oldest()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    summary = selectors.month_summary(organization_id=organization.pk, month=month)
    counts.lines_by_code = summary.by_code
    counts.billable_lines, counts.denied, counts.flagged = summary.billable_lines, summary.denied, summary.flagged
    counts.total_allowed, counts.patient_share = str(summary.allowed), str(summary.patient_share)
    with transaction.atomic():
        run.finished_at = clock.now()
        run.counts = counts.as_json()
        run.save(update_fields=["finished_at", "counts", "updated_at"])
        record_event(actor=actor, action="billing.month_run", object_type="BillingRun", object_id=str(run.pk),
                     organization_id=organization.pk,
                     detail={"month": month, "patients": counts.patients, "decided": counts.decided,
                             "corrections": counts.corrections, "ruleset": version})
    return counts


@dataclass(frozen=True)
class Decided:
    """A patient-month evaluated: the facts hash, and (when it changed) the decision JSON and the priced plan."""

    facts_hash: str
    decision: dict[str, Any] | None = None
    plan: list[PlannedLine] | None = None


class _Decider:
    """The pure part of the run (hash, rules, pricing) for a chunk of facts; runs here or in a worker process."""

    def __init__(self, evaluate: Evaluate, ruleset: Any, version: str, table: dict[str, fees.Fee], pos: str,
                 qp_ids: set[int]) -> None:
        self.evaluate, self.ruleset, self.version = evaluate, ruleset, version
        self.table, self.pos, self.qp_ids = table, pos, qp_ids

    def __call__(self, facts: dict[int, dict[str, Any]], known: dict[int, str]) -> dict[int, Decided]:
        out: dict[int, Decided] = {}
        for pid, f in facts.items():
            h = facts_hash(f, self.version)
            if known.get(pid) == h:
                out[pid] = Decided(h)
                continue
            decision = self.evaluate(scenario_from_facts(f), self.ruleset)
            plan = plan_lines(decision, f, table=self.table, pos=self.pos, qp_ids=self.qp_ids)
            out[pid] = Decided(h, _decision_json(decision, f), plan)
        return out


_WORKER_DECIDER: _Decider | None = None
MIN_PARALLEL_CHUNKS = 2


def _set_worker_decider(decide: _Decider) -> None:
    global _WORKER_DECIDER  # noqa: PLW0603 - per worker process, set once by the pool initializer
    _WORKER_DECIDER = decide


def _decide_in_worker(facts: dict[int, dict[str, Any]], known: dict[int, str]) -> dict[int, Decided]:
    assert _WORKER_DECIDER is not None
    return _WORKER_DECIDER(facts, known)


def _pool(decide: _Decider, chunks: int, workers: int | None) -> ProcessPoolExecutor | None:
    """Forked workers that hold the engine, the ruleset and the fee table (inherited, nothing pickled but the
    facts and the results); None for a small month, one CPU, or a platform without fork. By default only the
    main thread forks (the CLI, the bench, the scheduler), never a request thread of a threaded web server."""
    n = min(2, os.cpu_count() or 1) if workers is None else workers
    if n < 1 or chunks < MIN_PARALLEL_CHUNKS or (workers is None and n < 2):
        return None
    if workers is None and threading.current_thread() is not threading.main_thread():
        return None
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    gc.freeze()  # the inherited heap stays out of the children's collections: no copy-on-write of every page
    try:
        pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_set_worker_decider, initargs=(decide,))
        pool.submit(int).result()  # the workers start now, with the frozen heap
    finally:
        gc.unfreeze()
    return pool


def _write_chunk(org: int, month: str, run: BillingRun, facts: dict[int, dict[str, Any]],
                 decided: dict[int, Decided], existing: dict[int, tuple[int, str, int]], counts: RunCounts,
                 actor: Actor) -> None:
    now = clock.now()
    version = run.ruleset
    new_rows: list[tuple[Any, ...]] = []
    new_plans: dict[int, tuple[int, list[PlannedLine]]] = {}
    updates: list[tuple[Any, ...]] = []
    changed: list[tuple[int, int, int, dict[str, Any], dict[str, Any], list[PlannedLine]]] = []
    events: list[EventSpec] = []
    for pid, f in facts.items():
        d = decided[pid]
        h = d.facts_hash
        events.append(EventSpec("billing.facts_read", pid, "PatientMonth", f"{pid}:{month}"))
        old = existing.get(pid)
        if d.decision is None or d.plan is None:
            counts.unchanged += 1
            continue
        plan, dj = d.plan, d.decision
        counts.decided += 1
        if old is None:
            new_rows.append((org, pid, month, version, 1, h, f, dj, run.pk, now, now, now))
            new_plans[pid] = (1, plan)
        else:
            did, _h, rev = old
            changed.append((pid, did, rev, {}, f, plan))
            updates.append((version, h, f, dj, run.pk, now, now, did))
    _insert(PatientMonthDecision, ["organization_id", "patient_id", "month", "ruleset", "revision",
                                       "facts_hash", "facts", "decision", "run_id", "computed_at", "created_at",
                                       "updated_at"], new_rows)
    line_rows: list[tuple[Any, ...]] = []
    if new_plans:
        # the chunk is a sorted patient-id range: read it by range (index) rather than binding 5,000 ids
        ids = {pid: pk for pid, pk in PatientMonthDecision.objects.filter(
            organization_id=org, month=month, patient_id__gte=min(new_plans), patient_id__lte=max(new_plans),
        ).values_list("patient_id", "pk") if pid in new_plans}
        for pid, (rev, plan) in new_plans.items():
            line_rows += _line_rows(org, pid, month, ids[pid], rev, plan, now)
    if changed:
        before = dict(PatientMonthDecision.objects.filter(pk__in=[c[1] for c in changed]).values_list("pk", "facts"))
        changed = [(pid, did, rev, before.get(did) or {}, f, plan) for pid, did, rev, _o, f, plan in changed]
        current: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in ClaimLine.objects.filter(organization_id=org, month=month, status__in=list(ACTIVE_STATUSES),
                                            patient_id__in=[c[0] for c in changed]).values(
            "pk", "patient_id", "code", "units", "practitioner_id", "service_date", "status", "diagnoses"):
            current[row["patient_id"]].append(dict(row))
        voids: list[tuple[Any, ...]] = []
        corrections: list[tuple[Any, ...]] = []
        bumped: list[tuple[Any, ...]] = []
        for pid, did, rev, old_facts, new_facts, plan in changed:
            cur = current.get(pid, [])
            old_sig = Counter((r["code"], r["units"], r["practitioner_id"], r["service_date"], r["status"],
                               tuple(r["diagnoses"] or ())) for r in cur)
            if old_sig == Counter(p.signature() for p in plan):
                continue  # facts changed, answer did not: the decision row is refreshed, lines stay
            reason_facts = ", ".join(_changed_facts(old_facts or {}, new_facts)) or "ruleset"
            reason = f"facts changed ({reason_facts}): {_describe(cur)} -> {_describe(plan)}"
            for r in cur:
                voids.append((LineStatus.VOID, now, f"superseded by revision {rev + 1}"[:300], now, r["pk"]))
            line_rows += _line_rows(org, pid, month, did, rev + 1, plan, now)
            corrections.append((org, pid, month, run.pk, rev, rev + 1, reason,
                                [{"id": r["pk"], "code": r["code"], "units": r["units"], "status": r["status"]}
                                 for r in cur],
                                [{"code": p.code, "units": p.units, "status": p.status} for p in plan], now, now, now))
            bumped.append((rev + 1, did))
            events.append(EventSpec("billing.corrected", pid, "PatientMonth", f"{pid}:{month}",
                                    detail={"from": rev, "to": rev + 1, "reason": reason[:500]}))
        update_rows(ClaimLine, ["status", "voided_at", "void_reason", "updated_at"], voids)
        _insert(ClaimCorrection, ["organization_id", "patient_id", "month", "run_id", "from_revision",
                                      "to_revision", "reason", "voided", "added", "at", "created_at", "updated_at"],
                    corrections)
        update_rows(PatientMonthDecision, ["revision"], bumped)
        counts.corrections += len(corrections)
    update_rows(PatientMonthDecision, ["ruleset", "facts_hash", "facts", "decision", "run", "computed_at",
                                       "updated_at"], updates)
    _insert(ClaimLine, _LINE_COLUMNS, line_rows)
    record_events(actor=actor, events=events, organization_id=org)


def _line_rows(org: int, pid: int, month: str, did: int, rev: int, plan: Sequence[PlannedLine],
               now: dt.datetime) -> list[tuple[Any, ...]]:
    return [
        (org, pid, month, did, rev, p.code, p.units, p.practitioner_id, p.service_date, p.place_of_service,
         p.diagnoses, p.rule_ids, p.reason, p.status, p.allowed, p.share, p.allowed, None, "", now, now)
        for p in plan
    ]


# ---------- fee schedules ----------


@dataclass(frozen=True)
class FeeLoad:
    year: int
    locality: str
    codes: int
    source: str


def load_fee_schedule(*, rvu_text: str, gpci_text: str, locality: str, year: int, actor: Actor,
                      source: str = "") -> FeeLoad:
    """Replace the (year, locality) fee rows with amounts computed from a PPRRVU file and its GPCI file."""
    if actor.role != "system" and not access.has_permission(actor.role, "billing.run"):
        raise PermissionDenied(f"role {actor.role!r} may not load fee schedules")
    rvus = fees.parse_rvu_csv(rvu_text)
    gpci = fees.find_locality(fees.parse_gpci_csv(gpci_text), locality)
    label = source or f"PPRRVU + GPCI {gpci.locality} {gpci.name}".strip()
    rows = fees.fees_from_files(rvus, gpci, year, label)
    now = clock.now()
    with transaction.atomic():
        FeeScheduleEntry.objects.filter(year=year, locality=locality).delete()
        insert_rows(FeeScheduleEntry, ["year", "locality", "code", "modifier", "nf_amount", "f_amount",
                                       "nf_amount_qp", "f_amount_qp", "source", "created_at", "updated_at"],
                    [(year, locality, r.code, "", r.nf, r.f, r.nf_qp, r.f_qp, label[:200], now, now) for r in rows])
        record_event(actor=actor, action="billing.fees_loaded", object_type="FeeSchedule",
                     object_id=f"{year}:{locality}", detail={"codes": len(rows), "source": label[:200]})
    return FeeLoad(year, locality, len(rows), label)
