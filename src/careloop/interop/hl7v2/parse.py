"""A thin adapter over python-hl7: normalize, check the header, split files, parse, read fields.

Everything else in careloop reads HL7 v2 through ``Hl7Message``/``Segment`` here, so the parser can be
replaced without touching the ADT logic. Pure: no Django, no database.

- ``normalize``: strips UTF-8 byte order marks, turns LF / CRLF segment separators into CR, drops empty
  segments and surrounding whitespace, tolerates a missing final CR.
- ``read_header``: validates MSH (first segment, field separator, 4 or 5 distinct encoding characters, MSH-9,
  MSH-10, MSH-12 in the supported versions) without a full parse; raises ``Unparseable`` (-> AR).
- ``split_messages``: a file may hold many messages, optionally inside FHS/BHS envelopes; each message starts
  with an MSH at a segment start. Structural errors (segments before any MSH, a second FHS, a BHS inside an
  open batch) make that message a rejected chunk instead of silently regrouping segments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import hl7

BOM = "\ufeff"
ENVELOPE = frozenset({"FHS", "FTS", "BHS", "BTS"})
SUPPORTED_VERSIONS = ("2.3", "2.4", "2.5", "2.6", "2.7", "2.8")
_VERSION = re.compile(r"^2\.(\d+)(?:\.\d+)*$")
_SEGMENT_NAME = re.compile(r"^[A-Z][A-Z0-9]{2}$")


class Unparseable(Exception):
    """The message cannot be read as HL7 v2 (AR). ``code`` is from HL7 table 0357."""

    def __init__(self, reason: str, code: str = "100", location: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.location = location


@dataclass(frozen=True, slots=True)
class Header:
    field_sep: str
    encoding: str  # MSH-2: component, repetition, escape, subcomponent (+ truncation from 2.7)
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    message_code: str
    trigger: str
    structure: str
    control_id: str
    processing_id: str
    version: str
    sent_at: str  # MSH-7 as received

    @property
    def message_type(self) -> str:
        return f"{self.message_code}^{self.trigger}" if self.trigger else self.message_code

    @property
    def component_sep(self) -> str:
        return self.encoding[0]

    @property
    def repetition_sep(self) -> str:
        return self.encoding[1]

    @property
    def escape_char(self) -> str:
        return self.encoding[2]

    @property
    def subcomponent_sep(self) -> str:
        return self.encoding[3]

    def as_store_fields(self) -> dict[str, str]:
        return {
            "sending_application": self.sending_application,
            "sending_facility": self.sending_facility,
            "control_id": self.control_id,
            "message_type": self.message_type,
            "version": self.version,
        }


@dataclass(frozen=True, slots=True)
class Chunk:
    """One message cut from a file or frame; ``error`` set when the file structure around it is broken."""

    text: str
    index: int
    error: str | None = None


def decode(payload: bytes) -> str:
    """UTF-8 (HL7 2.8's default), else Latin-1; NUL bytes (never valid in HL7, refused by PostgreSQL text
    columns) become U+FFFD so even garbage can be kept in quarantine."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        text = payload.decode("latin-1")
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def normalize(text: str) -> str:
    if BOM in text:
        text = text.replace(BOM, "")
    if "\n" in text:
        text = text.replace("\r\n", "\r").replace("\n", "\r")
    return "\r".join(s for s in (seg.strip() for seg in text.split("\r")) if s)


def _first_component(value: str, component_sep: str) -> str:
    return value.split(component_sep, 1)[0]


