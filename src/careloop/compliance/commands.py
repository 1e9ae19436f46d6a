"""``careloop compliance ...``: evidence packets, month coverage, practice capabilities and clinician pathways.

Registered by ``careloop.cli``; imports Django lazily (the parser is built before ``django.setup()``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import orjson


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.config.settings")
    import django

    django.setup()


def _org(slug: str | None) -> Any:
    from careloop.clinics.models import Organization

    qs = Organization.objects.order_by("pk")
    org = qs.filter(slug=slug).first() if slug else None
    if slug and org is None:
        raise SystemExit(f"careloop: no organization with slug {slug!r}")
    if org is None:
        orgs = list(qs[:2])
        if len(orgs) != 1:
            raise SystemExit("careloop: pass --org SLUG" if orgs else "careloop: no organization yet")
        org = orgs[0]
    return org


def _actor(org: Any, what: str) -> Any:
    from careloop.core.actor import Actor

    return Actor.system(org.pk, f"careloop compliance {what}")


def _json(obj: Any) -> None:
    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode() + "\n")


def cmd_packet(args: argparse.Namespace) -> int:
    _setup()
    from careloop.compliance import services
    from careloop.core.errors import CareloopError

    org = _org(args.org)
    out = Path(args.out)
    fmt = args.format or ("fhir" if out.suffix.lower() == ".json" else "pdf")
    try:
        p = services.evidence_packet(actor=_actor(org, "packet"), patient_id=args.patient, month=args.month, fmt=fmt)
    except CareloopError as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    out.write_bytes(p.content)
    summary = {"patient": p.patient_id, "month": p.month, "format": fmt, "out": str(out), "bytes": len(p.content)}
    if args.json:
        _json(summary)
    else:
        print(f"wrote {out} ({fmt}, {len(p.content)} bytes)")
    return 0


def cmd_coverage(args: argparse.Namespace) -> int:
    _setup()
    from careloop.compliance import rules, selectors
    from careloop.core import clock

    org = _org(args.org)
    try:
        first, last = rules.parse_month(args.month)
    except ValueError as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    as_of = min(last, clock.today(org.time_zone))
    summary = selectors.coverage_summary(organization_id=org.pk, month=args.month, as_of=as_of,
                                         gap_limit=args.gaps)
    from careloop.audit.services import record_event

    record_event(actor=_actor(org, "coverage"), action="compliance.coverage_viewed", object_type="APCMCoverage",
                 object_id=args.month, detail={"patients": summary.patients})
    if args.json:
        _json({"organization": org.slug, **summary.as_json()})
        return 0
    print(f"{org.slug} {args.month}: {summary.patients} APCM patients, {summary.fully_evidenced} fully evidenced")
    for e in summary.elements:
        share = "-" if e.share is None else f"{e.share:.0%}"
        print(f"  {e.label:<60} {share:>5}  (missing {e.missing}, pending {e.pending}, n/a {e.not_applicable})")
    return 0


def cmd_capabilities(args: argparse.Namespace) -> int:
    _setup()
    from careloop.compliance.api import capability_board
    from careloop.core import clock

    org = _org(args.org)
    month = args.month or clock.month_of(clock.today(org.time_zone))
    board = capability_board(org.pk, month)
    if args.json:
        _json({"organization": org.slug, "month": month, "capabilities": board})
        return 0
    for c in board:
        mark = "yes" if c["in_force"] else "NO "
        print(f"{mark} {c['key']:<28} {len(c['records'])} records; platform: {c['suggested_evidence'] or '-'}")
    return 0 if all(c["in_force"] for c in board) else 1


def cmd_record(args: argparse.Namespace) -> int:
    _setup()
    from careloop.compliance import services
    from careloop.core.errors import CareloopError

    org = _org(args.org)
    try:
        row = services.record_capability(
            actor=_actor(org, "record"), key=args.key, effective_from=dt.date.fromisoformat(args.effective_from),
            effective_to=dt.date.fromisoformat(args.effective_to) if args.effective_to else None,
            evidence=args.evidence, evidence_link=args.link or "")
    except (CareloopError, ValueError) as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    print(f"recorded {row.key} from {row.effective_from} (id {row.pk})")
    return 0


def cmd_pathway(args: argparse.Namespace) -> int:
    _setup()
    from careloop.clinics.models import Practitioner
    from careloop.compliance import services
    from careloop.core.errors import CareloopError

    org = _org(args.org)
    pr = Practitioner.objects.filter(organization=org, npi=args.npi).first()
    if pr is None:
        print(f"careloop: no practitioner with NPI {args.npi}", file=sys.stderr)
        return 2
    try:
        row = services.record_pathway(actor=_actor(org, "pathway"), practitioner_id=pr.pk,
                                      performance_year=args.year, pathway=args.pathway, evidence=args.evidence or "",
                                      evidence_link=args.link or "")
    except CareloopError as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    print(f"{pr} {row.performance_year}: {row.pathway}")
    return 0


def register(sub: Any) -> None:
    comp = sub.add_parser("compliance", help="APCM compliance: evidence packets, coverage, capabilities")
    csub = comp.add_subparsers(dest="compliance_command", required=True)
    p = csub.add_parser("packet", help="evidence packet for a patient-month (PDF, or FHIR Bundle JSON)")
    p.add_argument("--patient", type=int, required=True, help="careloop patient id")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--out", required=True, help="FILE.pdf, or FILE.json for a FHIR Bundle")
    p.add_argument("--format", choices=["pdf", "fhir"], help="default: from the --out suffix")
    p.add_argument("--org", help="organization slug")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_packet)
    p = csub.add_parser("coverage", help="share of APCM patients with each element group evidenced for a month")
    p.add_argument("--month", required=True)
    p.add_argument("--org")
    p.add_argument("--gaps", type=int, default=500, help="list at most this many gaps (JSON)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_coverage)
    p = csub.add_parser("capabilities", help="practice capabilities in force for a month (exit 1 if any is missing)")
    p.add_argument("--month")
    p.add_argument("--org")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_capabilities)
    p = csub.add_parser("record", help="record a practice capability with evidence and effective dates")
    p.add_argument("--key", required=True)
    p.add_argument("--from", dest="effective_from", required=True, help="YYYY-MM-DD")
    p.add_argument("--to", dest="effective_to", help="YYYY-MM-DD (default: open)")
    p.add_argument("--evidence", required=True)
    p.add_argument("--link", help="URL or file reference")
    p.add_argument("--org")
    p.set_defaults(fn=cmd_record)
    p = csub.add_parser("pathway", help="a billing clinician's performance-measurement pathway for a year")
    p.add_argument("--npi", required=True)
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--pathway", required=True,
                   choices=["MVP_M0005", "MSSP", "REACH", "OTHER_APM", "NOT_APPLICABLE_RHC_FQHC"])
    p.add_argument("--evidence")
    p.add_argument("--link")
    p.add_argument("--org")
    p.set_defaults(fn=cmd_pathway)
