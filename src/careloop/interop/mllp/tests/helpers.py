"""Test helpers: run an MLLP server on a background event loop; make a self-signed TLS certificate."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from careloop.interop.mllp.framing import Frame, FrameDecoder, frame
from careloop.interop.mllp.server import MessageHandler, MllpServer, event_loop_factory


class ServerThread:
    """``with ServerThread(handler) as srv:`` serves on 127.0.0.1, a free port, until the block ends."""

    def __init__(self, handler: MessageHandler, *, loop: str = "production", **options: Any) -> None:
        """``loop``: "production" (the listener's: uvloop when installed), "asyncio" or "uvloop"."""
        self.server = MllpServer(handler, host="127.0.0.1", port=0, **options)
        if loop == "uvloop":
            import uvloop

            self.loop = uvloop.new_event_loop()
        else:
            factory = event_loop_factory() if loop == "production" else None
            self.loop = factory() if factory is not None else asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.stopped = False

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.start())
        self._ready.set()
        self.loop.run_forever()

    @property
    def port(self) -> int:
        return self.server.address[1]

    def __enter__(self) -> ServerThread:
        self._thread.start()
        assert self._ready.wait(10), "server did not start"
        return self

    def shutdown(self, grace: float = 10.0) -> None:
        if self.stopped:
            return
        self.stopped = True
        asyncio.run_coroutine_threadsafe(self.server.shutdown(grace), self.loop).result(timeout=grace + 20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_frames(sock: socket.socket, n: int, timeout: float = 10.0) -> list[bytes]:
    """Read until ``n`` frames arrived."""
    dec = FrameDecoder()
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        data = sock.recv(65536)
        if not data:
            break
        got += [e.payload for e in dec.feed(data) if isinstance(e, Frame)]
    return got


def send_and_read(port: int, payload: bytes) -> bytes:
    with connect(port) as sock:
        sock.sendall(frame(payload))
        return read_frames(sock, 1)[0]


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost and its key, made with ``cryptography`` or the openssl command;
    skips the test when neither is available."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        _with_cryptography(cert, key)
        return cert, key
    except ImportError:
        pass
    if shutil.which("openssl") is None:
        pytest.skip("TLS test needs the 'cryptography' package or the openssl command; neither is available")
    subprocess.run(  # noqa: S603
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


def _with_cryptography(cert_path: Path, key_path: Path) -> None:
    import datetime as dt
    import ipaddress

    from cryptography import x509  # type: ignore[import-not-found, unused-ignore]
    from cryptography.hazmat.primitives import hashes, serialization  # type: ignore[import-not-found, unused-ignore]
    from cryptography.hazmat.primitives.asymmetric import ec  # type: ignore[import-not-found, unused-ignore]
    from cryptography.x509.oid import NameOID  # type: ignore[import-not-found, unused-ignore]

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
