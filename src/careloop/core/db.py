"""Set-based writes for bulk paths: one executemany per table instead of per-object ORM work.

Values go through the backend's own adapters (dates, datetimes, JSON) chosen once per column, so the same
code writes correct values to SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

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
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, ignore_conflicts: bool = False
) -> None:
    """INSERT ``rows`` (tuples in ``columns`` order, field names) into ``model``'s table.

    ``ignore_conflicts`` skips rows that violate a unique constraint (ON CONFLICT DO NOTHING).
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
        cursor.executemany(sql, rows)


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
    A no-op on SQLite, whose plans here do not depend on statistics."""
    if connection.vendor == "postgresql":
        qn = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(qn(m._meta.db_table) for m in models_))
