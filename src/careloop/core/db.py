"""Set-based writes for bulk paths: one executemany per table instead of per-object ORM work.

Values go through the backend's own adapters (dates, datetimes, JSON) chosen once per column, so the same
code writes correct values to SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
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

    Columns not given take the model's default as the ORM would ("" for blank text, evaluated per row when
    callable), so a raw insert never trips a NOT NULL the ORM would have filled. ``ignore_conflicts`` skips rows
    that violate a unique constraint (ON CONFLICT DO NOTHING). ``multi_row``: one INSERT with a VALUES list per
    chunk of rows instead of executemany (on PostgreSQL one statement parsed and planned for a handful of rows
    instead of one per row; for large sets executemany's pipeline is cheaper).
    """
    if not rows:
        return
    shape = _shape(model, columns, (), ignore_conflicts)
    values = shape.full(rows)
    _adapt(shape, values)
    with connection.cursor() as cursor:
        if multi_row:
            _insert_multi_row(cursor, shape, values, None)
        else:
            cursor.executemany(shape.head + "(" + ", ".join(["%s"] * shape.width) + ")" + shape.tail, values)


# The shape of an INSERT (columns given + the model's defaults for the rest, SQL, value adapters), per model and
# column list: shared by ``insert_rows`` and ``insert_returning``.
_RETURNING: dict[tuple[Any, ...], _InsertShape] = {}
_MISSING = object()
# Field types whose Python values JSON carries exactly into PostgreSQL's json_populate_recordset (text, integers,
# booleans, timestamps and dates as ISO text, JSON as the field's own encoding); other columns take parameters.
_JSON_SAFE = (models.CharField, models.TextField, models.IntegerField, models.BooleanField, models.DateTimeField,
              models.DateField, models.ForeignKey, models.JSONField)
_JSON_UNSAFE = (models.FloatField, models.DecimalField, models.DurationField, models.BinaryField, models.UUIDField,
                models.GenericIPAddressField)


