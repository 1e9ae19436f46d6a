"""Entry point of ``EpisodeWorker(process=True)``'s child process. Kept free of module-level Django imports:
the spawned interpreter unpickles this target before Django is set up."""

from __future__ import annotations

import os
import sys
from typing import Any


def worker_process(organization_id: int | None, limit: int, idle: float, linger: float, grace: float,
                   wake: Any, stopping: Any, parent_pid: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.config.settings")
    django.setup()
    from careloop.transitions.tasks import EpisodeWorker

    worker = EpisodeWorker(organization_id=organization_id, limit=limit, idle=idle, linger=linger, grace=grace)
    worker.attach(wake, stopping, parent_pid)
    worker.run()
    print(f"transitions worker process: {worker.consumed} queued discharge(s) processed"
          f"{f', {len(worker.failed)} failed' if worker.failed else ''}", file=sys.stderr, flush=True)