def read_header(text: str) -> Header:
    """Validate and read MSH from a normalized message. Raises ``Unparseable``."""
    if not text:
        raise Unparseable("empty message")
    first = text.split("\r", 1)[0]
    if not first.startswith("MSH"):
        name = first[:3] if _SEGMENT_NAME.match(first[:3]) else repr(first[:20])
        raise Unparseable(f"the first segment is {name}, not MSH: every message must start with an MSH segment")
    if len(first) < 8:
        raise Unparseable("MSH segment is too short to hold the field separator and encoding characters")
    sep = first[3]
    if sep.isalnum() or sep.isspace():
        raise Unparseable(f"MSH-1 field separator {sep!r} is not a valid separator", "102", "MSH^1^1")
    fields = first.split(sep)
    enc = fields[1]
    where = "MSH^1^2"
    if len(enc) < 4:
        raise Unparseable(
            f"MSH-2 must hold 4 encoding characters (component, repetition, escape, subcomponent); got {enc!r}",
            "102", where,
        )
    if len(enc) > 5:
        raise Unparseable(f"MSH-2 has too many encoding characters ({len(enc)}): {enc!r}", "102", where)
    if len(set(enc)) != len(enc) or sep in enc:
        raise Unparseable(f"MSH-2 encoding characters must all differ from each other and from MSH-1: {enc!r}",
                          "102", where)
    if any(c.isalnum() or c.isspace() for c in enc):
        raise Unparseable(f"MSH-2 encoding characters must not be letters, digits or spaces: {enc!r}", "102", where)
    fields += [""] * (13 - len(fields))
    comp, rep = enc[0], enc[1]

    def hd(value: str) -> str:
        return _first_component(value.split(rep, 1)[0], comp).strip()

    msg_type = fields[8].split(rep, 1)[0].split(comp)
    msg_type += [""] * (3 - len(msg_type))
    code, trigger, structure = (p.strip().upper() for p in msg_type[:3])
    version = hd(fields[11])
    header = Header(
        field_sep=sep, encoding=enc, sending_application=hd(fields[2]), sending_facility=hd(fields[3]),
        receiving_application=hd(fields[4]), receiving_facility=hd(fields[5]), message_code=code, trigger=trigger,
        structure=structure, control_id=fields[9].strip(), processing_id=hd(fields[10]), version=version,
        sent_at=hd(fields[6]),
    )
    if not code:
        raise Unparseable("MSH-9 message type is required", "101", "MSH^1^9")
    if not header.control_id:
        raise Unparseable("MSH-10 message control id is required", "101", "MSH^1^10")
    if not version:
        raise Unparseable("MSH-12 version id is required", "101", "MSH^1^12")
    m = _VERSION.match(version)
    if m is None or not 3 <= int(m.group(1)) <= 8:
        raise Unparseable(
            f"HL7 version {version!r} is not supported (careloop accepts 2.3 to 2.8)", "203", "MSH^1^12"
        )
    return header


def split_messages(text: str) -> list[Chunk]:
    """Cut normalized text into messages (see the module docstring)."""
    chunks: list[Chunk] = []
    current: list[str] | None = None
    current_error: str | None = None
    orphans: list[str] = []
    orphan_error: str | None = None
    file_open = batch_open = False

    def flush() -> None:
        nonlocal current, current_error, orphans, orphan_error
        if orphans:
            reason = orphan_error or (
                f"segment {orphans[0][:3]!r} is not MSH and came before any MSH segment: every message must "
                "start with MSH"
            )
            chunks.append(Chunk("\r".join(orphans), len(chunks) + 1, reason))
            orphans, orphan_error = [], None
        if current is not None:
            chunks.append(Chunk("\r".join(current), len(chunks) + 1, current_error))
            current, current_error = None, None

    def broken(segment: str, reason: str) -> None:
        nonlocal current_error, orphan_error
        if current is not None:
            current.append(segment)
            current_error = current_error or reason
        else:
            orphans.append(segment)
            orphan_error = orphan_error or reason

    for segment in text.split("\r"):
        if not segment:
            continue
        name = segment[:3]
        if name == "MSH":
            flush()
            current = [segment]
        elif name == "FHS":
            if file_open:
                broken(segment, "a file cannot have more than one FHS segment")
                continue
            flush()
            file_open = True
        elif name == "BHS":
            if batch_open:
                broken(segment, "a batch cannot have more than one BHS segment (BHS before the batch's BTS)")
                continue
            flush()
            batch_open = True
        elif name in ("BTS", "FTS"):
            flush()
            if name == "BTS":
                batch_open = False
        elif current is not None:
            current.append(segment)
        else:
            orphans.append(segment)
    flush()
    return chunks


@dataclass(frozen=True, slots=True)
class Segment:
    """Fields of one segment as raw ER7 strings, numbered as in the standard (MSH-3 is ``field(3)``)."""

    name: str
    fields: tuple[str, ...]
    header: Header

    def field(self, n: int) -> str:
        return self.fields[n] if n < len(self.fields) else ""

    def repetitions(self, n: int) -> list[str]:
        raw = self.field(n)
        return [r for r in raw.split(self.header.repetition_sep)] if raw else []

    def component(self, n: int, c: int = 1, rep: int = 1, sub: int = 0) -> str:
        """Component ``c`` of repetition ``rep`` of field ``n`` (``sub``: a subcomponent, 0 = all), unescaped."""
        reps = self.repetitions(n)
        if len(reps) < rep:
            return ""
        return split_component(reps[rep - 1], self.header, c, sub)