class _InsertShape:
    """One (model, columns, returning, conflicts) shape of ``insert_rows``/``insert_returning``: SQL parts, adapters,
    defaults."""

    def __init__(self, model: type[models.Model], columns: tuple[str, ...], returning: tuple[str, ...],
                 ignore_conflicts: bool) -> None:
        meta = model._meta
        fields = [meta.get_field(name) for name in columns]
        given = {f.name for f in fields}  # columns may name a foreign key by its attname ("patient_id")
        self.missing = [f for f in meta.concrete_fields if f.name not in given and not f.primary_key]
        self.callables = [f.has_default() and callable(f.default) for f in self.missing]
        self.all_fields: list[Any] = [*fields, *self.missing]
        qn = connection.ops.quote_name
        self.columns = [str(f.column) for f in self.all_fields]
        cols = ", ".join(qn(c) for c in self.columns)
        table = qn(meta.db_table)
        self.width = len(self.all_fields)
        self.head = f"INSERT INTO {table} ({cols}) VALUES "  # noqa: S608 - identifiers from model metadata
        back = ", ".join(qn(str(meta.get_field(n).column)) for n in returning)  # type: ignore[union-attr]
        self.tail = (" ON CONFLICT DO NOTHING" if ignore_conflicts else "") + (f" RETURNING {back}" if back else "")
        self.adapters = [_adapter(f) for f in self.all_fields]
        self.adapted = [(i, a, isinstance(f, models.DateField)) for i, (f, a) in
                        enumerate(zip(self.all_fields, self.adapters, strict=True)) if a is not None]
        # PostgreSQL: the rows as one JSON parameter (json_populate_recordset), a statement of fixed text, instead
        # of a VALUES list whose every value psycopg quotes into the text client-side.
        self.json_sql: str | None = None
        if connection.vendor == "postgresql" and all(
                isinstance(f, _JSON_SAFE) and not isinstance(f, _JSON_UNSAFE) for f in self.all_fields):
            source = f"json_populate_recordset(NULL::{table}, %s)"
            self.json_sql = f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {source}{self.tail}"  # noqa: S608 - model metadata
        self.json_fields = [(i, f.encoder) for i, f in enumerate(self.all_fields) if isinstance(f, models.JSONField)]

    def defaults(self) -> list[Any]:
        constants = [None if c else f.get_default() for f, c in zip(self.missing, self.callables, strict=True)]
        return constants

    def full(self, rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
        constants = self.defaults()
        if not any(self.callables):
            return [[*row, *constants] for row in rows]
        return [[*row, *(f.get_default() if c else k for f, c, k in zip(self.missing, self.callables, constants,
                                                                          strict=True))] for row in rows]


def _shape(model: type[models.Model], columns: Sequence[str], returning: Sequence[str],
           ignore_conflicts: bool) -> _InsertShape:
    key = (model, connection.vendor, tuple(columns), tuple(returning), ignore_conflicts)
    shape = _RETURNING.get(key)
    if shape is None:
        shape = _RETURNING[key] = _InsertShape(model, tuple(columns), tuple(returning), ignore_conflicts)
    return shape


def _adapt(shape: _InsertShape, values: list[list[Any]]) -> None:
    """Convert the rows' dates, timestamps and JSON in place through the backend's adapters. Rows repeat values
    (the batch's timestamp and deadlines, a shared explanation): each distinct timestamp or date is adapted once
    per column (equal values adapt alike), other values once per object (a bounded cache per column)."""
    for i, adapt, by_value in shape.adapted:
        done: dict[Any, Any] = {}
        for row in values:
            v = row[i]
            if v is not None:
                k = v if by_value else id(v)
                out = done.get(k, _MISSING)
                if out is _MISSING:
                    if len(done) >= 4096:  # mostly distinct values (a large bulk insert): keep memory flat
                        done.clear()
                    out = done[k] = adapt(v)
                row[i] = out


def _insert_multi_row(cursor: Any, shape: _InsertShape, values: list[list[Any]],
                      out_rows: list[tuple[Any, ...]] | None) -> None:
    """One INSERT with a VALUES list per chunk of rows (as many as the backend's parameter limit allows);
    ``out_rows`` collects what RETURNING gives back."""
    one = "(" + ", ".join(["%s"] * shape.width) + ")"
    per = max(1, (connection.features.max_query_params or 999) // shape.width)
    for lo in range(0, len(values), per):
        chunk = values[lo : lo + per]
        cursor.execute(shape.head + ", ".join([one] * len(chunk)) + shape.tail, [v for row in chunk for v in row])
        if out_rows is not None:
            out_rows.extend(tuple(r) for r in cursor.fetchall())


def _json_payload(shape: _InsertShape, rows: list[list[Any]]) -> str | None:
    """The rows as a JSON array of objects keyed by column, or None when a value has no exact JSON form."""
    if shape.json_fields:
        encoded: dict[int, tuple[object, object]] = {}
        for row in rows:
            for i, encoder in shape.json_fields:
                v = row[i]
                if v is not None:
                    seen = encoded.get(i)
                    if seen is None or seen[0] is not v:  # rows share values: encode each distinct object once
                        seen = encoded[i] = (v, orjson.Fragment(json.dumps(v, cls=encoder)))
                    row[i] = seen[1]
    try:
        return orjson.dumps([dict(zip(shape.columns, row, strict=True)) for row in rows]).decode()
    except TypeError:  # e.g. a Decimal in an integer column: let the driver adapt it
        return None


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


# ---- batch paths that need the new ids back, and reads without the ORM's query compilation ------------------

def insert_returning(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]],
    returning: Sequence[str] = ("id",), *, ignore_conflicts: bool = False,
) -> list[tuple[Any, ...]]:
    """``insert_rows`` for a batch that needs its new ids: INSERT ... RETURNING (PostgreSQL, SQLite >= 3.35) the
    ``returning`` columns (field names; none: returns []) of the rows inserted, so they need not be read back.
    With ``ignore_conflicts`` the rows skipped by ON CONFLICT DO NOTHING are not returned: return a natural key
    with the id to tell which rows were inserted. Columns not given take the model's default, as ``insert_rows``.

    SQLite: multi-row VALUES statements, values through the backend's adapters. PostgreSQL: one statement with
    the rows as a JSON parameter (``json_populate_recordset``, as the audit writer), where the model's column
    types allow it; else multi-row VALUES."""
    if not rows:
        return []
    shape = _shape(model, columns, returning, ignore_conflicts)
    values = shape.full(rows)
    payload = _json_payload(shape, values) if shape.json_sql is not None else None
    out_rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        if payload is not None and shape.json_sql is not None:
            cursor.execute(shape.json_sql, [payload])
            return [tuple(r) for r in cursor.fetchall()] if returning else []
        if shape.json_sql is not None:
            values = shape.full(rows)  # the JSON attempt replaced JSON values in place
        _adapt(shape, values)
        _insert_multi_row(cursor, shape, values, out_rows if returning else None)
    return out_rows


