"""Who may do what: the roles, the permissions the views check, and the
decorators that check them.

A role is a Django group. Viewers read everything; Operators also submit and
clone (and take the lifecycle actions, under the same permission); Administrators
also use the admin panel, manage users and lift their login lock-outs. Superusers
may do anything, as usual. Every page needs a signed-in user
(`LoginRequired`).

A request that htmx sends in the background (a page following itself, the
form's preview) and that is refused gets a short notice instead of a page:
console.js shows it at the top of the page and stops the page's background
requests. htmx swaps nothing in for an error, so the page keeps what it shows
and what was typed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps as installed_apps
from django.apps.registry import Apps
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.management import create_permissions
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.views import redirect_to_login
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware import csrf
from django.shortcuts import render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults

VIEWER = "Viewer"
OPERATOR = "Operator"
ADMINISTRATOR = "Administrator"

# Reading any page: the submissions and their events.
READ = ("schedulers.view_submission", "schedulers.view_submissionevent")
# Every action that makes something happen: submit, clone, refresh, and the
# scheduler lifecycle actions. Each of them creates or acts on submissions.
OPERATE = "schedulers.add_submission"

ROLES: dict[str, tuple[str, ...]] = {
    VIEWER: READ,
    OPERATOR: (*READ, OPERATE),
    ADMINISTRATOR: (
        *READ,
        OPERATE,
        "schedulers.view_accessevent",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.delete_user",
        # Roles are assigned on the user's page; what a role may do is defined
        # here and by migration, so Administrators see groups but don't edit them.
        "auth.view_group",
        # Login lock-outs (django-axes): deleting someone's failed attempts lets
        # them sign in again before the cool-off ends.
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
    ),
}

can_read = permission_required(READ, raise_exception=True)
can_operate = permission_required(OPERATE, raise_exception=True)


class PermissionsBackend(ModelBackend):
    """Django's ModelBackend, but a user's permissions, their own and their
    roles', come from one query instead of two: every page checks them."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:  # every permission: Django's own way
            return super().get_all_permissions(user_obj)
        if not hasattr(user_obj, "_perm_cache"):
            with connection.cursor() as cursor:
                cursor.execute(permissions_query(), [user_obj.pk, user_obj.pk])
                user_obj._perm_cache = {f"{app}.{codename}" for app, codename in cursor}
        permissions: set[str] = user_obj._perm_cache
        return permissions


@cache
def permissions_query() -> str:
    """A user's own permissions and their roles', as (app label, codename): the
    same query the ORM would build from a UNION, written once. Building it
    through the ORM on every page cost ten times what running it does
    (0.45 ms against 0.05)."""
    quote = connection.ops.quote_name
    user_model = get_user_model()

    def table(model: Any) -> str:
        return quote(model._meta.db_table)

    permission = (
        f"SELECT ct.app_label, p.codename FROM {table(Permission)} p "
        f"JOIN {table(ContentType)} ct ON ct.id = p.content_type_id "
    )
    own = (
        f"JOIN {table(user_model.user_permissions.through)} up ON up.permission_id = p.id "
        "WHERE up.user_id = %s"
    )
    roles = (
        f"JOIN {table(Group.permissions.through)} gp ON gp.permission_id = p.id "
        f"JOIN {table(user_model.groups.through)} ug ON ug.group_id = gp.group_id "
        "WHERE ug.user_id = %s"
    )
    return f"{permission}{own} UNION {permission}{roles}"


def sync_roles(apps: Apps) -> None:
    """Make each role's group hold exactly the permissions ROLES gives it.

    Run by a data migration (with the migration's `apps`) and by tests that
    need the groups after a database flush. In a fresh database permissions
    appear only after the last migration, so they are created here first; a
    permission whose model does not exist yet is left for a later run.
    """
    for label in {permission.split(".")[0] for granted in ROLES.values() for permission in granted}:
        create_permissions(installed_apps.get_app_config(label), apps=apps, verbosity=0)
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, permissions in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        wanted = [permission.split(".") for permission in permissions]
        found = [
            permission
            for app_label, codename in wanted
            for permission in permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            )
        ]
        group.permissions.set(found)


class LoginRequired(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, but a background request once the
    session has ended gets a 401 and a notice to sign in again. A redirect would
    be followed, and the whole login page swapped into the part of the page that
    htmx updates."""

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        to_login = super().process_view(request, view_func, view_args, view_kwargs)
        if to_login is None or not request.headers.get("HX-Request"):
            return to_login
        login = redirect_to_login(
            page_path(request),
            resolve_url(self.get_login_url(view_func)),
            self.get_redirect_field_name(view_func),
        )
        return render(request, "notices/signed_out.html", {"login_url": login.url}, status=401)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 403 handler: a role taken away mid-session refuses a background request
    with a notice; a page, with the 403 page."""
    if request.headers.get("HX-Request"):
        return render(request, "notices/permission_denied.html", status=403)
    return defaults.permission_denied(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a page opened before its user last signed in holds a
    token that no longer counts. Said in the console's look (Django's own page
    is bare), and as a notice to a background request; a browser that keeps no
    cookies is told so, as Django's page tells it."""
    if request.headers.get("HX-Request"):
        return render(
            request, "notices/expired_page.html", {"page": page_path(request)}, status=403
        )
    no_cookie = reason == csrf.REASON_NO_CSRF_COOKIE
    return render(request, "403_csrf.html", {"no_cookie": no_cookie}, status=403)


def page_path(request: HttpRequest) -> str:
    """The path and query of the page htmx sent a request from (htmx's
    HX-Current-URL), to come back to; the overview when the header holds no
    such thing, or a path that a browser would read as another host's
    ("//host/", "/\\host/")."""
    try:
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
    except ValueError:  # such as an unclosed "[" where an IPv6 address goes
        return "/"
    path = page.path + (f"?{page.query}" if page.query else "")
    if not path.startswith("/") or not url_has_allowed_host_and_scheme(path, allowed_hosts=None):
        return "/"
    return path
