"""Background work of the audit app: the SQLite read index (docs/adr/0006-deferred-read-index.md)."""

from __future__ import annotations

import logging
import os
import threading
import time

from django.db import connections

from careloop.audit import services
from careloop.audit.selectors import sqlite_database_file

log = logging.getLogger(__name__)
_STARTED: dict[int, threading.Thread] = {}
_STARTED_LOCK = threading.Lock()


def index_read_events_until_caught_up(*, limit: int = 20_000) -> int:
    """Run :func:`services.index_read_events` until a round takes fewer than ``limit`` events per chain."""
    total = 0
    while True:
        n = services.index_read_events(limit=limit)
        total += n
        if n < limit:
            return total


def start_read_index_thread(*, interval_seconds: float = 2.0) -> threading.Thread | None:
    """In a server process on a SQLite file: a daemon thread that indexes new read-chain events every
    ``interval_seconds`` (one per process; the processes take turns through the index file's lock). None elsewhere."""
    if sqlite_database_file() is None:
        return None
    with _STARTED_LOCK:
        thread = _STARTED.get(os.getpid())
        if thread is not None and thread.is_alive():
            return thread

        def loop() -> None:
            while True:
                try:
                    index_read_events_until_caught_up()
                except Exception:  # a failed round is retried at the next interval; the trail stays complete
                    log.exception("indexing read audit events failed")
                finally:
                    connections.close_all()
                time.sleep(interval_seconds)

        thread = threading.Thread(target=loop, name="careloop-audit-read-index", daemon=True)
        thread.start()
        _STARTED[os.getpid()] = thread
        return thread
