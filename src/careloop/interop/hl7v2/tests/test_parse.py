"""Parsing edge cases: BOM, separators, header validation, versions, batches, fields (pure)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from careloop.interop.hl7v2.extract import MBI_SYSTEM, extract, normalize_icd10, parse_dtm
from careloop.interop.hl7v2.parse import Hl7Message, Unparseable, normalize, read_header, split_messages
from careloop.interop.hl7v2.tests.factories import adt

NY = ZoneInfo("America/New_York")


def parsed(text: str) -> Hl7Message:
    text = normalize(text)
    return Hl7Message(text, read_header(text))


def test_normalize_bom_lf_crlf_and_missing_final_cr() -> None:
    text = "\ufeffMSH|^~\\&|A|B\r\nPID|1\nPV1|1\r\r  \n"
    assert normalize(text) == "MSH|^~\\&|A|B\rPID|1\rPV1|1"
    assert normalize("MSH|^~\\&|A|B\rPID|1") == "MSH|^~\\&|A|B\rPID|1"


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.2"])
def test_supported_versions(version: str) -> None:
    header = read_header(normalize(adt("A01", version=version)))
    assert header.version == version and header.message_type == "ADT^A01"


@pytest.mark.parametrize("version", ["2.1", "2.2", "2.9", "3.0", "abc"])
def test_unsupported_versions_are_rejected(version: str) -> None:
    with pytest.raises(Unparseable) as exc:
        read_header(normalize(adt("A01", version=version)))
    assert exc.value.code == "203" and "not supported" in exc.value.reason


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty message"),
        ("PID|^~\\&|SEND APP|SEND FAC|REC APP|REC FAC|20080115153000||ADT^A01^ADT_A01|0123456789|P|2.6", "not MSH"),
        ("MSH|||||||||||||||||||", "4 encoding characters"),
        ("MSH|^~\\||||||||||2.7", "4 encoding characters"),
        ("MSH|@%\\|||||||||", "4 encoding characters"),
        ("MSH|@%\\&$?!|||||||||", "too many"),
        ("MSH|^~\\&#$||||||||||2.7", "too many"),
        ("MSH|^&&^|SEND APP|SEND FAC|REC APP|REC FAC|20080115153000||ADT^A01^ADT_A01|0123456789|P|2.6", "differ"),
        ("MSH|^&&^##|SEND APP|SEND FAC|REC|REC FAC|20080115153000||ADT^A01^ADT_A01|0123456789|P|2.7", "too many"),
        ("MSH|^~\\&|SEND APP|SEND FAC|REC APP|REC FAC|20080115153000|||0123456789|P|2.6", "MSH-9"),
        ("MSH|^~\\&|SEND APP|SEND FAC|REC APP|REC FAC|20080115153000||ADT^|", "MSH-10"),
        ("MSH|^~\\&|SEND APP|SEND FAC|REC APP|REC FAC|20080115153000||ADT^A01^ADT_A01||", "MSH-10"),
        ("MSH|^~\\&|A|B|C|D|20080115153000||ADT^A01|1|P|", "MSH-12"),
        ("MSH", "too short"),
        ("MSHa^~\\&|", "not a valid separator"),
    ],
)
def test_malformed_headers_are_unparseable(text: str, words: str) -> None:
    with pytest.raises(Unparseable) as exc:
        read_header(normalize(text))
    assert words in exc.value.reason


def test_truncation_character_and_custom_separators() -> None:
    h = read_header("MSH|^~\\&#|A|F|R|RF|20110708163514||RSP^K22^RSP_K21|1234|D|2.7")
    assert (h.encoding, h.control_id, h.version) == ("^~\\&#", "1234", "2.7")
    custom = "MSH@$*\\%@APP@FAC@R@RF@2026@@ADT$A01@77@P@2.5\rPID@1@@X1$$$FAC$MR@@ROE$ANN"
    m = Hl7Message(custom, read_header(custom))
    assert m.header.message_type == "ADT^A01"
    assert m.first("PID") is not None and m.first("PID").component(5, 2) == "ANN"  # type: ignore[union-attr]


def test_msh9_wins_over_evn1() -> None:
    text = adt("A03").replace("EVN|A03", "EVN|A01")
    assert extract(parsed(text), NY).event == "A03"


def test_split_files_batches_and_broken_envelopes() -> None:
    one = normalize(adt("A01", "1"))
    two = normalize(adt("A03", "2"))
    batch = "FHS|^~\\&\rBHS|^~\\&\r" + one + "\r" + two + "\rBTS|2\rFTS|1"
    assert [c.error for c in split_messages(batch)] == [None, None]
    assert [read_header(c.text).control_id for c in split_messages(batch)] == ["1", "2"]
    orphan = split_messages("BHS|^~\\&\rEVN|A04\rPID|1\rBTS|1")
    assert len(orphan) == 1 and "before any MSH" in (orphan[0].error or "")
    double_bhs = split_messages("BHS|^~\\&\r" + one + "\rBHS|^~\\&\rPID|1\rBTS|1")
    assert len(double_bhs) == 1 and "more than one BHS" in (double_bhs[0].error or "")
    double_fhs = split_messages("FHS|^~\\&\r" + one + "\rFHS|^~\\&\rFTS|1")
    assert "more than one FHS" in (double_fhs[0].error or "")
    assert [c.error for c in split_messages(one + "\rBTS|1")] == [None]  # stray trailer is harmless


def test_fields_components_escapes_and_nulls() -> None:
    text = adt("A01", family="O\\T\\BRIEN", ids="123^^^AUTH&1.2.3&ISO^MR~999^^^^SS", discharge='""')
    m = parsed(text)
    pid = m.first("PID")
    assert pid is not None
    assert pid.component(5, 1) == "O&BRIEN"
    assert pid.component(3, 4, 1, 2) == "1.2.3"
    pv1 = m.first("PV1")
    assert pv1 is not None and pv1.component(45) == ""


def test_dtm_keeps_the_offset_and_defaults_to_the_clinic_zone() -> None:
    s = parse_dtm("20150208113419+0110", NY)
    assert s is not None and s.offset == "+01:10" and s.iso() == "2015-02-08T11:34:19+01:10"
    s = parse_dtm("202101151620", NY)
    assert s is not None and s.offset == "" and s.at == dt.datetime(2021, 1, 15, 16, 20, tzinfo=NY)
    assert s.iso() == "2021-01-15T16:20:00"  # no offset received: none invented in the report
    s = parse_dtm("20260101120000.1234-0500", NY)
    assert s is not None and s.at.microsecond == 123400
    for bad in ("2026-01-01", "20261301", "20260101120000+9900", "abc"):
        with pytest.raises(ValueError):
            parse_dtm(bad, NY)


def test_extract_identifiers_mbi_and_excluded_types() -> None:
    x = extract(parsed(adt("A01", mbi="1EG4-TE5-MK73", ids=None)), NY)
    assert x.patient is not None
    assert [(i.system, i.value) for i in x.patient.identifiers] == [
        ("urn:careloop:hl7:GENHOSP", "MRN1"), (MBI_SYSTEM, "1EG4TE5MK73")]
    assert x.patient.mbi == "1EG4TE5MK73"
    x = extract(parsed(adt("A01", ids="123-45-6789^^^USSSA^SS~A77^^^^MR")), NY)
    assert x.patient is not None
    assert [(i.value, i.system) for i in x.patient.identifiers] == [
        ("123-45-6789", ""), ("A77", "urn:careloop:hl7:GENHOSP")]  # SSN kept in the report, never matched


@pytest.mark.parametrize(
    ("pv1_2", "service", "ptype", "expected"),
    [("E", "", "", "EMER"), ("I", "", "", "IMP"), ("O", "", "", "AMB"), ("O", "OBS", "", "OBSENC"),
     ("I", "", "OBS", "OBSENC"), ("OBS", "", "", "OBSENC"), ("P", "", "", "OTHER"), ("R", "", "", "AMB"),
     ("B", "", "", "IMP"), ("", "", "", "OTHER"), ("O", "OB", "", "AMB")],
)
def test_patient_class_mapping(pv1_2: str, service: str, ptype: str, expected: str) -> None:
    x = extract(parsed(adt("A01", patient_class=pv1_2, service=service, patient_type=ptype)), NY)
    assert x.visit is not None and x.visit.class_code == expected and x.visit.patient_class == pv1_2


def test_diagnoses_are_normalized() -> None:
    x = extract(parsed(adt("A03", dx=["i50.9", "E11.65", "I50.9"])), NY)
    assert x.diagnoses == ["I509", "E1165"]
    assert normalize_icd10("z79.4 ") == "Z794"


def test_bad_birth_date_is_a_warning_and_bad_discharge_a_problem() -> None:
    x = extract(parsed(adt("A03", dob="19481399", discharge="2026010")), NY)
    assert x.patient is not None and x.patient.birth_date is None
    assert [p.location for p in x.problems] == ["PID-7", "PV1-45"]


def _samples() -> list[str]:
    """Every message of the HL7 v2 oracle (when present), the test factories' messages, and mutations of them."""
    import random
    from pathlib import Path

    from careloop.interop.hl7v2.parse import decode
    from careloop.interop.hl7v2.tests.factories import oru
    from careloop.interop.hl7v2.tests.test_fuzz import SEEDS, mutate

    oracle = Path(__file__).resolve().parents[5].parent / "shared" / "oracles" / "hl7v2"
    texts = [decode(p.read_bytes()) for p in sorted(oracle.rglob("*.hl7"))] if oracle.is_dir() else []
    texts += [*SEEDS, oru("O1"), adt("A01", "W1", dx=["I50.9", "E11.9"], family="O\\T\\BRIEN &CO", given=" ANN  ")]
    rng = random.Random(5)
    texts += [mutate(rng, rng.choice(SEEDS)) for _ in range(3000)]
    return texts


