"""Run the web app (ASGI, uvicorn). The embedded default: one process serving the UI, the API and FHIR."""

from __future__ import annotations


def serve(*, host: str, port: int) -> int:
    import uvicorn

    print(f"careloop is serving at http://{host}:{port}  (Ctrl+C to stop)", flush=True)
    uvicorn.run("careloop.config.asgi:application", host=host, port=port, log_level="warning", lifespan="off")
    return 0
