"""The two writes every submission makes at each step, composed once.

A submission's every move is one UPDATE of its row and one INSERT of its event
(models.Submission._move), and accepting one is two INSERTs. Django composes
those statements anew each time: on the benchmark's machine that cost about
0.5 ms a statement, several times what sending it and PostgreSQL running it
took (docs/benchmarks.md). These write the same rows with the ORM's own tables,
columns and value conversions (each field's pre_save and get_db_prep_save), and
compose each statement's text once. Model.save()'s signals are not sent: no
receiver here listens for these models' saves.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.db import connection, models


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
