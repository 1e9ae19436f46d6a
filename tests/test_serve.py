"""The web server sets TCP_NODELAY on every connection, also when uvicorn runs several worker processes."""

from __future__ import annotations

import asyncio
import socket
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
