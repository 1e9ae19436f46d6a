"""Run the web app (uvicorn). The embedded default: one process serving the UI, the API and FHIR.

The app is synchronous Django, so it is served through uvicorn's WSGI interface: a fixed pool of threads runs the
requests and each thread keeps its database connection (``CONN_MAX_AGE``, 60 s unless ``CARELOOP_CONN_MAX_AGE``
says otherwise). Under the ASGI interface Django runs every synchronous request on a new thread, so each request
opened (and closed) its own connection; with 16 clients on 2 cores that tripled the cost of a trivial
authenticated request (bench/RESULTS.md, worklist).

``--workers N`` (N > 1) starts N server processes, each with its own listening socket on the same port
(``SO_REUSEPORT``): the kernel spreads new connections over them. uvicorn's own ``--workers`` shares one socket,
and the first process to wake accepts every pending connection, so 16 keep-alive clients ended up 14 on one
process and 2 on the other (one core busy, one idle; bench/RESULTS.md, worklist, 2026-11-29).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import socket
import threading
from types import FrameType

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HTTP_PROTOCOL = "careloop.serve:NoDelayHttpProtocol"
APP = "careloop.config.wsgi:application"
# asyncio's own loop, as measured for the worklist benchmark (uvicorn's "auto" would take uvloop, installed for
# the MLLP listener).
LOOP = "asyncio"


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


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP listening socket on (host, port) that other processes may bind too (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _uvicorn_config() -> object:
    import uvicorn

    return uvicorn.Config(APP, interface="wsgi", log_level="warning", lifespan="off", http=HTTP_PROTOCOL,
                          access_log=False, loop=LOOP)


def _worker(host: str, port: int) -> None:
    """One server process (spawned): its own socket on the shared port, uvicorn until SIGTERM/SIGINT."""
    import uvicorn

    config = _uvicorn_config()
    assert isinstance(config, uvicorn.Config)
    uvicorn.Server(config).run(sockets=[listening_socket(host, port)])


def serve(*, host: str, port: int, workers: int = 1) -> int:
    import uvicorn

    # Read when each thread opens its connection, i.e. after this point (worker processes read the environment).
    os.environ.setdefault("CARELOOP_CONN_MAX_AGE", "60")
    from django.conf import settings

    settings.DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ["CARELOOP_CONN_MAX_AGE"])
    if workers > 1 and port == 0:
        print("careloop: --workers needs a fixed --port", flush=True)
        return 2
    print(f"careloop is serving at http://{host}:{port}  (Ctrl+C to stop)", flush=True)
    if workers <= 1:
        uvicorn.run(APP, interface="wsgi", host=host, port=port, log_level="warning", lifespan="off",
                    http=HTTP_PROTOCOL, loop=LOOP)
        return 0
    return _supervise(host, port, workers)


def _supervise(host: str, port: int, workers: int) -> int:
    """Keep ``workers`` server processes running until SIGTERM/SIGINT, then stop them gracefully."""
    ctx = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    procs = [ctx.Process(target=_worker, args=(host, port), name=f"careloop-serve-{i}") for i in range(workers)]
    for proc in procs:
        proc.start()
    while not stop.wait(0.5):
        for i, proc in enumerate(procs):
            if not proc.is_alive():  # a crashed worker is replaced; the others keep serving
                print(f"careloop: server process {proc.pid} exited ({proc.exitcode}); starting another", flush=True)
                procs[i] = ctx.Process(target=_worker, args=(host, port), name=proc.name)
                procs[i].start()
    for proc in procs:
        if proc.is_alive() and proc.pid is not None:
            os.kill(proc.pid, signal.SIGTERM)
    for proc in procs:
        proc.join(30)
        if proc.is_alive():
            proc.kill()
            proc.join()
    return 0
