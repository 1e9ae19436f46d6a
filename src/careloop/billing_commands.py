"""``careloop billing run|export-837|export-csv|fees``: registered by ``careloop.cli``.

Outside the billing app on purpose: the 837P export orchestrates billing selectors -> interop.x12 (a domain app
may not import interop), and the run passes the compliance app's evidence provider when it is installed (billing
may not import compliance). Imports Django lazily (the parser is built before ``django.setup()``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import orjson


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.config.settings")
    import django

    django.setup()


def _json(obj: Any) -> None:
    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode() + "\n")


def _orgs(slug: str | None) -> list[Any]:
    from careloop.clinics.models import Organization

    if slug:
        org = Organization.objects.filter(slug=slug).first()
        if org is None:
            raise SystemExit(f"careloop: no organization with slug {slug!r}")
        return [org]
    orgs = list(Organization.objects.order_by("pk"))
    if not orgs:
        raise SystemExit("careloop: no organization yet; create one with `careloop org create` (or `careloop demo`)")
    return orgs


def _one_org(slug: str | None) -> Any:
    orgs = _orgs(slug)
    if len(orgs) > 1:
        raise SystemExit("careloop: several organizations exist; name one with --org SLUG")
    return orgs[0]


def evidence_provider() -> Any:
    """The compliance app's EvidenceProvider (settings.BILLING_EVIDENCE_PROVIDER) when it is installed."""
    from careloop.billing.evidence import configured_provider

    return configured_provider()


def _progress(total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="patients", disable=not sys.stderr.isatty(), file=sys.stderr,
                dynamic_ncols=True)


