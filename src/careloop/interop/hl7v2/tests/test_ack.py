"""ACK building (pure)."""

from __future__ import annotations

import datetime as dt

from careloop.interop.hl7v2.ack import build_ack
from careloop.interop.hl7v2.parse import normalize, read_header
from careloop.interop.hl7v2.tests.factories import adt
from careloop.interop.mllp.client import ack_summary

NOW = dt.datetime(2026, 1, 5, 13, 30, tzinfo=dt.UTC)


def test_aa_for_version_25_swaps_sender_and_receiver() -> None:
    header = read_header(normalize(adt("A03", "C1")))
    ack = build_ack("AA", header, now=NOW).decode()
    msh, msa = ack.rstrip("\r").split("\r")
    fields = msh.split("|")
    assert fields[2:6] == ["CARELOOP", "CLINIC", "HIS", "GENHOSP"]
    assert fields[6] == "20260105133000+0000" and fields[8] == "ACK^A03^ACK" and fields[11] == "2.5.1"
    assert msa == "MSA|AA|C1"


def test_ae_has_err_with_location_code_and_reason_escaped() -> None:
    header = read_header(normalize(adt("A03", "C2")))
    ack = build_ack("AE", header, text="PID-3 missing | really", error_code="101", location="PID^1^3", now=NOW)
    segments = ack.decode().rstrip("\r").split("\r")
    assert segments[1] == "MSA|AE|C2|PID-3 missing \\F\\ really"
    assert segments[2] == "ERR||PID^1^3|101^Required field missing^HL70357|E||||PID-3 missing \\F\\ really"
    assert ack_summary(ack) == ("AE", "C2", "PID-3 missing \\F\\ really")


def test_err_for_version_23_uses_err_1() -> None:
    header = read_header(normalize(adt("A01", "C3", version="2.3")))
    segments = build_ack("AR", header, text="no", error_code="203", location="MSH^1^12").decode().split("\r")
    assert segments[2] == "ERR|MSH^1^12^203&Unsupported version id&HL70357"


def test_ar_when_the_header_could_not_be_read() -> None:
    segments = build_ack("AR", None, text="first segment is PID", error_code="100").decode().split("\r")
    assert segments[0].startswith("MSH|^~\\&|careloop|careloop|||") and segments[0].endswith("|ACK|" +
                                                                                              segments[0].split("|")[9]
                                                                                              + "|P|2.5")
    assert segments[1] == "MSA|AR||first segment is PID"
