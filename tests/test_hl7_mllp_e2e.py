"""HL7 v2 over MLLP end to end: a real socket, the real handler, the database (threads touch the DB)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from careloop.clinics.tests.factories import make_org
from careloop.interop.hl7v2.inbox import Hl7Inbox, MllpHandler
from careloop.interop.hl7v2.tests.factories import adt
from careloop.interop.mllp.client import MllpClient, ack_summary, make_client_ssl_context, send_reliably
from careloop.interop.mllp.framing import frame
from careloop.interop.mllp.server import make_server_ssl_context
from careloop.interop.mllp.tests.helpers import ServerThread, connect, read_frames, self_signed_cert
from careloop.registry.models import Encounter, RawHl7Message

pytestmark = pytest.mark.django_db(transaction=True)
EST = dt.timezone(dt.timedelta(hours=-5))


def _send(port: int, *messages: str, ssl_cert: Path | None = None) -> list[bytes]:
    async def main() -> list[bytes]:
        ctx = make_client_ssl_context(str(ssl_cert)) if ssl_cert else None
        async with MllpClient("127.0.0.1", port, ssl_context=ctx) as client:
            return [await client.send(m.encode()) for m in messages]

    return asyncio.run(main())


def test_discharge_over_a_socket_is_stored_applied_and_acknowledged() -> None:
    org = make_org()
    with ServerThread(MllpHandler(Hl7Inbox(organization_id=org.pk)), workers=2) as srv:
        acks = _send(srv.port, adt("A01", "E2E-1"),
                     adt("A03", "E2E-2", discharge="20260105083000-0500", disposition="01"))
    assert [ack_summary(a)[:2] for a in acks] == [("AA", "E2E-1"), ("AA", "E2E-2")]
    enc = Encounter.objects.get()
    assert (enc.status, enc.end, enc.end_offset) == ("finished", dt.datetime(2026, 1, 5, 8, 30, tzinfo=EST), "-05:00")
    assert set(RawHl7Message.objects.values_list("status", "source")) == {
        ("accepted", next(iter(RawHl7Message.objects.values_list("source", flat=True))))}


def test_bad_message_gets_an_ar_with_the_reason_over_the_socket() -> None:
    org = make_org()
    with ServerThread(MllpHandler(Hl7Inbox(organization_id=org.pk))) as srv, connect(srv.port) as sock:
        sock.sendall(frame(b"PID|1||X^^^H^MR"))
        [ack] = read_frames(sock, 1)
    code, control_id, text = ack_summary(ack)
    assert (code, control_id) == ("AR", "") and "not MSH" in text


def test_concurrent_senders_resending_are_applied_once() -> None:
    org = make_org()
    messages = [[adt("A01", f"S{s}-{i}", mrn=f"M{s}", family=f"FAM{s}", given=f"G{s}", visit=f"V{s}-{i}").encode()
                 for i in range(5)] for s in range(4)]

    async def main(port: int) -> None:
        await asyncio.gather(*(send_reliably(m, "127.0.0.1", port) for m in messages))
        await asyncio.gather(*(send_reliably(m, "127.0.0.1", port) for m in messages))  # everything again

    with ServerThread(MllpHandler(Hl7Inbox(organization_id=org.pk)), workers=4) as srv:
        asyncio.run(main(srv.port))
    assert RawHl7Message.objects.filter(status="accepted").count() == 20
    assert RawHl7Message.objects.filter(status="duplicate").count() == 20
    assert Encounter.objects.count() == 20


def test_tls_round_trip(tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    org = make_org()
    ctx = make_server_ssl_context(str(cert), str(key))
    with ServerThread(MllpHandler(Hl7Inbox(organization_id=org.pk)), ssl_context=ctx) as srv:
        [ack] = _send(srv.port, adt("A03", "TLS-1", discharge="20260105083000-0500"), ssl_cert=cert)
    assert ack_summary(ack)[:2] == ("AA", "TLS-1")
    assert Encounter.objects.get().status == "finished"


class Slow(MllpHandler):
    def __init__(self, inbox: Hl7Inbox) -> None:
        super().__init__(inbox)
        self.started = threading.Event()
        self.closed = 0

    def handle_batch(self, items: list[tuple[bytes, str]]) -> list[bytes]:
        self.started.set()
        time.sleep(0.5)
        return super().handle_batch(items)

    def close_thread(self) -> None:
        self.closed += 1
        super().close_thread()


def test_graceful_shutdown_commits_and_acknowledges_in_flight_messages() -> None:
    org = make_org()
    handler = Slow(Hl7Inbox(organization_id=org.pk))
    srv = ServerThread(handler, workers=2).__enter__()
    with connect(srv.port) as sock:
        sock.sendall(frame(adt("A03", "LAST", discharge="20260105083000-0500").encode()))
        assert handler.started.wait(5)
        stopper = threading.Thread(target=srv.shutdown)
        stopper.start()
        [ack] = read_frames(sock, 1)
        stopper.join(20)
    assert ack_summary(ack)[:2] == ("AA", "LAST")
    assert RawHl7Message.objects.get().status == "accepted" and Encounter.objects.count() == 1
    assert handler.closed == 1  # the database thread closed its connection
