"""MLLP framing edge cases (pure: no sockets, no Django)."""

from __future__ import annotations

from careloop.interop.mllp.framing import BOM, Discarded, Frame, FrameDecoder, Oversized, frame, normalize_payload

MSG = b"MSH|^~\\&|A|B|C|D|20260101||ADT^A01|1|P|2.5\rPID|1||123^^^H^MR"


def frames(events: list[object]) -> list[bytes]:
    return [e.payload for e in events if isinstance(e, Frame)]


def test_one_frame() -> None:
    assert FrameDecoder().feed(frame(MSG)) == [Frame(MSG)]


def test_frame_split_byte_by_byte() -> None:
    dec = FrameDecoder()
    out: list[object] = []
    for i in range(len(frame(MSG))):
        out += dec.feed(frame(MSG)[i : i + 1])
    assert out == [Frame(MSG)]
    assert dec.buffered == 0 and not dec.in_frame


def test_split_between_fs_and_cr() -> None:
    dec = FrameDecoder()
    data = frame(MSG)
    assert dec.feed(data[:-1]) == [Frame(MSG)]  # the FS ends the frame; its CR may follow later
    assert dec.feed(data[-1:] + frame(b"MSH|2")) == [Frame(b"MSH|2")]


def test_coalesced_frames_in_one_read() -> None:
    data = frame(b"MSH|1") + frame(b"MSH|2") + frame(b"MSH|3")[:4]
    dec = FrameDecoder()
    assert frames(dec.feed(data)) == [b"MSH|1", b"MSH|2"]
    assert frames(dec.feed(frame(b"MSH|3")[4:])) == [b"MSH|3"]


def test_garbage_before_start_byte_is_discarded_and_reported() -> None:
    events = FrameDecoder().feed(b"hello garbage" + frame(MSG))
    assert events == [Discarded(13, "bytes before the start byte"), Frame(MSG)]


def test_garbage_without_any_start_byte() -> None:
    assert FrameDecoder().feed(b"GET / HTTP/1.1\r\n") == [Discarded(16, "bytes outside a frame (no start byte)")]


def test_whitespace_between_frames_is_not_garbage() -> None:
    assert FrameDecoder().feed(frame(b"MSH|1") + b"\r\n" + frame(b"MSH|2")) == [Frame(b"MSH|1"), Frame(b"MSH|2")]


def test_utf8_bom_at_start_of_message_is_removed() -> None:
    assert FrameDecoder().feed(frame(BOM + MSG)) == [Frame(MSG, had_bom=True)]


def test_lf_and_crlf_segment_separators_become_cr() -> None:
    lf = MSG.replace(b"\r", b"\n")
    crlf = MSG.replace(b"\r", b"\r\n")
    assert frames(FrameDecoder().feed(frame(lf) + frame(crlf))) == [MSG, MSG]
    assert normalize_payload(b"A\r\nB\nC\rD") == (b"A\rB\rC\rD", False)


def test_fs_followed_by_lf_ends_the_frame() -> None:
    assert frames(FrameDecoder().feed(b"\x0bMSH|1\x1c\n\x0bMSH|2\x1c\r")) == [b"MSH|1", b"MSH|2"]


def test_new_start_byte_abandons_an_unfinished_frame() -> None:
    events = FrameDecoder().feed(b"\x0bMSH|half" + frame(b"MSH|whole"))
    assert isinstance(events[0], Discarded) and "abandoned" in events[0].reason
    assert frames(events) == [b"MSH|whole"]


def test_frame_that_never_ends_is_bounded_then_reported() -> None:
    dec = FrameDecoder(max_frame_bytes=1000)
    events = dec.feed(b"\x0b" + b"MSH|" + b"x" * 5000)
    assert events == []
    assert dec.buffered == 0  # nothing past the limit is kept
    events = dec.feed(b"y" * 5000 + b"\x1c\r" + frame(b"MSH|next"))
    assert isinstance(events[0], Oversized)
    assert events[0].nbytes == 10004 and events[0].head.startswith(b"MSH|xxx")
    assert frames(events) == [b"MSH|next"]


def test_oversized_frame_in_a_single_read() -> None:
    events = FrameDecoder(max_frame_bytes=10).feed(frame(b"MSH|" + b"z" * 50) + frame(b"MSH|ok"))
    assert isinstance(events[0], Oversized) and events[0].nbytes == 54
    assert frames(events) == [b"MSH|ok"]


def test_default_limit_is_16_mib() -> None:
    assert FrameDecoder().max_frame_bytes == 16 * 1024 * 1024


def test_connection_closed_mid_frame_reports_the_partial_frame() -> None:
    dec = FrameDecoder()
    assert dec.feed(b"\x0bMSH|partial") == []
    assert dec.close() == [Discarded(11, "connection closed in the middle of a frame")]
    assert dec.feed(frame(b"MSH|1")) == [Frame(b"MSH|1")]


def test_empty_frame() -> None:
    assert FrameDecoder().feed(b"\x0b\x1c\r") == [Frame(b"")]
