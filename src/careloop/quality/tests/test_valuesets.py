"""Value sets: reading FHIR ValueSet resources, storing them (``careloop valuesets load``), reading them back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from careloop.quality.engine.valuesets import (
    MissingValueSets,
    ValueSetError,
    ValueSetIndex,
    parse_valueset,
    read_valueset_files,
)
from careloop.quality.models import ValueSet, ValueSetCode
from careloop.quality.selectors import stored_valuesets, valueset_index
from careloop.quality.services import load_valuesets

CVX = "http://hl7.org/fhir/sid/cvx"
URL = "http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113883.3.526.3.1254"


def flu_valueset(version: str = "20240101", codes: tuple[str, ...] = ("140", "141")) -> dict[str, Any]:
    return {
        "resourceType": "ValueSet",
        "id": "flu",
        "url": URL,
        "version": version,
        "name": "InfluenzaVaccine",
        "title": "Influenza Vaccine",
        "expansion": {
            "contains": [
                {"system": CVX, "code": codes[0], "display": "first"},
                {"system": CVX, "code": "group", "abstract": True,
                 "contains": [{"system": CVX, "code": c} for c in codes[1:]]},
            ]
        },
    }


def write(folder: Path, name: str, document: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(orjson.dumps(document))


def test_parse_expansion_walks_nested_contains_and_skips_abstract_codes() -> None:
    parsed = parse_valueset(flu_valueset())
    assert parsed.url == URL and parsed.version == "20240101" and parsed.name == "Influenza Vaccine"
    assert [(s, c) for s, c, _ in parsed.codes] == [(CVX, "140"), (CVX, "141")]


def test_parse_compose_without_expansion_and_refuses_intensional_definitions() -> None:
    enumerated = {"resourceType": "ValueSet", "url": URL + "|2024",
                  "compose": {"include": [{"system": CVX, "concept": [{"code": "150"}]}]}}
    parsed = parse_valueset(enumerated)
    assert parsed.url == URL and [(s, c) for s, c, _ in parsed.codes] == [(CVX, "150")]
    intensional = {"resourceType": "ValueSet", "url": URL,
                   "compose": {"include": [{"system": CVX, "filter": [{"property": "x", "op": "=", "value": "y"}]}]}}
    with pytest.raises(ValueSetError, match="no expansion"):
        parse_valueset(intensional)
    with pytest.raises(ValueSetError, match="expected a ValueSet"):
        parse_valueset({"resourceType": "CodeSystem", "url": URL})


def test_index_from_folder_keeps_latest_version_and_reads_bundles(tmp_path: Path) -> None:
    write(tmp_path, "old.json", flu_valueset("20200101", ("88", "89")))
    write(tmp_path / "sub", "new.json", {"resourceType": "Bundle", "entry": [{"resource": flu_valueset()}]})
    write(tmp_path, "other.json", {"resourceType": "Patient", "id": "x"})
    index = ValueSetIndex.from_folder(tmp_path)
    assert index[URL] == frozenset({(CVX, "140"), (CVX, "141")})
    assert len(index) == 1 and URL in index
    assert len(list(read_valueset_files(tmp_path))) == 2


def test_missing_value_sets_are_named() -> None:
    index = ValueSetIndex({URL: frozenset()})
    with pytest.raises(MissingValueSets) as raised:
        index.require([URL, "http://example.org/ValueSet/b", "http://example.org/ValueSet/a"])
    assert raised.value.urls == ["http://example.org/ValueSet/a", "http://example.org/ValueSet/b"]
    with pytest.raises(MissingValueSets):
        index["http://example.org/ValueSet/a"]


def test_folder_must_exist_and_hold_json(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ValueSetIndex.from_folder(tmp_path / "absent")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueSetError, match="not JSON"):
        ValueSetIndex.from_folder(tmp_path)


@pytest.mark.django_db
def test_load_is_idempotent_and_replaces_changed_codes(tmp_path: Path) -> None:
    write(tmp_path, "flu.json", flu_valueset())
    first = load_valuesets(folder=tmp_path)
    assert first.as_json() == {"created": 1, "updated": 0, "unchanged": 0, "codes": 2}
    again = load_valuesets(folder=tmp_path)
    assert again.as_json() == {"created": 0, "updated": 0, "unchanged": 1, "codes": 0}
    write(tmp_path, "flu.json", flu_valueset("20250101", ("150", "155", "158")))
    changed = load_valuesets(folder=tmp_path)
    assert changed.as_json() == {"created": 0, "updated": 1, "unchanged": 0, "codes": 3}
    row = ValueSet.objects.get(url=URL)
    assert (row.version, row.code_count) == ("20250101", 3)
    assert set(ValueSetCode.objects.values_list("code", flat=True)) == {"150", "155", "158"}
    assert [v.url for v in stored_valuesets()] == [URL]


@pytest.mark.django_db
def test_selector_reads_stored_sets_into_an_index(tmp_path: Path) -> None:
    write(tmp_path, "flu.json", flu_valueset())
    load_valuesets(folder=tmp_path)
    index = valueset_index([URL])
    assert index[URL] == frozenset({(CVX, "140"), (CVX, "141")})
    assert valueset_index(["http://example.org/none"]).missing(["http://example.org/none"]) == [
        "http://example.org/none"
    ]
