"""The ``careloop`` command."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import orjson


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.config.settings")
    import django

    django.setup()


def _print_json(obj: Any) -> None:
    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode() + "\n")


def _progress_bar(total: int, desc: str, unit: str = "B") -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=True,
        disable=not sys.stderr.isatty(),
        file=sys.stderr,
        dynamic_ncols=True,
    )


def cmd_migrate(args: argparse.Namespace) -> int:
    _django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1 if args.verbose else 0)
    print("database ready")
    return 0


def _organization(slug: str | None) -> Any:
    from careloop.clinics.models import Organization

    if slug:
        org = Organization.objects.filter(slug=slug).first()
        if org is None:
            raise SystemExit(f"careloop: no organization with slug {slug!r}")
        return org
    orgs = list(Organization.objects.all()[:2])
    if not orgs:
        raise SystemExit(
            "careloop: no organization yet; create one with `careloop org create` (or run `careloop demo`)"
        )
    if len(orgs) > 1:
        raise SystemExit("careloop: several organizations exist; name one with --org SLUG")
    return orgs[0]


def cmd_org_create(args: argparse.Namespace) -> int:
    _django()
    from careloop.clinics.models import Organization

    org, created = Organization.objects.get_or_create(
        slug=args.slug,
        defaults={"name": args.name, "npi": args.npi or "", "tin": args.tin or "", "practice_type": args.practice_type},
    )
    print(f"organization {org.slug} {'created' if created else 'exists'} (id {org.pk})")
    return 0


def cmd_import_fhir(args: argparse.Namespace) -> int:
    _django()
    from careloop.core.actor import Actor
    from careloop.interop.fhir.importer import FhirImporter, total_bytes

    org = _organization(args.org)
    paths = [Path(p) for p in args.paths]
    try:
        size = total_bytes(paths)
    except FileNotFoundError as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    bar = _progress_bar(size, "importing")
    importer = FhirImporter(
        organization_id=org.pk,
        source_system=args.source,
        actor=Actor.system(org.pk, "careloop import"),
        progress=bar.update,
    )
    summary = importer.import_paths(paths)
    bar.close()
    if args.json:
        _print_json(summary.as_json())
    else:
        for rtype, c in summary.as_json().items():
            print(
                f"{rtype:24} created {c['created']:>8}  updated {c['updated']:>6}  unchanged {c['unchanged']:>8}  "
                f"rejected {c['rejected']:>5}"
            )
        for r in summary.rejections[:20]:
            print(f"rejected {r['source']} {r['location']}: {r['reason']}", file=sys.stderr)
        if len(summary.rejections) > 20:
            print(f"... and {len(summary.rejections) - 20} more in quarantine", file=sys.stderr)
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from careloop.synth.generator import DEFAULT_AS_OF, generate

    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else DEFAULT_AS_OF
    bar = _progress_bar(args.patients, "generating", unit="patients")
    result = generate(patients=args.patients, seed=args.seed, out_dir=Path(args.out), as_of=as_of, progress=bar.update)
    bar.close()
    summary = {
        "patients": result.patients,
        "resources": result.resources,
        "adt_messages": result.adt_messages,
        "out": str(result.out_dir),
    }
    if args.json:
        _print_json(summary)
    else:
        print(
            f"wrote {result.patients} patients, {sum(result.resources.values())} resources and "
            f"{result.adt_messages} ADT messages to {result.out_dir}"
        )
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    _django()
    from careloop.audit.selectors import verify_all_chains

    checked, problems = verify_all_chains()
    if args.json:
        _print_json({"rows_checked": checked, "ok": not problems, "problems": [p.__dict__ for p in problems]})
    else:
        for p in problems:
            print(f"chain {p.chain} seq {p.seq}: {p.kind}: {p.message}")
        print(f"{checked} audit rows checked: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 0 if not problems else 1


def cmd_audit_export(args: argparse.Namespace) -> int:
    _django()
    from careloop.audit.export import audit_bundle_json
    from careloop.audit.selectors import patient_audit_trail
    from careloop.registry.models import Patient

    patient = Patient.objects.filter(pk=args.patient).first()
    if patient is None:
        print(f"careloop: no patient {args.patient}", file=sys.stderr)
        return 2
    data = audit_bundle_json(list(patient_audit_trail(organization_id=patient.organization_id, patient_id=patient.pk)))
    if args.out:
        Path(args.out).write_bytes(data)
    else:
        sys.stdout.write(data.decode() + "\n")
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    _django()
    from careloop.accounts.services import create_user

    password = os.environ.get("CARELOOP_NEW_PASSWORD") or args.password
    if not password:
        import getpass

        password = getpass.getpass("password: ")
    user = create_user(organization=_organization(args.org), username=args.username, password=password, role=args.role)
    print(f"user {user.username} ({user.role}) created")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    _django()
    from careloop.accounts.models import User
    from careloop.accounts.services import issue_api_token

    user = User.objects.filter(username=args.username).first()
    if user is None:
        print(f"careloop: no user {args.username!r}", file=sys.stderr)
        return 2
    print(issue_api_token(user=user, name=args.name))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from careloop.demo import run_demo

    return run_demo(patients=args.patients, seed=args.seed, host=args.host, port=args.port, serve=not args.no_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    _django()
    from careloop.serve import serve

    return serve(host=args.host, port=args.port)


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


def cmd_scheduler(args: argparse.Namespace) -> int:
    _django()
    from careloop.billing.tasks import last_month_job, monthly_period
    from careloop.quality.tasks import refresh_job
    from careloop.worklist.scheduler import JOBS, Job, daily, loop

    def report(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if row["status"] != "skipped" or args.verbose:
                print(orjson.dumps(row).decode(), flush=True)

    # Apps above the worklist add their jobs here: the daily quality refresh (results and care gaps), last month's
    # billing run once per month from the 1st.
    jobs = (*JOBS, Job("quality.refresh", daily, refresh_job), Job("billing.last_month", monthly_period, last_month_job))
    loop(once=args.once, poll_seconds=args.poll, on_report=report, jobs=jobs)
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


def cmd_bench(args: argparse.Namespace) -> int:
    from careloop.bench import run_bench

    return run_bench(args)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="careloop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("migrate", help="create or upgrade the database named by DATABASE_URL")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(fn=cmd_migrate)

    p = sub.add_parser("serve", help="serve the web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("demo", help="set up a synthetic clinic on SQLite and serve it")
    p.add_argument("--patients", type=int, default=2000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-serve", action="store_true", help="set everything up, then exit")
    p.set_defaults(fn=cmd_demo)

    org = sub.add_parser("org", help="organizations").add_subparsers(dest="org_command", required=True)
    p = org.add_parser("create")
    p.add_argument("--name", required=True)
    p.add_argument("--slug", required=True)
    p.add_argument("--npi")
    p.add_argument("--tin")
    p.add_argument("--practice-type", default="physician", choices=["physician", "rhc", "fqhc"])
    p.set_defaults(fn=cmd_org_create)

    user = sub.add_parser("user", help="users").add_subparsers(dest="user_command", required=True)
    p = user.add_parser("create", help="create a user (password from CARELOOP_NEW_PASSWORD or a prompt)")
    p.add_argument("--org")
    p.add_argument("--username", required=True)
    p.add_argument("--role", required=True)
    p.add_argument("--password", help=argparse.SUPPRESS)
    p.set_defaults(fn=cmd_user_create)

    token = sub.add_parser("token", help="API bearer tokens").add_subparsers(dest="token_command", required=True)
    p = token.add_parser("create", help="issue a bearer token for a user (printed once; only its hash is kept)")
    p.add_argument("--username", required=True)
    p.add_argument("--name", default="integration")
    p.set_defaults(fn=cmd_token_create)

    imp = sub.add_parser("import", help="import data").add_subparsers(dest="import_command", required=True)
    p = imp.add_parser("fhir", help="import FHIR R4 Bundles, NDJSON files or folders of them")
    p.add_argument("paths", nargs="+")
    p.add_argument("--org", help="organization slug (default: the only one)")
    p.add_argument("--source", default="fhir-import", help="source system name that keys idempotent re-imports")
    p.add_argument("--json", action="store_true", help="print counts per resource type as JSON")
    p.set_defaults(fn=cmd_import_fhir)

    p = sub.add_parser("synth", help="write a synthetic Medicare primary-care clinic (FHIR NDJSON + HL7 v2 ADT)")
    p.add_argument("--patients", type=int, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True)
    p.add_argument("--as-of", help="date the clinic's data runs up to (default fixed, for reproducibility)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_synth)

    audit = sub.add_parser("audit", help="audit trail").add_subparsers(dest="audit_command", required=True)
    p = audit.add_parser("verify", help="check the hash chains; exit 1 if any row was modified, inserted or deleted")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_audit_verify)
    p = audit.add_parser("export", help="a patient's audit trail as FHIR AuditEvent resources")
    p.add_argument("--patient", type=int, required=True)
    p.add_argument("--out")
    p.set_defaults(fn=cmd_audit_export)

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

    from careloop.compliance.commands import register as register_compliance

    register_compliance(sub)

    from careloop.insights.commands import register as register_insights

    register_insights(sub)

    from careloop.billing_commands import register as register_billing

    billing_sub = register_billing(sub)  # `careloop billing run|export-837|export-csv|fees`
    try:  # `careloop billing evaluate` (the rules engine), when it registers itself
        import importlib

        evaluate_cli = importlib.import_module("careloop.billing.rules.cli")
    except ImportError:
        pass
    else:
        evaluate_cli.register(billing_sub)

    p = sub.add_parser("scheduler", help="run periodic jobs (escalations every 5 min; risk, recurring work, care "
                                           "plans and quality daily; billing monthly)")
    p.add_argument("--once", action="store_true", help="run what is due now, then exit")
    p.add_argument("--poll", type=float, default=30.0, help="seconds between passes")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(fn=cmd_scheduler)

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

    bench = sub.add_parser("bench", help="benchmarks (see bench/RESULTS.md)")
    bsub = bench.add_subparsers(dest="bench_command", required=True)
    p = bsub.add_parser("import", help="FHIR import throughput vs an orjson-parse ceiling")
    p.add_argument("--patients", type=int, default=10000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.add_argument("--workdir", help="where to write the generated files and database (default: a temp folder)")
    p.set_defaults(fn=cmd_bench)
    p = bsub.add_parser("quality", help="measure evaluation throughput vs an orjson-parse ceiling")
    p.add_argument("--patients", type=int, default=10000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--measures", help="comma-separated measure ids (default: every eCQM)")
    p.add_argument("--period", default="2026-01-01:2026-12-31")
    p.add_argument("--valuesets", help="folder of ValueSet JSON files (default: a stand-in built from the data)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--workdir", help="where to write the generated files (default: a temp folder)")
    p.add_argument("--workers", type=int, help="evaluation processes (default 1; at most the CPU count)")
    p.set_defaults(fn=cmd_bench)
    p = bsub.add_parser("adt", help="ADT over MLLP end to end vs a bare frame-and-ACK ceiling; --kill-test")
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--senders", type=int, default=8)
    p.add_argument("--database-url", help="PostgreSQL URL to use instead of a throwaway SQLite file")
    p.add_argument("--kill-test", action="store_true", help="SIGKILL and restart the listener while sending")
    p.add_argument("--mix", choices=["admit-discharge", "admit-transfer"], default="admit-discharge",
                   help="A01+A03 per stay (discharges start transition episodes) or A01+A02 (no discharge)")
    p.add_argument("--kills", type=int, default=4)
    p.add_argument("--transitions-worker", choices=["process", "thread"], default="process",
                   help="the listener's transitions worker (episodes and tasks after the ACK)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--workdir", help="where to put the database (default: a temp folder)")
    p.set_defaults(fn=cmd_bench)
    p = bsub.add_parser("worklist", help="GET /api/worklist/queue latency vs an authenticated-ping ceiling")
    p.add_argument("--patients", type=int, default=100000)
    p.add_argument("--tasks", type=int, default=1000000)
    p.add_argument("--coordinators", type=int, default=20)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=4000, help="requests per endpoint (bounded also by --seconds)")
    p.add_argument("--seconds", type=float, default=120.0, help="time limit per endpoint")
    p.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--interface", choices=["asgi", "wsgi"], default="wsgi",
                   help="wsgi: what `careloop serve` runs (uvicorn's thread pool, persistent connections); asgi")
    p.add_argument("--database-url", help="PostgreSQL URL to use instead of a throwaway SQLite file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--workdir", help="where to put the database (default: a temp folder)")
    p.add_argument("--reuse", action="store_true",
                   help="with --workdir: reuse the database built by an earlier run with the same sizes")
    p.set_defaults(fn=cmd_bench)
    p = bsub.add_parser("billing", help="monthly billing run + 837P export vs reading the time entries once")
    p.add_argument("--patients", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-validate", action="store_true", help="skip the pyx12 validation of the 837P")
    p.add_argument("--database-url", help="PostgreSQL URL to use instead of a throwaway SQLite file")
    p.add_argument("--json", action="store_true")
    p.add_argument("--workdir", help="where to write the database (default: a temp folder)")
    p.set_defaults(fn=cmd_bench)
    p = bsub.add_parser("risk", help="full risk refresh on synthetic patients vs a one-group-by ceiling")
    p.add_argument("--patients", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.add_argument("--workdir", help="where to write the database (default: a temp folder)")
    p.set_defaults(fn=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.fn(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
