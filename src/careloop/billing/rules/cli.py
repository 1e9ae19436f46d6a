"""``careloop billing evaluate SCENARIO.json [--json]``: the rules engine on a scenario file, no database.

Registered by careloop.cli on the ``billing`` subparsers. Needs neither Django settings nor migrations.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson


def cmd_evaluate(args: argparse.Namespace) -> int:
    from careloop.billing.rules.report import decision_json, evaluate_file, render_table
    from careloop.billing.rules.ruleset import RulesetError
    from careloop.billing.rules.scenario import ScenarioError

    results: list[tuple[str, Any]] = []
    for name in args.scenarios:
        path = Path(name)
        try:
            decision = evaluate_file(path)
        except ScenarioError as exc:
            reasons = "\n".join(f"  {p}: {r}" for p, r in exc.errors)
            print(f"careloop: {path}: invalid scenario:\n{reasons}", file=sys.stderr)
            return 2
        except RulesetError as exc:
            print(f"careloop: {path}: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"careloop: {path}: cannot read ({exc.strerror or exc})", file=sys.stderr)
            return 2
        except ValueError as exc:
            print(f"careloop: {exc}", file=sys.stderr)
            return 2
        results.append((name, decision))
    if args.json:
        out: Any = decision_json(results[0][1]) if len(results) == 1 else {
            name: decision_json(d) for name, d in results
        }
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for i, (name, decision) in enumerate(results):
            if len(results) > 1:
                print(("\n" if i else "") + f"== {name}")
            print(render_table(decision))
    return 0


def register(billing_sub: Any) -> None:
    p = billing_sub.add_parser(
        "evaluate", help="run the billing rules on scenario files without a database (docs/billing-scenarios.md)"
    )
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO.json")
    p.add_argument("--json", action="store_true", help="print the decision as JSON")
    p.set_defaults(fn=cmd_evaluate)
