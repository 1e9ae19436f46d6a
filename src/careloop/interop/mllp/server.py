"""asyncio MLLP listener. Transport only: no Django, no HL7 knowledge beyond framing.

The message handler is injected (``MessageHandler``). Each complete frame is handed to ``handler.handle``
in a worker thread (the handler does blocking database work there) and whatever bytes it returns are sent
back, framed, as the acknowledgement. Frames on one connection are handled one at a time, in order; many
connections are served at once, up to ``workers`` handler calls in parallel.

A handler that also has ``handle_batch`` (``BatchHandler``) gets group commit instead: the frames waiting
from all connections are handed over together, in arrival order, to one worker thread (one batch at a time;
the frames arriving meanwhile form the next batch), and each frame's reply goes back to its own connection.

Shutdown (``shutdown()``, or SIGTERM/SIGINT under ``run``): stop accepting, stop reading, finish every frame
already received (its handler call and its ACK), close the connections, release the worker threads'
resources (``handler.close_thread`` runs once on each worker thread), then return. A frame the peer had not
finished sending is dropped unacknowledged, so the peer sends it again: nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, cast

from careloop.interop.mllp.framing import DEFAULT_MAX_FRAME_BYTES, Discarded, Frame, FrameDecoder, Oversized, frame

log = logging.getLogger("careloop.mllp")


class MessageHandler(Protocol):
    def handle(self, payload: bytes, peer: str) -> bytes:
        """Process one message (already durable when this returns) and return its ACK."""

    def oversized(self, head: bytes, nbytes: int, peer: str) -> bytes | None:
        """A frame exceeded the size limit; return a NAK to send, or None to send nothing."""

    def close_thread(self) -> None:
        """Release resources the calling worker thread holds (e.g. database connections)."""


class BatchHandler(MessageHandler, Protocol):
    def handle_batch(self, items: list[tuple[bytes, str]]) -> list[bytes]:
        """Process several (payload, peer) messages at once; one ACK each, in order."""


@dataclass
class ServerStats:
    connections: int = 0
    messages: int = 0
    discarded_bytes: int = 0
    oversized: int = 0
    dropped_partial: int = 0
    batches: int = 0


def make_server_ssl_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, keyfile)
    return ctx


class _Connection(asyncio.Protocol):
    def __init__(self, server: MllpServer) -> None:
        self.server = server
        self.decoder = FrameDecoder(server.max_frame_bytes)
        self.queue: asyncio.Queue[Frame | Oversized | None] = asyncio.Queue()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.closed = False
        self.reading_paused = False
        self.worker: asyncio.Task[None] | None = None
        self._writable = asyncio.Event()
        self._writable.set()

    # -- asyncio.Protocol --------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's or uvloop's stream transport (uvloop's does not subclass asyncio.Transport)
        self.transport = cast(asyncio.Transport, transport)
        addr = transport.get_extra_info("peername")
        self.peer = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr)
        self.server._connections.add(self)
        self.server.stats.connections += 1
        self.worker = asyncio.get_running_loop().create_task(self._work())

    def data_received(self, data: bytes) -> None:
        for event in self.decoder.feed(data):
            self._route(event)
        if self.queue.qsize() >= self.server.max_queued and not self.reading_paused and self.transport:
            self.transport.pause_reading()
            self.reading_paused = True

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for event in self.decoder.close():
            if isinstance(event, Discarded):
                self.server.stats.dropped_partial += 1
                log.info("mllp %s: %s (%d bytes dropped, not acknowledged)", self.peer, event.reason, event.nbytes)
        self.queue.put_nowait(None)
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # -- work --------------------------------------------------------------------------------------------
    def _route(self, event: Frame | Discarded | Oversized) -> None:
        if isinstance(event, Discarded):
            self.server.stats.discarded_bytes += event.nbytes
            log.warning("mllp %s: discarded %d bytes: %s", self.peer, event.nbytes, event.reason)
        else:
            self.queue.put_nowait(event)

    def stop_reading(self) -> None:
        """Shutdown: read nothing more; finish what is queued, then end."""
        if self.transport and not self.closed and not self.reading_paused:
            self.transport.pause_reading()
            self.reading_paused = True
        self.queue.put_nowait(None)

    async def _work(self) -> None:
        server = self.server
        try:
            while True:
                item = await self.queue.get()
                if item is None:
                    break
                if isinstance(item, Frame):
                    server.stats.messages += 1
                    reply: bytes | None = await server._handle(item.payload, self.peer)
                else:
                    server.stats.oversized += 1
                    log.warning("mllp %s: frame of %d bytes exceeds the limit; rejected", self.peer, item.nbytes)
                    reply = await server._call(server.handler.oversized, item.head, item.nbytes, self.peer)
                if reply is not None and not self.closed and self.transport is not None:
                    self.transport.write(frame(reply))
                    await self._writable.wait()
                if (
                    self.reading_paused
                    and not server._stopping
                    and self.queue.qsize() < server.max_queued // 2
                    and self.transport
                    and not self.closed
                ):
                    self.transport.resume_reading()
                    self.reading_paused = False
        except Exception:
            log.exception("mllp %s: handler failed; closing the connection (unacknowledged messages are resent)",
                          self.peer)
        finally:
            if self.transport is not None and not self.closed:
                self.transport.close()
            self.server._connections.discard(self)


class MllpServer:
    def __init__(
        self,
        handler: MessageHandler,
        *,
        host: str = "127.0.0.1",
        port: int = 2575,
        ssl_context: ssl.SSLContext | None = None,
        workers: int = 8,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        max_queued: int = 64,
        inline: bool = False,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.workers = workers
        self.max_frame_bytes = max_frame_bytes
        self.max_queued = max(2, max_queued)
        self.inline = inline  # call the handler on the event loop (only for handlers that never block)
        self.stats = ServerStats()
        self._connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._stopping = False
        self.batching = hasattr(handler, "handle_batch") and not inline
        self.max_batch = 64
        self.linger = 0.002  # seconds a batch may wait for frames from other busy connections
        self._pending: asyncio.Queue[tuple[bytes, str, asyncio.Future[bytes]]] | None = None
        self._dispatcher: asyncio.Task[None] | None = None

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None and self._server.sockets, "server not started"
        sockname = self._server.sockets[0].getsockname()
        return str(sockname[0]), int(sockname[1])

    async def start(self) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        if self.batching:
            self.workers = 1  # group commit: one thread runs the batches
            self._pending = asyncio.Queue()
            self._dispatcher = loop.create_task(self._dispatch())
        if not self.inline:
            self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="mllp-worker")
        self._server = await loop.create_server(
            lambda: _Connection(self), self.host, self.port, ssl=self.ssl_context, reuse_address=True, backlog=512
        )
        return self.address

    async def _handle(self, payload: bytes, peer: str) -> bytes:
        if self._pending is None:
            reply = await self._call(self.handler.handle, payload, peer)
            assert reply is not None
            return reply
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending.put_nowait((payload, peer, future))
        return await future

    async def _dispatch(self) -> None:
        """Group commit: hand every frame waiting (up to ``max_batch``) to the handler in one call."""
        assert self._pending is not None
        handler: BatchHandler = self.handler  # type: ignore[assignment]
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._pending.get()]
            deadline = loop.time() + self.linger
            while len(batch) < self.max_batch:
                if not self._pending.empty():
                    batch.append(self._pending.get_nowait())
                    continue
                # Other connections are about to send (they got their ACK a moment ago): wait a little for them
                # rather than pay a whole batch's commits and audit update for one or two messages.
                remaining = deadline - loop.time()
                if len(batch) >= len(self._connections) or remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._pending.get(), remaining))
                except TimeoutError:
                    break
            self.stats.batches += 1
            try:
                replies = await loop.run_in_executor(self._executor, handler.handle_batch,
                                                     [(payload, peer) for payload, peer, _ in batch])
                if len(replies) != len(batch):
                    raise RuntimeError(f"handler returned {len(replies)} replies for {len(batch)} messages")
            except Exception as exc:  # every message of the batch fails alike: no ACK, the senders resend
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (*_, future), reply in zip(batch, replies, strict=True):
                if not future.done():
                    future.set_result(reply)

    async def _call(self, fn: Callable[..., bytes | None], *args: object) -> bytes | None:
        if self._executor is None:
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def shutdown(self, grace: float = 30.0) -> None:
        """Stop accepting, finish in-flight messages (up to ``grace`` seconds), close, release threads."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        conns = list(self._connections)
        for conn in conns:
            conn.stop_reading()
        workers = [c.worker for c in conns if c.worker is not None]
        if workers:
            done, pending = await asyncio.wait(workers, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("mllp: %d connection(s) still busy after %.0fs; closed", len(pending), grace)
        for conn in conns:
            if conn.transport is not None and not conn.closed:
                conn.transport.close()
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
        await self._release_threads()

    async def _release_threads(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            self.handler.close_thread()
            return
        n = self.workers
        barrier = threading.Barrier(n, timeout=10)

        def release() -> None:
            try:
                self.handler.close_thread()
            finally:
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait()  # one release per thread: each waits until all n threads took one

        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(executor, release) for _ in range(n)), return_exceptions=True)
        executor.shutdown(wait=True)


