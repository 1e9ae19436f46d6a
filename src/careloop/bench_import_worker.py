"""Subprocess for `careloop bench import`: a fresh database, one timed import, JSON on stdout."""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

import orjson


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from careloop.bench import peak_rss_kib
    from careloop.clinics.models import Organization
    from careloop.core.actor import Actor
    from careloop.interop.fhir.importer import FhirImporter

    call_command("migrate", interactive=False, verbosity=0)
    org = Organization.objects.create(name="Bench clinic", slug="bench")
    importer = FhirImporter(organization_id=org.pk, source_system="bench", actor=Actor.system(org.pk, "bench"))
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    summary = importer.import_paths([Path(sys.argv[1])])
    seconds = time.perf_counter() - start
    mine, child = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    counts = summary.as_json()
    out = {
        "seconds": seconds,
        "resources": sum(c["created"] + c["updated"] + c["unchanged"] for c in counts.values()),
        "rejected": sum(c["rejected"] for c in counts.values()),
        "peak_rss_kib": peak_rss_kib(),
        # CPU time of the writer (this process) and of the parse process: what the import costs whatever else runs.
        "writer_cpu_seconds": mine.ru_utime + mine.ru_stime - before.ru_utime - before.ru_stime,
        "parser_cpu_seconds": child.ru_utime + child.ru_stime,
    }
    sys.stdout.write(orjson.dumps(out).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
