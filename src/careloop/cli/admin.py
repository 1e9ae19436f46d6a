"""Set-up and operations commands: migrate, serve, demo, org, user, token, import, synth, audit, scheduler, and
the compliance, insights and billing command groups."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import orjson

from careloop.cli._common import _django, _organization, _print_json, _progress_bar


def cmd_migrate(args: argparse.Namespace) -> int:
    _django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1 if args.verbose else 0)
    print("database ready")
    return 0



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

    return serve(host=args.host, port=args.port, workers=args.workers)



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
    jobs = (*JOBS, Job("quality.refresh", daily, refresh_job),
            Job("billing.last_month", monthly_period, last_month_job))
    loop(once=args.once, poll_seconds=args.poll, on_report=report, jobs=jobs)
    return 0



def register(sub: Any) -> None:
    p = sub.add_parser("migrate", help="create or upgrade the database named by DATABASE_URL")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(fn=cmd_migrate)

    p = sub.add_parser("serve", help="serve the web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1,
                   help="server processes (each with its own socket on the port; the kernel spreads connections)")
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
