"""Set-based writes for bulk paths: one executemany per table instead of per-object ORM work.

Values go through the backend's own adapters (dates, datetimes, JSON) chosen once per column, so the same
code writes correct values to SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from django.db import connection, models
from django.utils import timezone

Adapter = Callable[[Any], Any] | None


def _adapter(field: models.Field[Any, Any]) -> Adapter:
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value  # type: ignore[no-any-return]
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value  # type: ignore[no-any-return]
    if isinstance(field, models.JSONField):
        json_field = field

        def adapt_json(value: Any) -> Any:
            return json_field.get_db_prep_save(value, connection)

        return adapt_json
    return None


def insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, ignore_conflicts: bool = False,
    multi_row: bool = False,
) -> None:
    """INSERT ``rows`` (tuples in ``columns`` order, field names) into ``model``'s table.

    ``ignore_conflicts`` skips rows that violate a unique constraint (ON CONFLICT DO NOTHING). ``multi_row``: one
    INSERT with a VALUES list per chunk of rows instead of executemany (on PostgreSQL one statement parsed and
    planned for a handful of rows instead of one per row; for large sets executemany's pipeline is cheaper).
    """
    if not rows:
        return
    meta = model._meta
    fields = [meta.get_field(name) for name in columns]
    given = {f.name for f in fields}
    # Columns not given take the model's default as the ORM would ("" for blank text, evaluated per row when
    # callable), so a raw insert never trips a NOT NULL the ORM would have filled.
    defaults = [f for f in meta.concrete_fields if f.name not in given and not f.primary_key]
    if defaults:
        fields = [*fields, *defaults]
        callables = [f.has_default() and callable(f.default) for f in defaults]
        constants = [None if c else f.get_default() for f, c in zip(defaults, callables, strict=True)]
        rows = [
            (*row, *(f.get_default() if c else k for f, c, k in zip(defaults, callables, constants, strict=True)))
            for row in rows
        ]
    qn = connection.ops.quote_name
    cols = ", ".join(qn(str(f.column)) for f in fields)  # type: ignore[union-attr]
    sql = f"INSERT INTO {qn(meta.db_table)} ({cols}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608 - identifiers from model metadata, values bound
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    adapters = [(i, a) for i, f in enumerate(fields) if (a := _adapter(f)) is not None]  # type: ignore[arg-type]
    if adapters:
        prepared: list[Sequence[Any]] = []
        # Bulk rows repeat values (the batch's timestamp): adapt each distinct object once per column.
        last: list[tuple[object, object]] = [(None, None)] * len(adapters)
        for row in rows:
            values = list(row)
            for n, (i, adapt) in enumerate(adapters):
                v = values[i]
                if v is not None:
                    seen, out = last[n]
                    if v is not seen:
                        out = adapt(v)
                        last[n] = (v, out)
                    values[i] = out
            prepared.append(values)
        rows = prepared
    with connection.cursor() as cursor:
        if not multi_row:
            cursor.executemany(sql, rows)
            return
        head, one = sql.split(" VALUES ")
        one, tail = (one.removesuffix(" ON CONFLICT DO NOTHING"), " ON CONFLICT DO NOTHING") if ignore_conflicts \
            else (one, "")
        per = max(1, (connection.features.max_query_params or 999) // len(fields))
        for lo in range(0, len(rows), per):
            chunk = rows[lo : lo + per]
            cursor.execute(f"{head} VALUES {', '.join([one] * len(chunk))}{tail}", [v for row in chunk for v in row])


def update_rows(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """UPDATE rows by id: each row is the new values of ``columns`` (field names), then the id."""
    if not rows:
        return
    fields, adapters = _row_fields(model)
    qn = connection.ops.quote_name
    sets = ", ".join(f"{qn(str(fields[c].column))} = %s" for c in columns)
    sql = f"UPDATE {qn(model._meta.db_table)} SET {sets} WHERE id = %s"  # noqa: S608 - names from model metadata
    adapt = [adapters[c] for c in columns]
    prepared = [[a(v) if a is not None and v is not None else v for a, v in zip(adapt, row, strict=False)]
                + [row[-1]] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, prepared)


_ROW_FIELDS: dict[type[models.Model], tuple[dict[str, models.Field[Any, Any]], dict[str, Adapter]]] = {}


def _row_fields(model: type[models.Model]) -> tuple[dict[str, models.Field[Any, Any]], dict[str, Adapter]]:
    if model not in _ROW_FIELDS:  # per model, once: the fields by name and their value adapters
        fields = {f.name: f for f in model._meta.concrete_fields}
        _ROW_FIELDS[model] = fields, {name: _adapter(f) for name, f in fields.items()}  # type: ignore[arg-type]
    return _ROW_FIELDS[model]


_ROW_SQL: dict[tuple[Any, ...], str] = {}


def _row_sql(model: type[models.Model], fields: dict[str, models.Field[Any, Any]], names: list[str], insert: bool,
             guarded: bool) -> str:
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    columns = [qn(str(fields[name].column)) for name in names]
    if insert:
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) RETURNING id"  # noqa: S608
    sets = ", ".join(f"{c} = %s" for c in columns)
    return f"UPDATE {table} SET {sets} WHERE id = %s" + (" AND status = %s" if guarded else "")  # noqa: S608


def write_row(model: type[models.Model], values: dict[str, Any], pk: int | None = None,
              status_was: str | None = None) -> int:
    """One row by plain SQL, for per-message paths where the ORM's query compilation costs ~20x the statement.

    ``pk`` None: INSERT ``values`` (field names; the fields not given take their model default, timestamps set)
    and return the new id. Otherwise UPDATE row ``pk`` (only while its ``status`` is ``status_was``, if given)
    and return the number of rows changed.
    """
    fields, adapters = _row_fields(model)
    now = timezone.now()
    stamps = {"updated_at": now} if pk else {"created_at": now, "updated_at": now}
    values = {**{k: v for k, v in stamps.items() if k in fields}, **values}
    if pk is None:
        values.update({n: f.get_default() for n, f in fields.items() if n not in values and not f.primary_key})
    params = []
    for name, value in values.items():
        adapt = adapters[name]
        params.append(adapt(value) if adapt is not None and value is not None else value)
    key = (model, connection.vendor, tuple(values), pk is None, bool(status_was))
    sql = _ROW_SQL.get(key) or _ROW_SQL.setdefault(key, _row_sql(model, fields, list(values), pk is None,
                                                                  bool(status_was)))
    if pk is not None:
        params += [pk, status_was] if status_was else [pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0]) if pk is None else int(cursor.rowcount)


def refresh_planner_statistics(models_: Sequence[type[models.Model]]) -> None:
    """PostgreSQL: ANALYZE these tables. Tables that grow from empty are planned as if still empty (index
    scans on the organization alone) until statistics exist; autovacuum fixes that, unless it is off or behind.
    Free text, JSON and binary columns are left out (``statistics_columns``; row counts and pages are refreshed
    either way): the planner never filters on them, and reading them (the raw HL7 messages) made up most of
    the ANALYZE's cost. A no-op on SQLite, whose plans here do not depend on statistics."""
    if connection.vendor == "postgresql":
        qn = connection.ops.quote_name
        tables = [f"{qn(m._meta.db_table)} ({', '.join(qn(c) for c in statistics_columns(m))})" for m in models_]
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(tables))


