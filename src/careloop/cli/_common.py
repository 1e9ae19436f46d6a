"""Helpers shared by the command modules (Django set-up, JSON output, progress bars, --org)."""

from __future__ import annotations

import os
import sys
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
