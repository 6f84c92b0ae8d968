"""Trigram indexes for the history's free-text search (PostgreSQL only).

Django's icontains is `UPPER(x) LIKE UPPER('%q%')` on PostgreSQL, so the
indexes are on exactly those expressions. Where the database user may not
create the pg_trgm extension, the search still works, only without the index.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, migrations, transaction

log = logging.getLogger(__name__)

INDEXES = {
    "event_details_trgm": "schedulers_submissionevent (UPPER((details)::text))",
    "submission_name_trgm": "schedulers_submission (UPPER(scheduler_name))",
    "submission_arn_trgm": "schedulers_submission (UPPER(scheduler_arn))",
}


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError:
        log.warning("pg_trgm is not available: the history search works without its index")
        return
    for name, target in INDEXES.items():
        table, expression = target.split(" ", 1)
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({expression[1:-1]} gin_trgm_ops)"
        )


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("schedulers", "0004_lifecycle")]

    operations = [migrations.RunPython(create, drop)]
