"""MLLP framing: ``<VT> message <FS><CR>`` (HL7 v2 Minimal Lower Layer Protocol, release 2). Pure, no I/O.

``FrameDecoder`` is a streaming decoder: feed it whatever bytes the socket returned (a frame split over many
reads, several frames coalesced in one read, noise between frames) and it returns what it found, in order:

- ``Frame``: one complete message. A UTF-8 byte order mark at its start is removed and LF or CRLF segment
  separators are normalized to CR, so the payload is canonical ER7.
- ``Discarded``: bytes that were not inside a frame (garbage before a start byte, or a frame abandoned because
  a new start byte arrived before its end). They are reported, never passed on as a message.
- ``Oversized``: a frame that grew past ``max_frame_bytes`` without ending. Its first bytes are kept (``head``,
  to say what it was) and the rest is skipped up to its end marker; memory stays bounded.

End of frame is FS followed by CR. An FS followed by LF is accepted too (seen from some senders); an FS followed
by anything else ends the frame and the byte after it is examined afresh.
"""

from __future__ import annotations

from dataclasses import dataclass

START = b"\x0b"
END = b"\x1c"
CR = b"\r"
END_BLOCK = END + CR
BOM = b"\xef\xbb\xbf"
DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024
HEAD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Frame:
    payload: bytes
    had_bom: bool = False


@dataclass(frozen=True, slots=True)
class Discarded:
    nbytes: int
    reason: str


@dataclass(frozen=True, slots=True)
class Oversized:
    head: bytes
    nbytes: int


Event = Frame | Discarded | Oversized


def frame(payload: bytes) -> bytes:
    """Wrap one message for the wire."""
    return START + payload + END_BLOCK


def normalize_payload(payload: bytes) -> tuple[bytes, bool]:
    """Strip a leading UTF-8 BOM and turn CRLF / LF segment separators into CR."""
    had_bom = payload.startswith(BOM)
    if had_bom:
        payload = payload[len(BOM) :]
    if b"\n" in payload:
        payload = payload.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    return payload, had_bom


class FrameDecoder:
    """Incremental MLLP decoder with a bounded buffer (see the module docstring)."""

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < 1:
            raise ValueError("max_frame_bytes must be positive")
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._in_frame = False
        self._skipping = False  # inside an oversized frame: drop bytes until its end
        self._skipped = 0
        self._head = b""
        self._pending_fs = False  # a frame's FS was the last byte seen; its CR may be in the next read

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished frame held in memory."""
        return len(self._buf)

    @property
    def in_frame(self) -> bool:
        return self._in_frame or self._skipping

    def feed(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        view = memoryview(data)
        pos = 0
        n = len(data)
        if self._pending_fs and n:
            self._pending_fs = False
            if data[0:1] in (CR, b"\n"):
                pos = 1
        while pos < n:
            if self._skipping:
                end = data.find(END, pos)
                if end < 0:
                    self._skipped += n - pos
                    pos = n
                    break
                self._skipped += end - pos
                self._skipping = False
                events.append(Oversized(self._head, self._skipped))
                self._head = b""
                pos = self._after_end(data, end)
                continue
            if not self._in_frame:
                start = data.find(START, pos)
                if start < 0:
                    garbage = n - pos
                    if data[pos:].strip(b"\r\n\t \x00"):
                        events.append(Discarded(garbage, "bytes outside a frame (no start byte)"))
                    pos = n
                    break
                if start > pos and data[pos:start].strip(b"\r\n\t \x00"):
                    events.append(Discarded(start - pos, "bytes before the start byte"))
                self._in_frame = True
                pos = start + 1
                continue
            # Inside a frame: look for its end, or a new start byte that abandons it.
            end = data.find(END, pos)
            restart = data.find(START, pos, end if end >= 0 else n)
            if restart >= 0:
                self._buf += view[pos:restart]
                events.append(Discarded(len(self._buf) + 1, "frame abandoned: a new start byte came before its end"))
                self._buf.clear()
                pos = restart + 1
                continue
            stop = end if end >= 0 else n
            total = len(self._buf) + (stop - pos)
            if total > self.max_frame_bytes:
                if len(self._buf) < HEAD_BYTES:
                    self._buf += view[pos : pos + HEAD_BYTES - len(self._buf)]
                head = bytes(self._buf[:HEAD_BYTES])
                self._buf.clear()
                self._in_frame = False
                if end >= 0:
                    events.append(Oversized(head, total))
                    pos = self._after_end(data, end)
                else:
                    self._skipping, self._skipped, self._head = True, total, head
                    pos = n
                continue
            self._buf += view[pos:stop]
            if end < 0:
                pos = n
                break
            payload, had_bom = normalize_payload(bytes(self._buf))
            self._buf.clear()
            self._in_frame = False
            events.append(Frame(payload, had_bom))
            pos = self._after_end(data, end)
        return events

    def _after_end(self, data: bytes, end: int) -> int:
        """Position after an FS at ``end``: skip its CR (or LF); remember it when the FS was the last byte."""
        nxt = end + 1
        if nxt >= len(data):
            self._pending_fs = True
            return nxt
        if data[nxt : nxt + 1] in (CR, b"\n"):
            return nxt + 1
        return nxt

    def close(self) -> list[Event]:
        """The peer closed the connection: report an unfinished frame (it is dropped, never a message)."""
        events: list[Event] = []
        if self._in_frame and self._buf:
            events.append(Discarded(len(self._buf), "connection closed in the middle of a frame"))
        elif self._skipping:
            events.append(Oversized(self._head, self._skipped))
        self._buf.clear()
        self._in_frame = self._skipping = self._pending_fs = False
        return events
