"""Administrators may see and clear login lock-outs (see access.ROLES), and the
access log says who did it when it was someone else."""

import django.db.models.deletion
from django.apps.registry import Apps
from django.conf import settings
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from scheduler_ui.schedulers.access import sync_roles


def update_roles(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("axes", "0010_accessattemptexpiration"),
        ("schedulers", "0009_cancelled"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="accessevent",
            name="by",
            field=models.ForeignKey(
                blank=True,
                help_text="Who did it, when it was not the user: an Administrator setting a password or clearing failed logins.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="accessevent",
            name="ip_address",
            field=models.GenericIPAddressField(
                blank=True,
                help_text="Where the request came from; for cleared failed logins, where they came from.",
                null=True,
                verbose_name="IP address",
            ),
        ),
        migrations.AlterField(
            model_name="accessevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("logged_in", "Logged in"),
                    ("logged_out", "Logged out"),
                    ("login_failed", "Login failed"),
                    ("password_changed", "Password changed"),
                    ("failures_cleared", "Failed logins cleared"),
                ],
                max_length=16,
            ),
        ),
        # Going back leaves the permissions: taking them away is a change of its own.
        migrations.RunPython(update_roles, migrations.RunPython.noop),
    ]
