"""Write use-cases of the quality app."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from careloop.quality.engine.valuesets import ParsedValueSet, read_valueset_files
from careloop.quality.models import ValueSet, ValueSetCode


@dataclass
class LoadSummary:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    codes: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "codes": self.codes,
        }


def _content_hash(vs: ParsedValueSet) -> str:
    digest = hashlib.sha256()
    digest.update(f"{vs.url}|{vs.version}|{vs.name}\n".encode())
    for system, code, display in sorted(set(vs.codes)):
        digest.update(f"{system}|{code}|{display}\n".encode())
    return digest.hexdigest()


def load_valuesets(*, folder: Path) -> LoadSummary:
    """Store every ValueSet found in a folder (one transaction). Re-loading the same files changes nothing; a
    value set whose content changed has its codes replaced. When a folder holds several versions of one value set,
    the latest version wins."""
    latest: dict[str, tuple[Path, ParsedValueSet]] = {}
    for path, parsed in read_valueset_files(folder):
        current = latest.get(parsed.url)
        if current is None or parsed.version >= current[1].version:
            latest[parsed.url] = (path, parsed)
    summary = LoadSummary()
    with transaction.atomic():
        existing = {vs.url: vs for vs in ValueSet.objects.filter(url__in=list(latest))}
        for url, (path, parsed) in sorted(latest.items()):
            digest = _content_hash(parsed)
            row = existing.get(url)
            if row is not None and row.content_hash == digest:
                summary.unchanged.append(url)
                continue
            codes = {(s, c): d for s, c, d in parsed.codes}
            if row is None:
                row = ValueSet.objects.create(
                    url=url, version=parsed.version, name=parsed.name, source=str(path), content_hash=digest,
                    code_count=len(codes),
                )
                summary.created.append(url)
            else:
                row.version, row.name, row.source = parsed.version, parsed.name, str(path)
                row.content_hash, row.code_count = digest, len(codes)
                row.save()
                ValueSetCode.objects.filter(value_set=row).delete()
                summary.updated.append(url)
            ValueSetCode.objects.bulk_create(
                [ValueSetCode(value_set=row, system=s, code=c, display=d) for (s, c), d in codes.items()],
                batch_size=2000,
            )
            summary.codes += len(codes)
    return summary