def statistics_columns(model: type[models.Model]) -> list[str]:
    """The columns of ``model`` worth the planner's statistics, in table order: every column its primary key,
    foreign keys, indexes and constraints use (conditions of partial ones included), and every other column but
    free text, JSON and binary payloads (their values are large and never filtered on)."""
    meta = model._meta
    names: set[str] = set()

    def condition(q: Any) -> None:
        for child in getattr(q, "children", ()):
            if isinstance(child, tuple):
                names.add(str(child[0]).split("__")[0])
            else:
                condition(child)

    for f in meta.concrete_fields:
        payload = isinstance(f, models.TextField | models.JSONField | models.BinaryField)
        if f.primary_key or f.unique or getattr(f, "db_index", False) or f.is_relation or not payload:
            names.add(f.name)
    for group in [*meta.unique_together, *(i.fields for i in meta.indexes)]:
        names.update(n.lstrip("-") for n in group)
    for item in [*meta.indexes, *meta.constraints]:
        names.update(getattr(item, "fields", ()) or ())
        condition(getattr(item, "condition", None))
    columns = {meta.get_field(n).column for n in names if n}  # type: ignore[union-attr]
    return [str(f.column) for f in meta.concrete_fields if f.column in columns]


def widen_psycopg_query_cache() -> None:
    """psycopg converts each query's ``%s`` placeholders with a regular-expression split, cached per query text
    only for queries of at most 50 parameters and 4 KiB. The small multi-row INSERTs of the per-batch paths (HL7
    intake: 8 rows x 20 columns) exceed that and were split afresh on every execution (~15% of the listener's
    CPU on PostgreSQL). Widen the limits to 1,000 parameters / 32 KiB: the cache stays an LRU of 128 texts, and
    the large bulk statements (imports) are still converted uncached. psycopg is pinned; if these internals move,
    this does nothing."""
    try:
        from psycopg import _queries
    except ImportError:  # PostgreSQL driver not installed: nothing to tune
        return
    if hasattr(_queries, "MAX_CACHED_STATEMENT_PARAMS") and hasattr(_queries, "MAX_CACHED_STATEMENT_LENGTH"):
        _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, 1000)
        _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, 32 * 1024)