def run(
    handler: MessageHandler,
    *,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None = None,
    workers: int = 8,
    grace: float = 30.0,
    ready: Callable[[str, int], None] | None = None,
    inline: bool = False,
) -> int:
    """Serve until SIGTERM or SIGINT, then shut down gracefully. A second signal skips the grace period."""

    async def main() -> None:
        server = MllpServer(handler, host=host, port=port, ssl_context=ssl_context, workers=workers, inline=inline)
        bound = await server.start()
        if ready is not None:
            ready(*bound)
        stop = asyncio.Event()
        hurry = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            (hurry if stop.is_set() else stop).set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        await stop.wait()
        log.warning("mllp: shutting down (finishing in-flight messages)")
        shutdown = asyncio.ensure_future(server.shutdown(grace))
        hurried = asyncio.ensure_future(hurry.wait())
        await asyncio.wait({shutdown, hurried}, return_when=asyncio.FIRST_COMPLETED)
        if not shutdown.done():
            shutdown.cancel()
        hurried.cancel()
        st = server.stats
        print(f"mllp: stopped; {st.messages} messages in {st.batches or st.messages} batches on {st.connections} "
              f"connections, {st.oversized} oversized, {st.discarded_bytes} bytes discarded", file=sys.stderr,
              flush=True)

    asyncio.run(main(), loop_factory=event_loop_factory())
    return 0


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when installed (a dependency; libuv: about half the CPU per frame of asyncio's own loop
    for this server's many small reads and writes), else asyncio's. ``CARELOOP_EVENT_LOOP=asyncio`` forces
    asyncio's (for comparison)."""
    if os.environ.get("CARELOOP_EVENT_LOOP", "") == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop  # type: ignore[no-any-return]
