"""Writing many rows in one statement, cheaply.

Django's ``bulk_update`` builds a ``CASE WHEN pk = … THEN …`` expression per row and field in
Python; for a campaign batch (fifty runs, thirteen fields) that cost more than everything else
the batch did (measured with cProfile: 60 % of an enrolment's CPU time). ``update_each`` sends
the same change as ``UPDATE … FROM (VALUES …)``, which PostgreSQL and SQLite (3.33+) both take.
``bulk_create`` walks its compiler's checks for expressions for every value of every row (a
third of a batch's time once the updates were cheap); ``insert_each`` writes the same rows with
``INSERT … VALUES … RETURNING``. Either way each value is prepared by its field exactly as
``save()`` prepares it.

On PostgreSQL the rows go in as one array per column (``unnest``), as Django's own
``bulk_create`` does there: psycopg finds a query's placeholders in Python, some microseconds
each, which for a thousand step log rows of thirteen columns cost more than the insert itself
(measured with cProfile: 0.14 of 0.39 s of a batch of a hundred runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper

# SQLite allows 32,766 parameters per statement; stay well below it.
_MAX_PARAMS = 30_000


def update_each(objs: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Write each object's current values of ``fields`` to its row; returns the rows changed.

    The same as ``Model.objects.bulk_update(objs, fields)``, for objects of one model that
    all have a primary key.
    """
    if not objs or not fields:
        return 0
    model = type(objs[0])
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    pk = meta.pk
    assert pk is not None  # every model has one; the stubs allow None  # noqa: S101
    columns = [_concrete(meta.get_field(name)) for name in fields]
    # PostgreSQL types a VALUES column from its first row (a NULL there is "unknown"): say the
    # types. SQLite has none to say, and a CAST to a declared type would change the values.
    typed = connection.vendor == "postgresql"

    def slot(field: models.Field) -> str:
        return f"CAST(%s AS {field.db_type(connection)})" if typed else "%s"

    row = "(" + ", ".join(slot(f) for f in [pk, *columns]) + ")"
    table = quote(meta.db_table)
    assignments = ", ".join(f"{quote(str(f.column))} = v.column{i}" for i, f in enumerate(columns, start=2))
    where = f" WHERE {table}.{quote(str(pk.column))} = v.column1"

    def values(obj: models.Model) -> list[Any]:
        return [
            pk.get_db_prep_save(obj.pk, connection),
            *(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns),
        ]

    with connection.cursor() as cursor:
        if _unnestable(connection, [pk, *columns]):
            # The same casts as the VALUES rows below, applied to each array's elements.
            arrays = ", ".join(f"CAST(%s AS {f.db_type(connection)}[])" for f in [pk, *columns])
            names = ", ".join(f"column{i}" for i in range(1, len(columns) + 2))
            by_column = [list(c) for c in zip(*(values(obj) for obj in objs), strict=True)]
            # Only names from the model are formatted in; every value is a parameter.
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v({names})" + where,  # noqa: S608
                by_column,
            )
            return cursor.rowcount
        per_batch = max(1, _MAX_PARAMS // (len(columns) + 1))
        changed = 0
        for start in range(0, len(objs), per_batch):
            batch = objs[start : start + per_batch]
            params = [value for obj in batch for value in values(obj)]
            # Only names from the model are formatted in; every value is a parameter.
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row] * len(batch))}) AS v"  # noqa: S608
                + where,
                params,
            )
            changed += cursor.rowcount
    return changed


def _unnestable(connection: BaseDatabaseWrapper, fields: Sequence[models.Field]) -> bool:
    """Whether the values can go as one PostgreSQL array per column: the test Django's
    ``bulk_create`` makes (plain column types, no per-value placeholder)."""
    return connection.vendor == "postgresql" and not any(
        hasattr(f, "get_placeholder")
        or (getattr(f, "target_field", f) if f.is_relation else f).get_internal_type()
        not in connection.data_types
        for f in fields
    )


def _concrete(field: object) -> models.Field:
    if not isinstance(field, models.Field) or not field.concrete:
        raise ValueError(f"{field} is not a column")
    return field


def insert_each(objs: Sequence[models.Model]) -> None:
    """Insert new objects of one model, setting their primary keys: what ``bulk_create(objs)``
    does for plain values (no expressions), in one statement per few thousand rows."""
    if not objs:
        return
    model = type(objs[0])
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    pk = meta.pk
    assert pk is not None  # every model has one; the stubs allow None  # noqa: S101
    fields = [f for f in meta.concrete_fields if f is not pk]
    stamped = {
        f.attname for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    }
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    columns = ", ".join(quote(str(f.column)) for f in fields)
    head = f"INSERT INTO {quote(meta.db_table)} ({columns}) "
    returning = f" RETURNING {quote(str(pk.column))}"

    def values(obj: models.Model) -> list[Any]:
        # A related object saved after it was assigned: take its key now, as save() does.
        obj._prepare_related_fields_for_save(operation_name="insert_each")  # type: ignore[attr-defined]  # private in the stubs
        return [
            f.get_db_prep_save(
                f.pre_save(obj, True) if f.attname in stamped else getattr(obj, f.attname), connection
            )
            for f in fields
        ]

    unnest = len(objs) > 1 and _unnestable(connection, fields)
    # Without the length of a varchar, as Django does: a value too long fails as it would in
    # VALUES, rather than being cut.
    arrays = ", ".join(f"CAST(%s AS {str(f.db_type(connection)).split('(')[0]}[])" for f in fields)
    per_batch = len(objs) if unnest else max(1, _MAX_PARAMS // len(fields))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), per_batch):
            batch = objs[start : start + per_batch]
            rows = [values(obj) for obj in batch]
            # Only names from the model are formatted in; every value is a parameter. Both
            # databases return the new keys in the order of the rows (bulk_create relies on it
            # too, with VALUES and with unnest).
            if unnest:
                by_column = [list(c) for c in zip(*rows, strict=True)]
                cursor.execute(head + f"SELECT * FROM unnest({arrays})" + returning, by_column)  # noqa: S608
            else:
                params = [value for values_ in rows for value in values_]
                cursor.execute(head + "VALUES " + ", ".join([row] * len(batch)) + returning, params)
            for obj, (key,) in zip(batch, cursor.fetchall(), strict=True):
                obj.pk = key
                obj._state.adding = False
                obj._state.db = connection.alias