# ---- prepared rows: values converted ahead of time (possibly in a worker process), bound as they are --------

Converter = Callable[[Any], Any]


def _sqlite_datetime(value: Any) -> Any:
    # As Django's SQLite adapter: an aware value in UTC, naive, as text.
    tz = value.tzinfo
    if tz is not None:
        value = (value if tz is dt.UTC else value.astimezone(dt.UTC)).replace(tzinfo=None)
    return str(value)


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def value_converters(model: type[models.Model], columns: Sequence[str], vendor: str) -> list[tuple[int, Converter]]:
    """(position, converter) for the ``columns`` (field names) of ``model`` whose Python values need converting
    before ``insert_prepared``/``update_prepared`` bind them on ``vendor`` ("sqlite", "postgresql").

    Pure (no database connection), so a parse process can prepare rows while another process writes. None stays
    None: apply a converter only to a value that is not None.
    """
    out: list[tuple[int, Converter]] = []
    for i, name in enumerate(columns):
        f = model._meta.get_field(name)
        if isinstance(f, models.JSONField):
            out.append((i, _json_text))
        elif vendor == "sqlite" and isinstance(f, models.DateTimeField):
            out.append((i, _sqlite_datetime))
        elif vendor == "sqlite" and isinstance(f, models.DateField):
            out.append((i, str))
    return out


def convert_row(values: Sequence[Any], converters: list[tuple[int, Converter]]) -> tuple[Any, ...]:
    if not converters:
        return tuple(values)
    out = list(values)
    for i, convert in converters:
        v = out[i]
        if v is not None:
            out[i] = convert(v)
    return tuple(out)


_PREPARED: dict[tuple[Any, ...], tuple[str, tuple[Any, ...]]] = {}


def _placeholder(f: models.Field[Any, Any]) -> str:
    # JSON arrives as text (value_converters); PostgreSQL casts it, SQLite stores it as is.
    return "%s::jsonb" if connection.vendor == "postgresql" and isinstance(f, models.JSONField) else "%s"