def run_month(org: Any, month: str, actor: Any, *, show_progress: bool = True) -> Any:
    from careloop.billing import selectors, services

    total = len(selectors.patients_for_month(organization_id=org.pk, month=month))
    bar = _progress(total, f"billing {org.slug} {month}") if show_progress else None
    try:
        return services.run_billing_month(organization=org, month=month, actor=actor, evidence=evidence_provider(),
                                          progress=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()


def cmd_run(args: argparse.Namespace) -> int:
    _setup()
    from careloop.core.actor import Actor
    from careloop.core.errors import CareloopError

    out = []
    try:
        for org in _orgs(args.org):
            counts = run_month(org, args.month, Actor.system(org.pk, "careloop billing run"))
            out.append({"organization": org.slug, "practice_type": org.practice_type, **counts.as_json()})
    except CareloopError as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    if args.json:
        _json(out)
    else:
        for r in out:
            codes = ", ".join(f"{c} x{n}" for c, n in r["lines_by_code"].items()) or "none"
            print(f"{r['organization']} {r['month']} ({r['ruleset']}): {r['patients']} patients "
                  f"({r['decided']} decided, {r['unchanged']} unchanged); billable lines {r['billable_lines']} "
                  f"[{codes}]; denied {r['denied']}; held for review {r['flagged']}; corrections "
                  f"{r['corrections']}; total allowed ${r['total_allowed']} (patient share ${r['patient_share']})")
    return 0


def cmd_export_837(args: argparse.Namespace) -> int:
    _setup()
    from careloop.core.actor import Actor
    from careloop.core.errors import CareloopError
    from careloop.interop.x12.claims import build_837p

    org = _one_org(args.org)
    try:
        who = Actor.system(org.pk, "careloop billing export-837")
        result = build_837p(organization=org, month=args.month, actor=who)
    except CareloopError as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    summary = {"organization": org.slug, "out": args.out, **result.as_json()}
    if not result.validation.accepted:
        summary["out"] = None
        summary["ack"] = result.validation.ack
        if args.json:
            _json(summary)
        print("careloop: pyx12 rejected the 837P; nothing written. 999 errors:", file=sys.stderr)
        for err in result.validation.errors or (result.validation.exception,):
            print(f"  {err}", file=sys.stderr)
        return 1
    Path(args.out).write_text(result.text)
    if args.json:
        _json(summary)
    else:
        print(f"wrote {args.out}: {result.claims} claims, {result.lines} lines, pyx12 accepted (IK5*A, no IK3/IK4)"
              + (f"; {len(result.skipped)} claims left out (see --json)" if result.skipped else ""))
    return 0


def cmd_export_csv(args: argparse.Namespace) -> int:
    _setup()
    from careloop.billing.exports import month_csv
    from careloop.core.actor import Actor
    from careloop.core.errors import CareloopError

    org = _one_org(args.org)
    try:
        who = Actor.system(org.pk, "careloop billing export-csv")
        text = month_csv(organization_id=org.pk, month=args.month, actor=who)
    except CareloopError as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    Path(args.out).write_text(text)
    rows = max(0, text.count("\n") - 1)
    if args.json:
        _json({"organization": org.slug, "month": args.month, "out": args.out, "rows": rows})
    else:
        print(f"wrote {args.out}: {rows} lines")
    return 0


def cmd_fees_load(args: argparse.Namespace) -> int:
    _setup()
    from careloop.billing.services import load_fee_schedule
    from careloop.core.actor import Actor
    from careloop.core.errors import CareloopError

    try:
        res = load_fee_schedule(rvu_text=Path(args.rvu).read_text(encoding="utf-8-sig", errors="replace"),
                                gpci_text=Path(args.gpci).read_text(encoding="utf-8-sig", errors="replace"),
                                locality=args.locality, year=args.year,
                                actor=Actor.system(None, "careloop billing fees"),
                                source=f"{Path(args.rvu).name} + {Path(args.gpci).name} locality {args.locality}")
    except (CareloopError, OSError) as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    if args.json:
        _json(res.__dict__)
    else:
        print(f"loaded CY{res.year} locality {res.locality}: {res.codes} codes ({res.source})")
    return 0


def cmd_fees_show(args: argparse.Namespace) -> int:
    _setup()
    from careloop.billing import selectors

    table = selectors.fee_table(year=args.year, locality=args.locality)
    codes = args.codes or sorted(table)
    out = []
    for code in codes:
        fee = table.get(code)
        out.append({"code": code, "nf": str(fee.nf) if fee and fee.nf is not None else None,
                    "nf_qp": str(fee.nf_qp) if fee and fee.nf_qp is not None else None,
                    "f": str(fee.f) if fee and fee.f is not None else None,
                    "f_qp": str(fee.f_qp) if fee and fee.f_qp is not None else None,
                    "source": fee.source if fee else "not in the table"})
    if args.json:
        _json(out)
    else:
        for r in out:
            print(f"{r['code']:6} NF {r['nf']} (QP {r['nf_qp']})  F {r['f']} (QP {r['f_qp']})  {r['source']}")
    return 0


def register(sub: Any) -> Any:
    """Add ``careloop billing ...``; returns the billing subparsers (``careloop billing evaluate`` adds to it)."""
    billing = sub.add_parser("billing", help="monthly billing run, claims (837P, CSV), fee schedules")
    bsub = billing.add_subparsers(dest="billing_command", required=True)
    p = bsub.add_parser("run", help="decide every patient-month of a month; idempotent; corrections on changes")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--org", help="organization slug (default: every organization)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_run)
    p = bsub.add_parser("export-837", help="write the month's X12 5010 837P (validated with pyx12; errors exit 1)")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--out", required=True)
    p.add_argument("--org", help="organization slug")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_export_837)
    p = bsub.add_parser("export-csv", help="write the month's claim lines as CSV for billing systems")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--out", required=True)
    p.add_argument("--org", help="organization slug")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_export_csv)
    fees = bsub.add_parser("fees", help="fee schedules (CMS PFS RVUs x GPCI x CF)").add_subparsers(
        dest="fees_command", required=True)
    p = fees.add_parser("load", help="load a PPRRVU CSV and a GPCI CSV for one locality")
    p.add_argument("--rvu", required=True)
    p.add_argument("--gpci", required=True)
    p.add_argument("--locality", required=True, help="MAC-locality (e.g. 01112-05), locality number or name")
    p.add_argument("--year", type=int, default=2026)
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_fees_load)
    p = fees.add_parser("show", help="allowed amounts for codes (loaded locality over the CY2026 national table)")
    p.add_argument("codes", nargs="*")
    p.add_argument("--year", type=int, default=2026)
    p.add_argument("--locality", default="national")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_fees_show)
    return bsub
