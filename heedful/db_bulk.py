"""Writing many rows in one statement, cheaply.

Django's ``bulk_update`` builds a ``CASE WHEN pk = … THEN …`` expression per row and field in
Python; for a campaign batch (fifty runs, thirteen fields) that cost more than everything else
the batch did (measured with cProfile: 60 % of an enrolment's CPU time). ``update_each`` sends
the same change as ``UPDATE … FROM (VALUES …)``, which PostgreSQL and SQLite (3.33+) both take.
``bulk_create`` walks its compiler's checks for expressions for every value of every row (a
third of a batch's time once the updates were cheap); ``insert_each`` writes the same rows with
``INSERT … VALUES … RETURNING``. Either way each value is prepared by its field exactly as
``save()`` prepares it.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, models, router

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
    per_batch = max(1, _MAX_PARAMS // (len(columns) + 1))
    changed = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objs), per_batch):
            batch = objs[start : start + per_batch]
            params = []
            for obj in batch:
                params.append(pk.get_db_prep_save(obj.pk, connection))
                params.extend(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns)
            # Only names from the model are formatted in; every value is a parameter.
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row] * len(batch))}) AS v"  # noqa: S608
                f" WHERE {table}.{quote(str(pk.column))} = v.column1",
                params,
            )
            changed += cursor.rowcount
    return changed


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
    head = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608 - names from the model
    per_batch = max(1, _MAX_PARAMS // len(fields))
    with connection.cursor() as cursor:
        for start in range(0, len(objs), per_batch):
            batch = objs[start : start + per_batch]
            params = []
            for obj in batch:
                # A related object saved after it was assigned: take its key now, as save() does.
                obj._prepare_related_fields_for_save(operation_name="insert_each")  # type: ignore[attr-defined]  # private in the stubs
                for f in fields:
                    value = f.pre_save(obj, True) if f.attname in stamped else getattr(obj, f.attname)
                    params.append(f.get_db_prep_save(value, connection))
            # Only names from the model are formatted in; every value is a parameter. Both
            # databases return the new keys in the order of the rows (bulk_create relies on it too).
            cursor.execute(
                head + ", ".join([row] * len(batch)) + f" RETURNING {quote(str(pk.column))}",
                params,
            )
            for obj, (key,) in zip(batch, cursor.fetchall(), strict=True):
                obj.pk = key
                obj._state.adding = False
                obj._state.db = connection.alias