_SELECT: dict[tuple[Any, ...], tuple[str, list[tuple[int, list[Any], Any]]]] = {}


def _select_shape(model: type[models.Model], columns: tuple[str, ...]) -> tuple[str, list[tuple[int, list[Any], Any]]]:
    key = (model, connection.vendor, columns)
    if key not in _SELECT:  # per shape, once: the column list and the converters the ORM would apply
        meta = model._meta
        qn = connection.ops.quote_name
        fields = [meta.get_field(name) for name in columns]
        converters = []
        for i, f in enumerate(fields):
            col = f.get_col(meta.db_table)  # type: ignore[union-attr]
            convs = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if convs:
                converters.append((i, convs, col))
        cols = ", ".join(qn(str(f.column)) for f in fields)  # type: ignore[union-attr]
        _SELECT[key] = (f"SELECT {cols} FROM {qn(meta.db_table)}", converters)  # noqa: S608 - model metadata
    return _SELECT[key]


def select_rows(
    model: type[models.Model], columns: Sequence[str], where: str, params: Sequence[Any], *,
    order_by: Sequence[str] = (), limit: int | None = None, for_update: bool = False,
) -> list[tuple[Any, ...]]:
    """Rows of ``model`` as ``values_list(*columns)`` would return them (the backend's and the fields' converters
    applied), for hot batch paths where compiling the ORM query costs more than running it.

    ``where`` is SQL over column names with %s placeholders (values adapted by the caller, e.g.
    ``connection.ops.adapt_datetimefield_value``); ``order_by`` field names (ascending); ``for_update`` locks
    the rows where the backend can (SELECT ... FOR UPDATE, as ``select_for_update``)."""
    select, converters = _select_shape(model, tuple(columns))
    sql = f"{select} WHERE {where}"
    if order_by:
        qn = connection.ops.quote_name
        meta = model._meta
        sql += " ORDER BY " + ", ".join(qn(str(meta.get_field(n).column)) for n in order_by)  # type: ignore[union-attr]
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    if for_update and connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        raw = cursor.fetchall()
    if not converters:
        return [tuple(r) for r in raw]
    out = []
    for r in raw:
        row = list(r)
        for i, convs, col in converters:
            value = row[i]
            for convert in convs:
                value = convert(value, col, connection)
            row[i] = value
        out.append(tuple(row))
    return out


def select_instances(model: type[models.Model], where: str, params: Sequence[Any], *, order_by: Sequence[str] = (),
                     for_update: bool = False) -> list[Any]:
    """``select_rows`` of every concrete column, as model instances (``Model.from_db``, as a queryset loads)."""
    names = tuple(f.attname for f in model._meta.concrete_fields)
    rows = select_rows(model, names, where, params, order_by=order_by, for_update=for_update)
    return [model.from_db(connection.alias, names, row) for row in rows]


def delete_ids(model: type[models.Model], ids: Sequence[int]) -> int:
    """DELETE rows by id, as the ORM's fast delete does for a model nothing cascades from and no signal watches
    (the caller's to know): one statement per 900 ids. Returns the number of rows deleted."""
    qn = connection.ops.quote_name
    deleted = 0
    with connection.cursor() as cursor:
        for lo in range(0, len(ids), 900):
            chunk = list(ids[lo : lo + 900])
            cursor.execute(f"DELETE FROM {qn(model._meta.db_table)} WHERE id IN ({', '.join(['%s'] * len(chunk))})",  # noqa: S608 - model metadata
                           chunk)
            deleted += int(cursor.rowcount)
    return deleted


def keyed_tenant_column(column: str = "organization_id") -> str:
    """The tenant column for a WHERE that also picks rows by key (``id IN (...)``, a unique column IN (...)).

    SQLite (no planner statistics) prefers an index on the tenant column to the primary key or a unique index,
    and then reads every row of the organization to find a few; ``+column`` (unary plus, SQLite's documented
    way) keeps that index out of the choice. The rows returned are the same. Other backends: the column as is.
    """
    return f"+{column}" if connection.vendor == "sqlite" else column
