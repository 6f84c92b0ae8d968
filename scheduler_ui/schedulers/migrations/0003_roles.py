"""The roles as groups: Viewer, Operator and Administrator (see access.ROLES)."""

from __future__ import annotations

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from scheduler_ui.schedulers.access import sync_roles


def create_roles(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("schedulers", "0002_history_and_access_log"),
    ]

    # Going back leaves the groups: people may already have been given them.
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
