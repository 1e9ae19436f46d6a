"""Background jobs: thin, take ids, call services. ``careloop transitions scan`` runs ``scan_organizations``."""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import multiprocessing.process
import os
import threading
import time
from typing import Any, Protocol

from django.db import connections

from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.transitions.services import process_pending, scan_discharges
from careloop.transitions.worker_main import worker_process

log = logging.getLogger(__name__)


def scan_organizations(*, org_slug: str | None = None, since: dt.date | None = None) -> list[dict[str, Any]]:
    """Open episodes for discharges without one (``since``: clinic-local date of discharge) in one or every
    organization, and refresh open episodes from the outreach log and visits."""
    orgs = Organization.objects.order_by("pk")
    if org_slug:
        orgs = orgs.filter(slug=org_slug)
    out = []
    for org in orgs:
        start = dt.datetime.combine(since, dt.time(0), clock.clinic_zone(org.time_zone)) if since else None
        result = scan_discharges(organization_id=org.pk, actor=Actor.system(org.pk, "careloop transitions scan"),
                                 since=start)
        out.append({"organization": org.slug, "opened": len(result.opened), "queued": result.queued,
                    "refreshed": result.refreshed,
                    "failed": result.failed})
    return out


class _Flag(Protocol):
    def set(self) -> None: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class EpisodeWorker:
    """Works off the transitions queue (``PendingEpisodeSync``) in the background, so that the HL7 listener's
    ACKs never wait for episodes and tasks: in a thread, or (``process=True``) in a child process that has a core
    (and a GIL) of its own. ``notify()`` after a commit that may have queued work; it also polls every ``idle``
    seconds. ``stop()`` finishes the queue (up to ``grace`` seconds) and closes the database connection; whatever
    is left stays queued for the next start or ``transitions scan``. A child process whose parent died (SIGKILL)
    stops by itself. Work is taken ``limit`` rows per transaction (on SQLite that transaction holds the write lock
    the listener's ACKs wait for), after letting it accumulate for ``linger`` seconds."""

    def __init__(self, *, organization_id: int | None = None, limit: int = 32, idle: float = 1.0,
                 linger: float = 0.25, process: bool = False, grace: float = 30.0) -> None:
        self.organization_id = organization_id
        self.limit = limit
        self.idle = idle
        self.linger = linger  # after a wake-up, let work accumulate: a batch's fixed cost is paid for many rows
        self.grace = grace
        self.consumed = 0
        self.failed: dict[int, str] = {}
        self.parent_pid: int | None = None
        self._runner: threading.Thread | multiprocessing.process.BaseProcess
        self._wake: _Flag
        self._stopping: _Flag
        if process:
            ctx = multiprocessing.get_context("spawn")
            self._wake, self._stopping = ctx.Event(), ctx.Event()
            self._runner = ctx.Process(target=worker_process, name="transitions-worker", daemon=True, args=(
                organization_id, limit, idle, linger, grace, self._wake, self._stopping, os.getpid()))
        else:
            self._wake, self._stopping = threading.Event(), threading.Event()
            self._runner = threading.Thread(target=self.run, name="transitions-worker", daemon=True)

    def start(self) -> EpisodeWorker:
        self._runner.start()
        return self

    def attach(self, wake: _Flag, stopping: _Flag, parent_pid: int) -> None:
        """In the child process: use the parent's flags; stop when the parent is gone."""
        self._wake, self._stopping, self.parent_pid = wake, stopping, parent_pid

    @property
    def alive(self) -> bool:
        return self._runner.is_alive()

    def notify(self) -> None:
        self._wake.set()

    def stop(self, grace: float | None = None) -> None:
        if grace is not None:
            self.grace = grace
        self._stopping.set()
        self._wake.set()
        self._runner.join(self.grace + 10)

    def run(self) -> None:
        """The loop (the thread's target; the child process calls it too)."""
        deadline: float | None = None
        try:
            while True:
                self._wake.wait(self.idle)
                if not self._stopping.is_set():
                    self._stopping.wait(self.linger)
                self._wake.clear()
                while True:
                    if self._stopping.is_set():
                        deadline = deadline or time.monotonic() + self.grace
                        if time.monotonic() > deadline:
                            return
                    if self.parent_pid is not None and os.getppid() != self.parent_pid:
                        log.warning("transitions worker: the listener is gone; stopping")
                        return
                    try:
                        result = process_pending(organization_id=self.organization_id, limit=self.limit)
                    except Exception:  # the database went away: retry after a pause, nothing is lost
                        log.exception("transitions worker: could not read the queue")
                        connections.close_all()
                        time.sleep(1.0)
                        break
                    self.consumed += result.consumed
                    self.failed.update(result.failed)
                    if result.consumed == 0:
                        break
                if self._stopping.is_set() or (self.parent_pid is not None and os.getppid() != self.parent_pid):
                    return
        finally:
            connections.close_all()