def _prepared_insert(model: type[models.Model], columns: tuple[str, ...]) -> tuple[str, tuple[Any, ...]]:
    key = (model, connection.vendor, columns)
    if key not in _PREPARED:
        meta = model._meta
        fields = [meta.get_field(name) for name in columns]
        missing = [f for f in meta.concrete_fields if f.name not in columns and not f.primary_key]
        if any(f.has_default() and callable(f.default) and not isinstance(f, models.JSONField) for f in missing):
            raise ValueError(f"{model.__name__}: give every column whose default is computed per row")
        # Columns not given take the model's default, converted once (as the ORM would fill them).
        converters = value_converters(model, [f.name for f in missing], connection.vendor)
        suffix = convert_row([f.get_default() for f in missing], converters)
        qn = connection.ops.quote_name
        all_fields = [*fields, *missing]
        cols = ", ".join(qn(str(f.column)) for f in all_fields)  # type: ignore[union-attr]
        marks = ", ".join(_placeholder(f) for f in all_fields)  # type: ignore[arg-type]
        _PREPARED[key] = (f"INSERT INTO {qn(meta.db_table)} ({cols}) VALUES ({marks})", suffix)  # noqa: S608 - model metadata
    return _PREPARED[key]


def insert_prepared(model: type[models.Model], columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT rows whose values are already converted (``value_converters``), in ``columns`` order.

    The bulk import's write path: no per-value work here beyond appending the defaults of the columns not given.
    """
    if not rows:
        return
    sql, suffix = _prepared_insert(model, tuple(columns))
    params = [row + suffix for row in rows] if suffix else rows
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def update_prepared(model: type[models.Model], columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """UPDATE rows by id: each row is the converted new values of ``columns`` (field names), then the id."""
    if not rows:
        return
    meta = model._meta
    qn = connection.ops.quote_name
    sets = ", ".join(f"{qn(str(meta.get_field(c).column))} = {_placeholder(meta.get_field(c))}"  # type: ignore[union-attr,arg-type]
                     for c in columns)
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {qn(meta.db_table)} SET {sets} WHERE id = %s", rows)  # noqa: S608 - model metadata


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` new primary keys for ``model``, never handed out before, to insert rows with explicit ids (so a
    bulk insert needs no query to learn them). Call inside the transaction that inserts them.

    SQLite: after the largest id ever used (AUTOINCREMENT's sqlite_sequence); the write lock this transaction holds
    keeps them ours. PostgreSQL: drawn from the table's identity sequence.
    """
    if count <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [int(r[0]) for r in cursor.fetchall()]
        qn = connection.ops.quote_name
        cursor.execute(
            f"SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "  # noqa: S608 - model metadata
            f"COALESCE((SELECT MAX(id) FROM {qn(table)}), 0))",
            [table],
        )
        start = int(cursor.fetchone()[0]) + 1
    return list(range(start, start + count))


@contextmanager
def bulk_write_session(*, cache_mib: int = 256, checkpoint_pages: int = 16384) -> Iterator[None]:
    """Settings for a long run of large write transactions on this connection (the bulk FHIR import), put back
    afterwards. SQLite only; a no-op elsewhere and inside a transaction (the settings cannot change there).

    - foreign-key checks off, as Django's ``loaddata`` does: the bulk writer binds only ids it has just looked up
      or reserved inside its own write transaction, so every check would pass (ADR 0005);
    - a larger page cache, so the import's indexes stay in memory instead of being re-read and spilled to the WAL
      mid-transaction;
    - WAL checkpoints every ``checkpoint_pages`` pages instead of 1000, so index pages rewritten by consecutive
      transactions are copied to the database once. Durability is unchanged (``synchronous`` stays as set).
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        cache = cursor.fetchone()[0]
        cursor.execute("PRAGMA wal_autocheckpoint")
        checkpoint = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = {-1024 * int(cache_mib)}")
        cursor.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint_pages)}")
    checks_off = connection.disable_constraint_checking()
    try:
        yield
    finally:
        if checks_off:
            connection.enable_constraint_checking()
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(cache)}")
            cursor.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint)}")
