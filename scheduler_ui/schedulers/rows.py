"""The statements every submission runs at each step, composed once.

A worker's claim reads the submission's row locked; every move is then one
UPDATE of that row and one INSERT of its event (models.Submission._move), and
accepting a submission is two INSERTs. Django composes each statement anew
every time: on the benchmark's machine that cost about 0.5 ms a statement,
several times what sending it and PostgreSQL running it took
(docs/benchmarks.md). These read and write the same rows with the ORM's own
tables, columns and value conversions (each field's pre_save, get_db_prep_save
and database converters), and compose each statement's text once.
Model.save()'s signals are not sent: no receiver here listens for these
models' saves.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


def locked(model: type[M], pk: int) -> M | None:
    """The row with this key, locked until the transaction ends (SELECT ... FOR
    UPDATE SKIP LOCKED); None when there is none or another transaction holds
    it. SQLite has no row locks: there a write transaction holds the database."""
    sql, names, columns = _locked_select(connection.vendor, model)
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    values = []
    for value, (column, converters) in zip(row, columns, strict=True):
        for convert in converters:
            value = convert(value, column, connection)
        values.append(value)
    return model.from_db(connection.alias, names, values)


def update(model: type[models.Model], where: dict[str, Any], values: dict[str, Any]) -> int:
    """UPDATE the rows of `model` whose fields equal `where`, setting `values`
    (both by field name); how many rows were written."""
    fields = _fields(model)
    params = [
        fields[name].get_db_prep_save(value, connection)
        for name, value in [*values.items(), *where.items()]
    ]
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(connection.vendor, model, tuple(values), tuple(where)), params)
        return int(cursor.rowcount)


def insert(instance: models.Model) -> None:
    """INSERT a new instance, every field but its key, and set its key."""
    model = type(instance)
    params = [
        field.get_db_prep_save(field.pre_save(instance, True), connection)
        for field in _inserted(model)
    ]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor, model), params)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = connection.alias


@cache
def _fields(model: type[models.Model]) -> dict[str, models.Field[Any, Any]]:
    """The model's columns by field name ("submission" for submission_id)."""
    return {field.name: field for field in model._meta.concrete_fields}


@cache
def _inserted(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The columns an INSERT sets: all but the key, which the database picks."""
    return [field for field in _fields(model).values() if not field.primary_key]


# The vendor is in each key: the text is quoted for one kind of database.


@cache
def _update_sql(
    vendor: str, model: type[models.Model], set_names: tuple[str, ...], where_names: tuple[str, ...]
) -> str:
    fields = _fields(model)
    assignments = ", ".join(f"{_column(fields[name])} = %s" for name in set_names)
    conditions = " AND ".join(f"{_column(fields[name])} = %s" for name in where_names)
    return f"UPDATE {_table(model)} SET {assignments} WHERE {conditions}"


@cache
def _locked_select(
    vendor: str, model: type[models.Model]
) -> tuple[str, list[str], list[tuple[Any, list[Any]]]]:
    """The SELECT, the fields' names in its order, and each column with what turns
    its database value into the field's (JSON parsed, SQLite's timestamps read),
    as a query applies them."""
    fields = list(_fields(model).values())
    key = _column(_fields(model)[model._meta.pk.name])
    sql = f"SELECT {', '.join(_column(f) for f in fields)} FROM {_table(model)} WHERE {key} = %s"
    if connection.features.has_select_for_update_skip_locked:
        sql += " " + connection.ops.for_update_sql(skip_locked=True)
    columns = [field.get_col(model._meta.db_table) for field in fields]
    converters = [
        connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        for column in columns
    ]
    return sql, [field.attname for field in fields], list(zip(columns, converters, strict=True))


@cache
def _insert_sql(vendor: str, model: type[models.Model]) -> str:
    fields = _inserted(model)
    columns = ", ".join(_column(field) for field in fields)
    values = ", ".join(["%s"] * len(fields))
    key = _column(_fields(model)[model._meta.pk.name])
    return f"INSERT INTO {_table(model)} ({columns}) VALUES ({values}) RETURNING {key}"


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(field: models.Field[Any, Any]) -> str:
    assert field.column, f"{field} has no column"  # every concrete field has one
    return connection.ops.quote_name(field.column)