def split_component(value: str, header: Header, c: int = 1, sub: int = 0) -> str:
    parts = value.split(header.component_sep)
    if len(parts) < c:
        return ""
    part = parts[c - 1]
    if part == '""':  # HL7 explicit null
        return ""
    if sub:
        subs = part.split(header.subcomponent_sep)
        part = subs[sub - 1] if len(subs) >= sub else ""
    return unescape(part, header).strip()


_ESCAPE = re.compile(r"\\([FSTRE]|\.br|H|N|X[0-9A-Fa-f]*|[^\\]*)\\")


def unescape(value: str, header: Header) -> str:
    esc = header.escape_char
    if esc not in value:
        return value
    plain = {"F": header.field_sep, "S": header.component_sep, "T": header.subcomponent_sep,
             "R": header.repetition_sep, "E": esc, ".br": " ", "H": "", "N": ""}
    pattern = _ESCAPE if esc == "\\" else re.compile(
        re.escape(esc) + r"([FSTRE]|\.br|H|N|X[0-9A-Fa-f]*|[^" + re.escape(esc) + r"]*)" + re.escape(esc)
    )

    def sub(m: re.Match[str]) -> str:
        token = m.group(1)
        if token in plain:
            return plain[token]
        if token.startswith("X") and len(token) > 1:
            try:
                return bytes.fromhex(token[1:]).decode("utf-8", "replace")
            except ValueError:
                return ""
        return ""

    return pattern.sub(sub, value)


# The segments the ADT logic reads, and the last field it reads in each: only these are parsed; everything
# else stays in the raw text (and ``names``).
READ_FIELDS = {"EVN": 6, "PID": 13, "PV1": 45, "DG1": 3, "MRG": 1}


def python_hl7_fields(separators: str, lines: list[str]) -> list[tuple[str, ...]]:
    """python-hl7's reading of each segment line, parsed on its own, as field strings: the parser of record,
    which ``segment_fields`` answers like without building its containers."""
    out: list[tuple[str, ...]] = []
    for line in lines:
        try:
            parsed = hl7.parse(f"MSH{separators}{separators[0]}\r{line}")
        except Exception as exc:  # python-hl7 raises several types on malformed input
            raise Unparseable(f"cannot parse the message: {exc}") from exc
        segments = list(parsed)[1:]
        if len(segments) != 1:
            raise Unparseable("cannot parse the message: its segments could not be told apart")
        out.append(tuple(str(f) for f in segments[0]))
    return out


def segment_fields(separators: str, lines: list[str]) -> list[tuple[str, ...]]:
    """What ``python_hl7_fields`` answers, ~25x cheaper. For a segment other than MSH/BHS/FHS, python-hl7 splits
    the (whitespace-stripped) message text at each separator level and every container's ``str`` joins its parts
    back with the same separator, so a field's string is the line cut at the field separator; the line alone is
    stripped of trailing whitespace as python-hl7 strips its whole text. ``test_parse`` holds the two equal over
    the oracle messages, the test messages and mutations of them."""
    sep = separators[0]
    return [tuple(line.rstrip().split(sep)) for line in lines]


class Hl7Message:
    """A parsed message: its header, the names of all its segments, and the segments careloop reads
    (``READ_FIELDS``, read as python-hl7 reads them: ``segment_fields``)."""

    def __init__(self, text: str, header: Header) -> None:
        self.text = text
        self.header = header
        lines = text.split("\r")
        self.names = [line[:3] for line in lines]
        # MSH is already read (``header``): only the segments we read, up to the last field we read.
        sep = header.field_sep
        wanted = [sep.join(line.split(sep, READ_FIELDS[line[:3]] + 1)[: READ_FIELDS[line[:3]] + 1])
                  for line in lines[1:] if line[:3] in READ_FIELDS]
        self.segments: list[Segment] = [
            Segment(fields[0], fields, header) for fields in segment_fields(sep + header.encoding, wanted) if fields[0]
        ]

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]

    def first(self, name: str) -> Segment | None:
        for s in self.segments:
            if s.name == name:
                return s
        return None
