"""core.db helpers for the bulk and per-batch write paths (here, not in core/tests: they use registry models)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from careloop.clinics.tests.factories import make_org
from careloop.core.db import refresh_planner_statistics, statistics_columns, widen_psycopg_query_cache
from careloop.registry.models import RawHl7Message
from careloop.registry.services import store_hl7_message


def test_statistics_columns_are_the_keys_and_small_columns_not_the_payload() -> None:
    cols = statistics_columns(RawHl7Message)
    # the exactly-once key (a partial unique constraint on the status) and the foreign keys
    assert {"id", "organization_id", "sending_application", "sending_facility", "control_id", "status",
            "patient_id"} <= set(cols)
    assert "raw" not in cols and "error" not in cols  # message text and free text are not analyzed
    assert {"message_type", "version", "received_at", "ack_code"} <= set(cols)  # small columns: all of them
    table_order = [f.column for f in RawHl7Message._meta.concrete_fields]
    assert cols == [c for c in table_order if c in cols]


@pytest.mark.django_db
def test_refresh_planner_statistics_leaves_the_payload_columns_out() -> None:
    table = RawHl7Message._meta.db_table
    org = make_org("analyze")
    store_hl7_message(organization_id=org.pk, header={"sending_application": "HIS", "control_id": "C1"},
                      raw="MSH|^~\\&|HIS|GENHOSP|||20260101||ADT^A01|C1|P|2.5.1", source="test")
    with CaptureQueriesContext(connection) as ran:
        refresh_planner_statistics([RawHl7Message])
    if connection.vendor != "postgresql":  # SQLite's plans here do not depend on statistics: nothing to run
        assert ran.captured_queries == []
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT attname FROM pg_stats WHERE tablename = %s", [table])
        analyzed = {r[0] for r in cursor.fetchall()}
    assert "control_id" in analyzed and "status" in analyzed
    assert "raw" not in analyzed


def test_psycopg_caches_the_conversion_of_small_multi_row_statements() -> None:
    queries = pytest.importorskip("psycopg._queries")
    widen_psycopg_query_cache()  # also done at start-up (CoreConfig.ready); idempotent
    assert queries.MAX_CACHED_STATEMENT_PARAMS >= 1000
    assert queries.MAX_CACHED_STATEMENT_LENGTH >= 32 * 1024
