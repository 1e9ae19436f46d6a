"""``careloop insights revenue --month YYYY-MM [--json | --csv FILE]``: registered by ``careloop.cli``.

Imports Django lazily (the parser is built before ``django.setup()``)."""

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


def _text(report: Any) -> str:
    t, c = report.totals, report.current
    out = [f"{report.organization} · {report.month} · assumptions {report.assumptions.version}"]
    if not report.eligibility_recorded:
        out.append(f"note: no eligibility decisions for {report.month}; run `careloop programs eligibility`")
    if report.billing_run is None:
        out.append(f"note: no billing run for {report.month}; run `careloop billing run`")
    out += [
        f"{'program':<8} {'level':<6} {'elig':>6} {'plan':>6} {'enrol':>6} {'capt%':>6} {'potential':>11} "
        f"{'actual':>11} {'held':>9}"]
    for r in report.rows:
        cap = "-" if r.capture_pct is None else str(r.capture_pct)
        out.append(f"{r.program:<8} {r.level:<6} {r.eligible:>6} {r.planned:>6} {r.enrolled:>6} {cap:>6} "
                   f"{r.potential:>11} {r.actual:>11.2f} {r.held:>9.2f}")
    out.append(f"total: potential ${t.potential}, actual ${t.actual}, gap ${t.gap}; {t.eligible_patients} eligible, "
               f"{t.enrolled_patients} enrolled patients")
    per = "-" if c.revenue_per_fte is None else f"${c.revenue_per_fte}"
    out.append(f"coordinator FTE {c.fte} ({report.staff} staff); revenue per FTE {per}; the enrolled panel needs "
               f"{c.need.fte} FTE")
    for p in report.projections:
        net = "" if p.net is None else f", net ${p.net}"
        out.append(f"{p.name:<12} {p.rate:>5}: {p.patients} patients, ${p.revenue}/month, {p.need.fte} FTE needed "
                   f"({p.fte_gap:+} vs now){net}")
    return "\n".join(out) + "\n"


def cmd_revenue(args: argparse.Namespace) -> int:
    _setup()
    from django.db import transaction

    from careloop.core.actor import Actor
    from careloop.core.errors import CareloopError
    from careloop.insights import services

    org = _org(args.org)
    actor = Actor.system(org.pk, "careloop insights revenue")
    try:
        assumptions = services.load_assumptions(args.assumptions)
        with transaction.atomic():
            if args.csv:
                text = services.export_csv(actor=actor, month=args.month, assumptions=assumptions)
            else:
                report = services.revenue_report(actor=actor, month=args.month, assumptions=assumptions)
    except CareloopError as exc:
        print(f"careloop: {exc}", file=sys.stderr)
        return 2
    if args.csv:
        if args.csv == "-":
            sys.stdout.write(text)
        else:
            Path(args.csv).write_text(text)
            print(f"wrote {args.csv} ({text.count(chr(10)) - 1} rows)", file=sys.stderr)
        return 0
    if args.json:
        sys.stdout.write(orjson.dumps(report.as_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(_text(report))
    return 0


def register(sub: Any) -> None:
    insights = sub.add_parser("insights", help="revenue and capacity").add_subparsers(
        dest="insights_command", required=True)
    p = insights.add_parser("revenue", help="actual vs potential revenue, revenue per FTE, enrollment scenarios")
    p.add_argument("--month", required=True, help="YYYY-MM")
    p.add_argument("--org", help="organization slug (needed when there are several)")
    p.add_argument("--assumptions", help="YAML file overriding data/assumptions.yaml (docs/insights.md)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true")
    out.add_argument("--csv", metavar="FILE", help="write the CSV to FILE ('-': standard output)")
    p.set_defaults(fn=cmd_revenue)
