"""The ``careloop`` command."""

from __future__ import annotations

import argparse

from careloop.cli import admin, bench, care
from careloop.cli._common import _django, _organization, _print_json, _progress_bar

__all__ = ["_django", "_organization", "_print_json", "_progress_bar", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="careloop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    admin.register(sub)
    care.register(sub)
    bench.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.fn(args))
    except KeyboardInterrupt:
        return 130


