"""Set-based writes for bulk paths: one executemany per table instead of per-object ORM work.

Values go through the backend's own adapters (dates, datetimes, JSON) chosen once per column, so the same
code writes correct values to SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models

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
