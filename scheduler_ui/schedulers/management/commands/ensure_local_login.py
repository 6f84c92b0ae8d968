"""Make sure a local login exists, and print it (used by `make run`)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERNAME = "admin"
PASSWORD_FILE = settings.VAR_DIR / "local-login.txt"


class Command(BaseCommand):
    help = "Create a local superuser when there is none, and print how to log in."

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        if not users.filter(is_superuser=True).exists():
            password = secrets.token_urlsafe(12)
            users.create_superuser(USERNAME, "", password)
            PASSWORD_FILE.write_text(f"{USERNAME}\n{password}\n")
            PASSWORD_FILE.chmod(0o600)
            self.stdout.write(f"Created the local superuser {USERNAME!r}.")
        if not PASSWORD_FILE.exists():
            self.stdout.write("Log in with your existing superuser.")
            return
        username, password = PASSWORD_FILE.read_text().split()[:2]
        user = users.filter(username=username).first()
        if user is not None and user.check_password(password):
            self.stdout.write(f"Log in as {username} with password {password}")
            self.stdout.write(f"(kept in {PASSWORD_FILE} until the password is changed)")
            return
        # Its password was changed, or the user is gone: the file would only mislead.
        PASSWORD_FILE.unlink()
        if user is not None:
            self.stdout.write(f"Log in as {username} with the password you chose.")
        else:
            self.stdout.write("Log in with your existing superuser.")
