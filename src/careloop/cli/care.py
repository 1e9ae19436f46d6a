"""Clinical workflow commands: hl7, transitions, risk, programs, worklist, quality, valuesets."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

import orjson

from careloop.cli._common import _django, _organization, _print_json, _progress_bar


def cmd_hl7_ingest(args: argparse.Namespace) -> int:
    _django()
    from careloop.interop.hl7v2.commands import ingest

    org = _organization(args.org)
    return ingest(organization_id=org.pk, time_zone=org.time_zone, paths=args.paths, as_json=args.json)



def cmd_hl7_listen(args: argparse.Namespace) -> int:
    _django()
    from careloop.interop.hl7v2.commands import listen

    org = _organization(args.org)
    return listen(organization_id=org.pk, time_zone=org.time_zone, host=args.host, port=args.port,
                  tls_cert=args.tls_cert, tls_key=args.tls_key, grace=args.grace,
                  transitions_worker=args.transitions_worker)



def cmd_hl7_review(args: argparse.Namespace) -> int:
    _django()
    from careloop.interop.hl7v2.commands import review

    org = _organization(args.org)
    return review(organization_id=org.pk, resolve=args.resolve, patient=args.patient, new=args.new, as_json=args.json)



def cmd_hl7_send(args: argparse.Namespace) -> int:
    from careloop.interop.hl7v2.commands import send

    return send(paths=args.paths, host=args.host, port=args.port, tls=args.tls or bool(args.tls_ca),
                tls_ca=args.tls_ca, tls_insecure=args.tls_insecure, as_json=args.json, timeout=args.timeout)



def cmd_transitions_scan(args: argparse.Namespace) -> int:
    _django()
    from careloop.transitions.tasks import scan_organizations

    since = dt.date.fromisoformat(args.since) if args.since else None
    _print_json(scan_organizations(org_slug=args.org, since=since))
    return 0



def cmd_risk_refresh(args: argparse.Namespace) -> int:
    _django()
    from careloop.clinics.models import Organization
    from careloop.core.actor import Actor
    from careloop.risk.services import refresh_risk

    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    orgs = [_organization(args.org)] if args.org else list(Organization.objects.order_by("pk"))
    runs = []
    for org in orgs:
        run = refresh_risk(
            organization_id=org.pk, actor=Actor.system(org.pk, "careloop risk refresh"), as_of=as_of,
            incremental=args.incremental,
        )
        runs.append({"organization": org.slug, "run": run.pk, "kind": run.kind, "as_of": run.as_of.isoformat(),
                     "methodology": run.methodology_version, "patients_scored": run.patients_scored,
                     "tier_changes": run.tier_changes, "tiers": run.counts.get("tiers", {})})
    if args.json:
        _print_json(runs)
    else:
        for r in runs:
            print(f"{r['organization']}: {r['kind']} run {r['run']} as of {r['as_of']}: "
                  f"{r['patients_scored']} patients scored, {r['tier_changes']} tier changes, tiers {r['tiers']}")
    return 0



def cmd_risk_score(args: argparse.Namespace) -> int:
    from careloop.risk.profiles import ProfileError, score_files

    try:
        result = score_files([Path(p) for p in args.profiles], args.methodology)
    except (OSError, ProfileError, ValueError) as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    if args.json:
        _print_json(result)
    else:
        for pid, v in result["vectors"].items():
            hcc = "-" if v["risk_score"] is None else f"{v['risk_score']:.3f} [{', '.join(v['hccs'])}]"
            print(f"{pid}: Charlson {v['score_charlson']:g} (Quan {v['score_quan']:g}), HCC {hcc}, "
                  f"{v['chronic_condition_count']} chronic conditions; {v['explanation']}")
    return 0



def cmd_risk_methodology(args: argparse.Namespace) -> int:
    from careloop.risk.methodology import load_methodology, render_markdown

    try:
        method = load_methodology(args.version) if args.version else load_methodology()
    except ValueError as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    if args.format == "pdf":
        from careloop.risk.document import render_pdf

        data = render_pdf(method)
        if not args.out:
            print("careloop: --format pdf needs --out FILE", file=sys.stderr)
            return 2
        Path(args.out).write_bytes(data)
    elif args.out:
        Path(args.out).write_text(render_markdown(method))
    else:
        sys.stdout.write(render_markdown(method))
    return 0



def cmd_worklist_recurring(args: argparse.Namespace) -> int:
    _django()
    from careloop.core.actor import Actor
    from careloop.worklist.services import run_monthly_checkins

    org = _organization(args.org)
    try:
        result = run_monthly_checkins(organization_id=org.pk, month=args.month,
                                      actor=Actor.system(org.pk, "careloop worklist"))
    except ValueError as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    summary = {"organization": org.slug, "month": result.month, "candidates": result.candidates,
               "created": result.created, "existing": result.existing}
    if args.json:
        _print_json(summary)
    else:
        print(f"{org.slug} {result.month}: {result.created} check-in tasks created, {result.existing} already there")
    return 0



def cmd_worklist_escalate(args: argparse.Namespace) -> int:
    _django()
    from careloop.core import clock
    from careloop.worklist.tasks import escalate_job

    _print_json(escalate_job(clock.now()))
    return 0



def cmd_quality_eval_bundle(args: argparse.Namespace) -> int:
    from careloop.quality.bundles import bundle_files, evaluate_files
    from careloop.quality.engine.period import MeasurementPeriod
    from careloop.quality.engine.valuesets import MissingValueSets, ValueSetError
    from careloop.quality.measures import UnknownMeasure, get_measure

    try:
        measure = get_measure(args.measure)
        period = MeasurementPeriod.parse(args.period)
        valuesets = _valueset_index(args.valuesets, measure.valuesets)
        paths = [Path(p) for p in args.bundles]
        expanded = list(bundle_files(paths))
        folders = any(p.is_dir() for p in paths)
        failed = False
        for line in evaluate_files(measure, expanded, period, valuesets, with_strata=args.strata,
                                   skip_non_bundles=folders):
            failed = failed or "error" in line
            sys.stdout.write(orjson.dumps(line).decode() + "\n")
    except (UnknownMeasure, ValueError, FileNotFoundError, MissingValueSets, ValueSetError) as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    return 1 if failed else 0



def cmd_quality_run(args: argparse.Namespace) -> int:
    _django()
    from careloop.core.actor import Actor
    from careloop.quality.engine.period import MeasurementPeriod
    from careloop.quality.engine.valuesets import MissingValueSets
    from careloop.quality.measures import REGISTRY, UnknownMeasure, get_measure
    from careloop.quality.population import run_population
    from careloop.registry.models import Patient

    try:
        period = MeasurementPeriod.parse(args.period)
        measures = [get_measure(args.measure)] if args.measure else [m for m in REGISTRY.values() if m.official_cases]
        valuesets = _valueset_index(args.valuesets, tuple(u for m in measures for u in m.valuesets))
    except (UnknownMeasure, ValueError) as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    org = _organization(args.org)
    bar = _progress_bar(Patient.objects.filter(organization=org).count(), "evaluating", unit="patients")
    try:
        summary = run_population(organization_id=org.pk, period=period, measures=measures, valuesets=valuesets,
                                 actor=Actor.system(org.pk, "quality-run"), progress=bar.update)
    except MissingValueSets as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    finally:
        bar.close()
    _print_json(summary.as_json())
    return 0



def cmd_quality_measures(args: argparse.Namespace) -> int:
    from careloop.quality.measures import REGISTRY

    rows = [
        {"id": m.id, "title": m.title, "groups": [g.id for g in m.groups], "basis": m.basis,
         "valuesets": len(m.valuesets)}
        for m in REGISTRY.values()
    ]
    if args.json:
        _print_json(rows)
    else:
        for r in rows:
            print(f"{r['id']:12} {r['title']}")
    return 0



def cmd_valuesets_load(args: argparse.Namespace) -> int:
    _django()
    from careloop.quality.engine.valuesets import ValueSetError
    from careloop.quality.services import load_valuesets

    try:
        summary = load_valuesets(folder=Path(args.folder))
    except (FileNotFoundError, ValueSetError) as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    if args.json:
        _print_json(summary.as_json())
    else:
        c = summary.as_json()
        print(f"value sets: {c['created']} created, {c['updated']} updated, {c['unchanged']} unchanged "
              f"({c['codes']} codes written)")
    return 0



def cmd_valuesets_list(args: argparse.Namespace) -> int:
    _django()
    from careloop.quality.selectors import stored_valuesets

    rows = [{"url": v.url, "version": v.version, "name": v.name, "codes": v.code_count} for v in stored_valuesets()]
    if args.json:
        _print_json(rows)
    else:
        for r in rows:
            print(f"{r['url']}  {r['version']:10} {r['codes']:>7}  {r['name']}")
    return 0



def cmd_programs_eligibility(args: argparse.Namespace) -> int:
    _django()
    from careloop.clinics.models import Organization
    from careloop.core.actor import Actor
    from careloop.core.errors import CareloopError
    from careloop.programs.eligibility import compute_eligibility

    orgs = [_organization(args.org)] if args.org else list(Organization.objects.order_by("pk"))
    out = []
    try:
        for org in orgs:
            run = compute_eligibility(organization_id=org.pk, month=args.month,
                                      actor=Actor.system(org.pk, "careloop programs eligibility"))
            out.append({"organization": org.slug, **run.__dict__})
    except CareloopError as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    if args.json:
        _print_json(out)
    else:
        for r in out:
            print(f"{r['organization']}: {r['month']}: {r['patients']} patients, eligible {r['eligible']}, "
                  f"APCM levels {r['levels']}")
    return 0



def cmd_programs_qmb_import(args: argparse.Namespace) -> int:
    _django()
    from careloop.core.actor import Actor
    from careloop.core.errors import CareloopError
    from careloop.programs.services import import_qmb

    org = _organization(args.org)
    path = Path(args.file)
    try:
        r = import_qmb(organization_id=org.pk, text=path.read_text(encoding="utf-8-sig"), fmt=args.format,
                       actor=Actor.system(org.pk, "careloop programs qmb-import"), source_name=path.name)
    except (CareloopError, OSError) as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    summary = {"created": r.counts.created, "updated": r.counts.updated, "unchanged": r.counts.unchanged,
               "unmatched": r.unmatched, "rejected": r.rejected}
    if args.json:
        _print_json(summary)
    else:
        print(", ".join(f"{k} {v}" for k, v in summary.items()))
    return 1 if r.rejected or r.unmatched else 0



def cmd_programs_tasks(args: argparse.Namespace) -> int:
    _django()
    from careloop.core.actor import Actor
    from careloop.worklist.services.enrollment import create_enrollment_calls, create_initiating_visit_tasks

    org = _organization(args.org)
    actor = Actor.system(org.pk, "careloop programs tasks")
    calls = create_enrollment_calls(organization_id=org.pk, month=args.month, top=args.top, actor=actor)
    visits = create_initiating_visit_tasks(organization_id=org.pk, actor=actor)
    summary = {"enrollment_calls": len(calls.created_ids), "initiating_visits": len(visits.created_ids),
               "existing": calls.existing + visits.existing}
    if args.json:
        _print_json(summary)
    else:
        print(", ".join(f"{k} {v}" for k, v in summary.items()))
    return 0



def _valueset_index(folder: str | None, urls: tuple[str, ...]) -> Any:
    """Value sets from a folder of ValueSet JSON files, or (without one) from the database."""
    if folder:
        from careloop.quality.engine.valuesets import ValueSetIndex

        return ValueSetIndex.from_folder(Path(folder))
    _django()
    from django.db import DatabaseError

    from careloop.quality.selectors import valueset_index

    try:
        return valueset_index(urls)
    except DatabaseError as exc:
        raise SystemExit(f"careloop: cannot read value sets from the database ({exc}); run `careloop migrate` and "
                         "`careloop valuesets load DIR`, or pass --valuesets DIR") from None



def register(sub: Any) -> None:
    hl7 = sub.add_parser("hl7", help="HL7 v2 interface (MLLP)").add_subparsers(dest="hl7_command", required=True)
    p = hl7.add_parser("listen", help="MLLP listener: store, apply, then ACK (SIGTERM/SIGINT: graceful stop)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2575, help="0 picks a free port (printed when listening)")
    p.add_argument("--org", help="organization slug the messages belong to (default: the only one)")
    p.add_argument("--tls-cert", help="PEM certificate: serve MLLP over TLS")
    p.add_argument("--tls-key", help="PEM private key for --tls-cert")
    p.add_argument("--grace", type=float, default=30.0, help="seconds to finish in-flight messages on shutdown")
    p.add_argument("--transitions-worker", choices=["process", "thread"], default="process",
                   help="where discharges' episodes and tasks are made, after the ACK (default: a child process)")
    p.set_defaults(fn=cmd_hl7_listen)
    p = hl7.add_parser("send", help="send every message in the files over MLLP and print the ACKs")
    p.add_argument("paths", nargs="+")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2575)
    p.add_argument("--tls", action="store_true")
    p.add_argument("--tls-ca", help="CA (or self-signed) certificate to trust; implies --tls")
    p.add_argument("--tls-insecure", action="store_true", help="do not verify the server certificate")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--json", action="store_true", help="one JSON object per ACK")
    p.set_defaults(fn=cmd_hl7_send)
    p = hl7.add_parser("ingest", help="process HL7 v2 files without a socket (same handler as the listener)")
    p.add_argument("paths", nargs="+")
    p.add_argument("--org", help="organization slug (default: the only one)")
    p.add_argument("--json", action="store_true", help="one JSON object per message (JSON Lines)")
    p.set_defaults(fn=cmd_hl7_ingest)
    p = hl7.add_parser("review", help="list messages held for a patient-matching decision, or resolve one")
    p.add_argument("--org", help="organization slug (default: the only one)")
    p.add_argument("--resolve", type=int, metavar="REVIEW", help="the review to resolve")
    p.add_argument("--patient", type=int, help="with --resolve: the patient the message is about")
    p.add_argument("--new", action="store_true", help="with --resolve: a new patient")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_hl7_review)

    risk = sub.add_parser("risk", help="risk scores and tiers").add_subparsers(dest="risk_command", required=True)
    p = risk.add_parser("refresh", help="recompute risk for the population (set-based)")
    p.add_argument("--org", help="organization slug (default: every organization)")
    p.add_argument("--incremental", action="store_true", help="only patients whose data changed since the last run")
    p.add_argument("--as-of", help="date to score as of (default today)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_risk_refresh)
    p = risk.add_parser("score", help="score standalone profile files without a database (docs/risk-score-format.md)")
    p.add_argument("profiles", nargs="+")
    p.add_argument("--methodology", help="methodology version (default current)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_risk_score)
    p = risk.add_parser("methodology", help="write the tier methodology document")
    p.add_argument("--format", choices=["md", "pdf"], default="md")
    p.add_argument("--out", help="file to write (required for pdf)")
    p.add_argument("--version", help="methodology version (default current)")
    p.set_defaults(fn=cmd_risk_methodology)

    transitions = sub.add_parser("transitions", help="transitions of care").add_subparsers(
        dest="transitions_command", required=True)
    p = transitions.add_parser("scan", help="open episodes for discharged encounters without one (set-based)")
    p.add_argument("--org", help="organization slug (default: every organization)")
    p.add_argument("--since", help="only discharges on or after this date (YYYY-MM-DD)")
    p.set_defaults(fn=cmd_transitions_scan)

    programs = sub.add_parser("programs", help="program eligibility, QMB, enrollment tasks").add_subparsers(
        dest="programs_command", required=True)
    p = programs.add_parser("eligibility", help="recompute eligibility per patient for a month (set-based)")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--org", help="organization slug (default: all)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_programs_eligibility)
    p = programs.add_parser("qmb-import", help="import QMB periods from an X12 271 response or a CSV roster")
    p.add_argument("file")
    p.add_argument("--format", required=True, choices=["271", "csv"])
    p.add_argument("--org", required=True, help="organization slug")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_programs_qmb_import)
    p = programs.add_parser("tasks", help="enrollment calls for the enroll-first top N and initiating-visit tasks")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--org", required=True, help="organization slug")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_programs_tasks)

    wl = sub.add_parser("worklist", help="care tasks").add_subparsers(dest="worklist_command", required=True)
    p = wl.add_parser("run-recurring", help="create the month's recurring tasks (monthly check-ins)")
    p.add_argument("--month", required=True, help="YYYY-MM (clinic-local calendar month)")
    p.add_argument("--org", help="organization slug (default: the only one)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_worklist_recurring)
    p = wl.add_parser("escalate", help="escalate overdue tasks and flag deadlines at risk, now")
    p.set_defaults(fn=cmd_worklist_escalate)

    quality = sub.add_parser("quality", help="quality measures (eCQM logic)").add_subparsers(
        dest="quality_command", required=True
    )
    p = quality.add_parser("eval-bundle", help="evaluate a measure over patient Bundles; one JSON line per Bundle")
    p.add_argument("bundles", nargs="+", help="Bundle JSON files, or folders of them")
    p.add_argument("--measure", required=True, help="measure id, e.g. CMS122 (see `careloop quality measures`)")
    p.add_argument("--period", required=True, help="measurement period START:END, e.g. 2026-01-01:2026-12-31")
    p.add_argument("--valuesets", help="folder of FHIR ValueSet JSON files (default: value sets in the database)")
    p.add_argument("--strata", action="store_true", help="add stratifier counts to each group")
    p.set_defaults(fn=cmd_quality_eval_bundle)
    p = quality.add_parser("run", help="evaluate measures over the organization's registry; store results and gaps")
    p.add_argument("--period", required=True, help="measurement period START:END, e.g. 2026-01-01:2026-12-31")
    p.add_argument("--measure", help="one measure id (default: every measure)")
    p.add_argument("--org", help="organization slug (default: the only one)")
    p.add_argument("--valuesets", help="folder of FHIR ValueSet JSON files (default: value sets in the database)")
    p.set_defaults(fn=cmd_quality_run)
    p = quality.add_parser("measures", help="list the measures careloop evaluates")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_quality_measures)

    valuesets = sub.add_parser("valuesets", help="value sets (FHIR ValueSet expansions)").add_subparsers(
        dest="valuesets_command", required=True
    )
    p = valuesets.add_parser("load", help="store the ValueSets in a folder of JSON files (idempotent)")
    p.add_argument("folder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_valuesets_load)
    p = valuesets.add_parser("list", help="list stored value sets")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_valuesets_list)
