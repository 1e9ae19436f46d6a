"""Value sets as Python sets of ``(system, code)``, read from FHIR ValueSet resources with expansions.

careloop ships none of the licensed value sets (VSAC content holds CPT, SNOMED CT and LOINC codes); the deployer
supplies ValueSet JSON files (one ValueSet, or a Bundle of them, per file) and either loads them into the
database (``careloop valuesets load DIR``) or points an evaluation at the folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

Code = tuple[str, str]


class ValueSetError(ValueError):
    """A ValueSet resource that cannot be used (no expansion, wrong shape)."""


class MissingValueSets(LookupError):
    """An evaluation needs value sets that were not supplied."""

    def __init__(self, urls: Iterable[str]) -> None:
        self.urls = sorted(set(urls))
        super().__init__("value sets not loaded: " + ", ".join(self.urls))


@dataclass(frozen=True, slots=True)
class ParsedValueSet:
    url: str
    version: str
    name: str
    codes: tuple[tuple[str, str, str], ...]  # (system, code, display)


def canonical(url: str) -> str:
    """A value set reference without its ``|version`` suffix."""
    return url.split("|", 1)[0]


def _walk_contains(items: object, out: list[tuple[str, str, str]]) -> None:
    if not isinstance(items, list):
        return
    for item in items:
        if not isinstance(item, dict):
            continue
        system, code = item.get("system"), item.get("code")
        if isinstance(system, str) and isinstance(code, str) and not item.get("abstract", False):
            out.append((system, code, str(item.get("display") or "")))
        _walk_contains(item.get("contains"), out)


def parse_valueset(resource: Mapping[str, Any]) -> ParsedValueSet:
    """Codes from ``expansion.contains`` or, without an expansion, from enumerated ``compose.include`` concepts."""
    if resource.get("resourceType") != "ValueSet":
        raise ValueSetError(f"expected a ValueSet, got {resource.get('resourceType')!r}")
    url = resource.get("url")
    if not isinstance(url, str) or not url:
        raise ValueSetError(f"ValueSet {resource.get('id')!r} has no url")
    codes: list[tuple[str, str, str]] = []
    expansion = resource.get("expansion")
    if isinstance(expansion, dict):
        _walk_contains(expansion.get("contains"), codes)
    else:
        compose = resource.get("compose") or {}
        for include in compose.get("include") or []:
            if include.get("filter") or include.get("valueSet") or not include.get("concept"):
                raise ValueSetError(f"ValueSet {url} has no expansion and an include that is not a list of codes")
            for concept in include["concept"]:
                system = str(include.get("system") or "")
                codes.append((system, str(concept["code"]), str(concept.get("display") or "")))
    name = str(resource.get("title") or resource.get("name") or "")
    return ParsedValueSet(canonical(url), str(resource.get("version") or ""), name, tuple(codes))


def iter_valuesets_in(document: Mapping[str, Any]) -> Iterator[ParsedValueSet]:
    """The ValueSets in one JSON document: a ValueSet or a Bundle of them."""
    if document.get("resourceType") == "Bundle":
        for entry in document.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and resource.get("resourceType") == "ValueSet":
                yield parse_valueset(resource)
    elif document.get("resourceType") == "ValueSet":
        yield parse_valueset(document)


def read_valueset_files(folder: Path) -> Iterator[tuple[Path, ParsedValueSet]]:
    """Every ValueSet in the ``*.json`` files under a folder (recursively), in file-name order."""
    if not folder.is_dir():
        raise FileNotFoundError(f"value set folder {folder} does not exist")
    for path in sorted(folder.rglob("*.json")):
        try:
            document = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise ValueSetError(f"{path}: not JSON ({exc})") from None
        if isinstance(document, dict):
            for parsed in iter_valuesets_in(document):
                yield path, parsed


class ValueSetIndex:
    """Value set membership for evaluation: ``index[url]`` is a frozenset of ``(system, code)``."""

    def __init__(self, sets: Mapping[str, frozenset[Code]] | None = None) -> None:
        self._sets: dict[str, frozenset[Code]] = {canonical(k): v for k, v in (sets or {}).items()}

    @classmethod
    def from_parsed(cls, parsed: Iterable[ParsedValueSet]) -> ValueSetIndex:
        best: dict[str, ParsedValueSet] = {}
        for vs in parsed:
            current = best.get(vs.url)
            if current is None or vs.version >= current.version:
                best[vs.url] = vs
        return cls({url: frozenset((s, c) for s, c, _ in vs.codes) for url, vs in best.items()})

    @classmethod
    def from_folder(cls, folder: Path) -> ValueSetIndex:
        return cls.from_parsed(vs for _, vs in read_valueset_files(folder))

    def __getitem__(self, url: str) -> frozenset[Code]:
        try:
            return self._sets[url]
        except KeyError:
            raise MissingValueSets([url]) from None

    def __contains__(self, url: object) -> bool:
        return url in self._sets

    def __len__(self) -> int:
        return len(self._sets)

    def urls(self) -> list[str]:
        return sorted(self._sets)

    def missing(self, urls: Iterable[str]) -> list[str]:
        return sorted({u for u in urls if u not in self._sets})

    def require(self, urls: Iterable[str]) -> None:
        missing = self.missing(urls)
        if missing:
            raise MissingValueSets(missing)
