"""Acknowledgements (original mode): MSA with AA / AE / AR and, for AE/AR (and warnings), an ERR segment
whose text says in plain words what could not be accepted. Pure.

ERR layout follows the message's version: 2.5 and later use ERR-2 (location), ERR-3 (HL7 error code, table
0357), ERR-4 (severity) and ERR-8 (user message); 2.3/2.4 use ERR-1 (location and code). MSA-3 carries the
same text for receivers that only read MSA.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os

from careloop.interop.hl7v2.parse import Header

ERROR_TEXT = {
    "0": "Message accepted", "100": "Segment sequence error", "101": "Required field missing",
    "102": "Data type error", "103": "Table value not found", "200": "Unsupported message type",
    "201": "Unsupported event code", "202": "Unsupported processing id", "203": "Unsupported version id",
    "204": "Unknown key identifier", "205": "Duplicate key identifier", "206": "Application record locked",
    "207": "Application internal error",
}
_counter = itertools.count(1)
_PREFIX = f"CL{os.getpid() % 100000:05d}"


def _escape(text: str, header: Header | None) -> str:
    fs, enc = (header.field_sep, header.encoding) if header else ("|", "^~\\&")
    esc = enc[2]
    out = text.replace(esc, f"{esc}E{esc}").replace(fs, f"{esc}F{esc}").replace(enc[0], f"{esc}S{esc}")
    out = out.replace(enc[1], f"{esc}R{esc}").replace(enc[3], f"{esc}T{esc}")
    return " ".join(out.split())[:500]


def _version_at_least_25(version: str) -> bool:
    parts = version.split(".")
    try:
        return (int(parts[0]), int(parts[1] if len(parts) > 1 else 0)) >= (2, 5)
    except ValueError:
        return True


def build_ack(
    code: str,
    header: Header | None,
    *,
    text: str = "",
    error_code: str = "",
    location: str = "",
    severity: str = "E",
    now: dt.datetime | None = None,
) -> bytes:
    """An ACK for ``header`` (None when the message's MSH could not be read: default separators, no MSA-2)."""
    fs = header.field_sep if header else "|"
    enc = header.encoding[:4] if header else "^~\\&"
    comp = enc[0]
    version = header.version if header and header.version else "2.5"
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d%H%M%S+0000")
    trigger = header.trigger if header else ""
    msg_type = f"ACK{comp}{trigger}{comp}ACK" if trigger else "ACK"
    control = f"{_PREFIX}{next(_counter):010d}"
    msh = fs.join([
        "MSH", enc,
        header.receiving_application if header else "careloop",
        header.receiving_facility if header else "careloop",
        header.sending_application if header else "",
        header.sending_facility if header else "",
        stamp, "", msg_type, control, header.processing_id or "P" if header else "P", version,
    ])
    msa = fs.join(["MSA", code, header.control_id if header else "", _escape(text, header) if text else ""])
    segments = [msh, msa.rstrip(fs)]
    if code != "AA" or text:
        err_code = error_code or ("0" if code == "AA" else "207")
        coded = comp.join([err_code, ERROR_TEXT.get(err_code, ""), "HL70357"])
        loc = location.replace("^", comp)
        if _version_at_least_25(version):
            err = fs.join(["ERR", "", loc, coded, severity if code != "AA" else "W", "", "", "",
                           _escape(text, header)])
        else:
            sub = enc[3]
            err = fs.join(["ERR", comp.join([*(loc.split(comp) + ["", "", ""])[:3], coded.replace(comp, sub)])])
        segments.append(err)
    return ("\r".join(segments) + "\r").encode("utf-8")
