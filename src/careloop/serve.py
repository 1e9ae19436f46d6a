"""Run the web app (uvicorn). The embedded default: one process serving the UI, the API and FHIR.

The app is synchronous Django, so it is served through uvicorn's WSGI interface: a fixed pool of threads runs the
requests and each thread keeps its database connection (``CONN_MAX_AGE``, 60 s unless ``CARELOOP_CONN_MAX_AGE``
says otherwise). Under the ASGI interface Django runs every synchronous request on a new thread, so each request
opened (and closed) its own connection; with 16 clients on 2 cores that tripled the cost of a trivial
authenticated request (bench/RESULTS.md, worklist).
"""

from __future__ import annotations

import asyncio
import os
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HTTP_PROTOCOL = "careloop.serve:NoDelayHttpProtocol"


class NoDelayHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with ``TCP_NODELAY`` set on every connection.

    asyncio sets ``TCP_NODELAY`` only on sockets whose ``proto`` is ``IPPROTO_TCP``. uvicorn binds the listening
    socket itself when it runs more than one worker process (``socket.socket(family=...)``, proto 0), so the
    accepted connections kept Nagle's algorithm: the response body waited for the client's delayed ACK of the
    headers, ~40 ms on Linux for every keep-alive request (bench/RESULTS.md, worklist, 2026-11-29 09:00).
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - a socket closed while connecting
                pass
        super().connection_made(transport)


def serve(*, host: str, port: int) -> int:
    import uvicorn
    from django.conf import settings

    if "CARELOOP_CONN_MAX_AGE" not in os.environ:
        # Read when each thread opens its connection, i.e. after this point.
        settings.DATABASES["default"]["CONN_MAX_AGE"] = 60
    print(f"careloop is serving at http://{host}:{port}  (Ctrl+C to stop)", flush=True)
    uvicorn.run(
        "careloop.config.wsgi:application", interface="wsgi", host=host, port=port, log_level="warning",
        lifespan="off", http=HTTP_PROTOCOL,
    )
    return 0

