"""MLLP client: send messages one at a time and wait for each acknowledgement. No Django.

``MllpClient`` is one connection. ``send_reliably`` keeps going through dropped connections and listener
restarts: it reconnects (with backoff) and resends the message whose ACK it did not get, so every message is
acknowledged exactly once from the sender's point of view; the receiver's duplicate detection (same MSH-10
from the same sender) makes the resend harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from careloop.interop.mllp.framing import Frame, FrameDecoder, frame

ACK_TIMEOUT = 30.0


class AckTimeout(Exception):
    pass


def make_client_ssl_context(cafile: str | None = None, *, verify: bool = True) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def ack_summary(ack: bytes) -> tuple[str, str, str]:
    """(MSA-1 code, MSA-2 control id, MSA-3 text) of an ACK; empty strings when absent."""
    text = ack.decode("utf-8", "replace")
    sep = text[3] if len(text) > 3 and text.startswith("MSH") else "|"
    for segment in text.replace("\n", "\r").split("\r"):
        if segment.startswith("MSA"):
            parts = segment.split(sep)
            parts += [""] * (4 - len(parts))
            return parts[1], parts[2], parts[3]
    return "", "", ""


class MllpClient:
    def __init__(self, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None,
                 timeout: float = ACK_TIMEOUT) -> None:
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._decoder = FrameDecoder()
        self._acks: list[bytes] = []

    async def connect(self) -> None:
        server_hostname = self.host if self.ssl_context is not None else None
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, ssl=self.ssl_context, server_hostname=server_hostname),
            timeout=self.timeout,
        )
        self._decoder = FrameDecoder()
        self._acks = []

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def send(self, message: bytes) -> bytes:
        """Send one message and return its ACK payload."""
        if self._writer is None or self._reader is None:
            await self.connect()
        assert self._writer is not None and self._reader is not None
        self._writer.write(frame(message))
        await self._writer.drain()
        deadline = time.monotonic() + self.timeout
        while not self._acks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AckTimeout(f"no ACK within {self.timeout:.0f}s")
            try:
                data = await asyncio.wait_for(self._reader.read(65536), timeout=remaining)
            except TimeoutError as exc:
                raise AckTimeout(f"no ACK within {self.timeout:.0f}s") from exc
            if not data:
                raise ConnectionResetError("connection closed before the ACK arrived")
            self._acks.extend(e.payload for e in self._decoder.feed(data) if isinstance(e, Frame))
        return self._acks.pop(0)

    async def __aenter__(self) -> MllpClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


@dataclass
class SendReport:
    acks: list[bytes] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    resends: int = 0
    reconnects: int = 0


async def send_reliably(
    messages: Sequence[bytes],
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = ACK_TIMEOUT,
    give_up_after: float = 120.0,
    on_ack: Callable[[int, bytes], None] | None = None,
) -> SendReport:
    """Send every message in order; on any connection failure reconnect and resend the unacknowledged one."""
    report = SendReport()
    client = MllpClient(host, port, ssl_context=ssl_context, timeout=timeout)
    i = 0
    failing_since: float | None = None
    backoff = 0.05
    try:
        while i < len(messages):
            started = time.perf_counter()
            try:
                ack = await client.send(messages[i])
            except (OSError, AckTimeout, asyncio.IncompleteReadError, ssl.SSLError) as exc:
                await client.close()
                now = time.monotonic()
                failing_since = failing_since or now
                if now - failing_since > give_up_after:
                    raise ConnectionError(f"gave up after {give_up_after:.0f}s: {exc}") from exc
                report.resends += 1
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
                    await client.connect()
                    report.reconnects += 1
                continue
            failing_since, backoff = None, 0.05
            report.latencies.append(time.perf_counter() - started)
            report.acks.append(ack)
            if on_ack is not None:
                on_ack(i, ack)
            i += 1
    finally:
        await client.close()
    return report