def test_segment_fields_are_python_hl7s_reading() -> None:
    """The parse fast path (``segment_fields``) answers exactly what python-hl7 (``python_hl7_fields``, each line
    parsed on its own) answers, for every segment careloop reads, over the oracle, the test messages and
    thousands of mutations; and what is extracted from them is the same."""
    from careloop.interop.hl7v2 import parse as module
    from careloop.interop.hl7v2.parse import python_hl7_fields, segment_fields

    compared = 0
    for raw in _samples():
        for chunk in split_messages(normalize(raw)):
            try:
                header = read_header(chunk.text)
            except Unparseable:
                continue
            seps = header.field_sep + header.encoding
            lines = [line for line in chunk.text.split("\r")[1:] if line[:3] in module.READ_FIELDS]
            # whole lines and the cut lines Hl7Message hands over (which may end in whitespace)
            cut = [header.field_sep.join(line.split(header.field_sep)[: module.READ_FIELDS[line[:3]] + 1])
                   for line in lines]
            assert segment_fields(seps, lines + cut) == python_hl7_fields(seps, lines + cut), chunk.text
            fast = Hl7Message(chunk.text, header)
            real = Hl7Message.__new__(Hl7Message)
            real.text, real.header, real.names = fast.text, fast.header, fast.names
            real.segments = [module.Segment(f[0], f, header) for f in python_hl7_fields(seps, cut) if f[0]]
            assert fast.segments == real.segments
            try:
                x = extract(fast, NY)
            except Unparseable as exc:
                with pytest.raises(Unparseable, match=exc.reason[:20]):
                    extract(real, NY)
                continue
            assert x == extract(real, NY)
            compared += 1
    assert compared > 1000


def test_custom_separators_and_escapes_in_fields() -> None:
    custom = "MSH@$*\\%@APP@FAC@R@RF@2026@@ADT$A01@77@P@2.5\rPID@1@@X1$$$FAC$MR@@ROE$ANN"
    assert Hl7Message(custom, read_header(custom)).first("PID").component(5, 2) == "ANN"  # type: ignore[union-attr]
    text = adt("A01", "C1", mrn="CACHE-1", family="O\\T\\BRIEN")
    assert parsed(text).first("PID").component(5, 1) == "O&BRIEN"  # type: ignore[union-attr]
