"""The web server sets TCP_NODELAY on every connection, also when uvicorn runs several worker processes."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from careloop.serve import HTTP_PROTOCOL, NoDelayHttpProtocol


class _Transport(asyncio.Transport):
    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"socket": self._sock, "sockname": self._sock.getsockname(),
                "peername": self._sock.getpeername()}.get(name, default)

    def is_closing(self) -> bool:
        return False


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:  # pragma: no cover - never called
    start_response("200 OK", [])
    return [b""]


def test_accepted_connection_of_a_proto_0_listener_gets_nodelay() -> None:
    # uvicorn binds the listening socket itself with more than one worker: socket.socket(family=...), proto 0,
    # for which asyncio does not set TCP_NODELAY on accepted connections (Nagle + delayed ACK: ~40 ms a request).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    loop = asyncio.new_event_loop()
    try:
        assert accepted.proto == 0
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        config = Config(app=_app, interface="wsgi", http=HTTP_PROTOCOL, log_level="warning")
        config.load()
        assert config.http_protocol_class is NoDelayHttpProtocol
        protocol = NoDelayHttpProtocol(config=config, server_state=ServerState(), app_state={}, _loop=loop)
        protocol.connection_made(_Transport(accepted))
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        loop.close()
        for s in (client, accepted, listener):
            s.close()


def test_serve_with_workers_spreads_connections_and_stops_on_sigterm(tmp_path: Path) -> None:
    import http.client
    import os
    import signal
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, CARELOOP_DATA_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               CARELOOP_LOG_LEVEL="ERROR")
    server = subprocess.Popen([sys.executable, "-m", "careloop.cli", "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(_listening_pids(port)) < 2 and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.2)
        listeners = _listening_pids(port)
        assert len(listeners) == 2 and server.pid not in listeners  # two worker processes, a socket each
        for _ in range(4):  # every new connection is served, whichever process the kernel gives it to
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/api/health")
            response = conn.getresponse()
            assert response.status == 200 and b"ok" in response.read()
            conn.close()
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
    assert code == 0
    assert _listening_pids(port) == set()


def _listening_pids(port: int) -> set[int]:
    """Processes with a listening socket on ``port`` (Linux /proc)."""
    import os

    inodes = {line.split()[9] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
              if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"}
    pids = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    pids.add(int(pid))
        except OSError:
            continue
    return pids
