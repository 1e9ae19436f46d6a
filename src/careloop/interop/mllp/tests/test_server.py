"""The MLLP transport over real sockets, with a fake handler (no Django, no database)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import pytest

from careloop.interop.mllp.client import MllpClient, make_client_ssl_context, send_reliably
from careloop.interop.mllp.framing import frame
from careloop.interop.mllp.server import event_loop_factory, make_server_ssl_context
from careloop.interop.mllp.tests.helpers import ServerThread, connect, read_frames, self_signed_cert, send_and_read

# The transport's edge cases on both event loops: uvloop (the listener's, ``event_loop_factory``) and asyncio's own
# (the fallback without uvloop).
LOOPS = pytest.mark.parametrize("loop", ["uvloop", "asyncio"])


class Echo:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.handled: list[bytes] = []
        self.started = threading.Event()
        self.active = 0
        self.max_active = 0
        self.closed_threads: list[str] = []
        self._lock = threading.Lock()

    def handle(self, payload: bytes, peer: str) -> bytes:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        self.started.set()
        time.sleep(self.delay)
        with self._lock:
            self.active -= 1
            self.handled.append(payload)
        return b"ACK " + payload

    def oversized(self, head: bytes, nbytes: int, peer: str) -> bytes | None:
        return b"TOO BIG " + str(nbytes).encode()

    def close_thread(self) -> None:
        with self._lock:
            self.closed_threads.append(threading.current_thread().name)


@LOOPS
def test_round_trip(loop: str) -> None:
    with ServerThread(Echo(), loop=loop) as srv:
        assert send_and_read(srv.port, b"MSH|1") == b"ACK MSH|1"


@LOOPS
def test_frame_split_over_many_writes(loop: str) -> None:
    handler = Echo()
    with ServerThread(handler, loop=loop) as srv, connect(srv.port) as sock:
        data = frame(b"MSH|split\rPID|1")
        for i in range(0, len(data), 3):
            sock.sendall(data[i : i + 3])
            time.sleep(0.002)
        assert read_frames(sock, 1) == [b"ACK MSH|split\rPID|1"]


@LOOPS
def test_coalesced_frames_are_answered_in_order(loop: str) -> None:
    with ServerThread(Echo(), loop=loop) as srv, connect(srv.port) as sock:
        sock.sendall(b"noise" + frame(b"MSH|1") + frame(b"MSH|2") + frame(b"MSH|3"))
        assert read_frames(sock, 3) == [b"ACK MSH|1", b"ACK MSH|2", b"ACK MSH|3"]
        assert srv.server.stats.discarded_bytes == 5


def test_many_concurrent_connections() -> None:
    handler = Echo(delay=0.005)

    async def client(port: int, n: int) -> list[bytes]:
        async with MllpClient("127.0.0.1", port) as c:
            return [await c.send(f"MSH|{n}|{i}".encode()) for i in range(10)]

    async def main(port: int) -> list[list[bytes]]:
        return await asyncio.gather(*(client(port, n) for n in range(20)))

    with ServerThread(handler, workers=8) as srv:
        results = asyncio.run(main(srv.port))
    assert all(acks == [f"ACK MSH|{n}|{i}".encode() for i in range(10)] for n, acks in enumerate(results))
    assert len(handler.handled) == 200
    assert handler.max_active > 1


@LOOPS
def test_client_dropping_mid_message_is_survived(loop: str) -> None:
    handler = Echo()
    with ServerThread(handler, loop=loop) as srv:
        with connect(srv.port) as sock:
            sock.sendall(b"\x0bMSH|never finished")
        time.sleep(0.1)
        assert send_and_read(srv.port, b"MSH|after") == b"ACK MSH|after"
        assert handler.handled == [b"MSH|after"]
        assert srv.server.stats.dropped_partial == 1


def test_client_gone_before_its_ack_does_not_stop_the_server() -> None:
    handler = Echo(delay=0.2)
    with ServerThread(handler) as srv:
        with connect(srv.port) as sock:
            sock.sendall(frame(b"MSH|orphan"))
            assert handler.started.wait(5)
        time.sleep(0.4)
        assert send_and_read(srv.port, b"MSH|next") == b"ACK MSH|next"
        assert handler.handled == [b"MSH|orphan", b"MSH|next"]


@LOOPS
def test_oversized_frame_is_answered_and_the_connection_goes_on(loop: str) -> None:
    with ServerThread(Echo(), max_frame_bytes=1000, loop=loop) as srv, connect(srv.port) as sock:
        sock.sendall(frame(b"MSH|" + b"x" * 5000) + frame(b"MSH|small"))
        assert read_frames(sock, 2) == [b"TOO BIG 5004", b"ACK MSH|small"]


@LOOPS
def test_graceful_shutdown_finishes_in_flight_messages_then_refuses_connections(loop: str) -> None:
    handler = Echo(delay=0.5)
    srv = ServerThread(handler, workers=3, loop=loop).__enter__()
    port = srv.port
    sock = connect(port)
    sock.sendall(frame(b"MSH|in-flight"))
    assert handler.started.wait(5)
    stopper = threading.Thread(target=srv.shutdown)
    stopper.start()
    assert read_frames(sock, 1) == [b"ACK MSH|in-flight"]  # answered although shutdown began
    stopper.join(20)
    sock.close()
    assert handler.handled == [b"MSH|in-flight"]
    assert len(handler.closed_threads) == 3 and len(set(handler.closed_threads)) == 3  # once per worker thread
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            refused = False
    except OSError:
        refused = True
    assert refused


def test_send_reliably_resends_after_the_listener_restarts() -> None:
    handler = Echo()
    first = ServerThread(handler).__enter__()
    port = first.port

    async def main() -> list[bytes]:
        async def restart() -> None:
            await asyncio.sleep(0.05)
            await asyncio.to_thread(first.shutdown)
            await asyncio.sleep(0.3)
            second.__enter__()

        second = ServerThread(handler)
        second.server.port = port
        task = asyncio.create_task(restart())
        acks: list[bytes] = []
        for i in range(3):
            report = await send_reliably([f"MSH|{i}".encode()], "127.0.0.1", port, timeout=2, give_up_after=10)
            acks += report.acks
            await asyncio.sleep(0.2)
        await task
        second.shutdown()
        return acks

    assert asyncio.run(main()) == [b"ACK MSH|0", b"ACK MSH|1", b"ACK MSH|2"]


@LOOPS
def test_tls_round_trip(tmp_path: Path, loop: str) -> None:
    cert, key = self_signed_cert(tmp_path)
    handler = Echo()
    with ServerThread(handler, ssl_context=make_server_ssl_context(str(cert), str(key)), loop=loop) as srv:

        async def main() -> bytes:
            async with MllpClient("127.0.0.1", srv.port, ssl_context=make_client_ssl_context(str(cert))) as c:
                return await c.send(b"MSH|secret")

        assert asyncio.run(main()) == b"ACK MSH|secret"
        with connect(srv.port) as plain:  # a plain-text client gets nothing it could read as an ACK
            plain.sendall(frame(b"MSH|plain"))
            assert read_frames(plain, 1, timeout=2) == []
    assert handler.handled == [b"MSH|secret"]


class Batcher(Echo):
    def __init__(self, delay: float = 0.05, fail: bool = False) -> None:
        super().__init__(delay)
        self.batches: list[int] = []
        self.fail = fail

    def handle_batch(self, items: list[tuple[bytes, str]]) -> list[bytes]:
        self.batches.append(len(items))
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("database down")
        return [b"ACK " + payload for payload, _peer in items]


def test_group_commit_batches_frames_from_all_connections_and_answers_each() -> None:
    handler = Batcher()

    async def client(port: int, n: int) -> list[bytes]:
        async with MllpClient("127.0.0.1", port) as c:
            return [await c.send(f"MSH|{n}|{i}".encode()) for i in range(5)]

    async def main(port: int) -> list[list[bytes]]:
        return await asyncio.gather(*(client(port, n) for n in range(6)))

    with ServerThread(handler) as srv:
        results = asyncio.run(main(srv.port))
        assert srv.server.stats.batches == len(handler.batches)
    assert all(acks == [f"ACK MSH|{n}|{i}".encode() for i in range(5)] for n, acks in enumerate(results))
    assert sum(handler.batches) == 30 and max(handler.batches) > 1  # frames of several connections together


def test_a_failing_batch_sends_no_ack_and_closes_the_connection() -> None:
    with ServerThread(Batcher(delay=0, fail=True)) as srv, connect(srv.port) as sock:
        sock.sendall(frame(b"MSH|lost"))
        assert read_frames(sock, 1, timeout=3) == []  # closed without an ACK: the sender will resend


def test_the_listener_runs_on_uvloop_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvloop

    monkeypatch.delenv("CARELOOP_EVENT_LOOP", raising=False)
    assert event_loop_factory() is uvloop.new_event_loop
    monkeypatch.setenv("CARELOOP_EVENT_LOOP", "asyncio")
    assert event_loop_factory() is None
