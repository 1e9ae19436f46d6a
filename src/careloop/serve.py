"""Run the web app (uvicorn). The embedded default: one process serving the UI, the API and FHIR.

The app is synchronous Django, so it is served through uvicorn's WSGI interface: a fixed pool of threads runs the
requests and each thread keeps its database connection (``CONN_MAX_AGE``, 60 s unless ``CARELOOP_CONN_MAX_AGE``
says otherwise). Under the ASGI interface Django runs every synchronous request on a new thread, so each request
opened (and closed) its own connection; with 16 clients on 2 cores that tripled the cost of a trivial
authenticated request (bench/RESULTS.md, worklist).
"""

from __future__ import annotations

import os


def serve(*, host: str, port: int) -> int:
    import uvicorn
    from django.conf import settings

    if "CARELOOP_CONN_MAX_AGE" not in os.environ:
        # Read when each thread opens its connection, i.e. after this point.
        settings.DATABASES["default"]["CONN_MAX_AGE"] = 60
    print(f"careloop is serving at http://{host}:{port}  (Ctrl+C to stop)", flush=True)
    uvicorn.run(
        "careloop.config.wsgi:application", interface="wsgi", host=host, port=port, log_level="warning",
        lifespan="off",
    )
    return 0

