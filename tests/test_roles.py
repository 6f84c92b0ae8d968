"""Who may do what: every role against every URL and action, the navigation each
role sees, and how the Administrator role makes a user staff.

CALLS below is the table: every URL name in scheduler_ui/urls.py (and every model
in the admin) must have an entry, so a new URL fails here until someone decides
who may use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pytest
from django.apps import apps as django_apps
from django.contrib import admin
from django.contrib.auth.models import Group, Permission, User
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from scheduler_ui.schedulers.access import ADMINISTRATOR, OPERATOR, ROLES, VIEWER, sync_roles
from scheduler_ui.schedulers.models import Submission
from tests.factories import form_post, make_submission

ANONYMOUS = "anonymous"
NO_ROLE = "no role"
SUPERUSER = "superuser"
EVERY_ROLE = [ANONYMOUS, NO_ROLE, VIEWER, OPERATOR, ADMINISTRATOR, SUPERUSER]

READERS = frozenset({VIEWER, OPERATOR, ADMINISTRATOR, SUPERUSER})
OPERATORS = frozenset({OPERATOR, ADMINISTRATOR, SUPERUSER})
ADMINS = frozenset({ADMINISTRATOR, SUPERUSER})
SIGNED_IN = frozenset({NO_ROLE, *READERS})


def nothing(submission: Submission) -> dict[str, Any]:
    return {}


def pk(submission: Submission) -> list[Any]:
    return [submission.pk]


def name(submission: Submission) -> list[Any]:
    return [submission.scheduler_name]


@dataclass(frozen=True)
class Call:
    """One way of using a URL, and the roles that may."""

    method: str
    allowed: frozenset[str]
    args: Callable[[Submission], list[Any]] = lambda submission: []
    query: Callable[[Submission], dict[str, Any]] = nothing
    data: Callable[[Submission], dict[str, Any]] = nothing
    public: bool = False  # anonymous visitors too
    label: str = ""


def admin_action(action: str) -> Callable[[Submission], dict[str, Any]]:
    return lambda submission: {"action": action, "_selected_action": [submission.pk]}


CALLS: dict[str, list[Call]] = {
    "overview": [Call("get", READERS)],
    "healthz": [Call("get", SIGNED_IN, public=True)],
    "submission_new": [
        Call("get", OPERATORS),
        Call("get", OPERATORS, query=lambda s: {"from": s.pk}, label="clone"),
        Call("post", OPERATORS, data=lambda s: form_post()),
    ],
    "submission_preview": [Call("post", OPERATORS, data=lambda s: form_post())],
    "bulk_upload": [Call("get", OPERATORS), Call("post", OPERATORS)],
    "bulk_submit": [Call("post", OPERATORS)],
    "submission_detail": [Call("get", READERS, args=pk)],
    "submission_status": [Call("get", READERS, args=pk)],
    "submission_refresh": [Call("post", OPERATORS, args=pk)],
    "submission_cancel": [Call("post", OPERATORS, args=pk)],
    "history": [Call("get", READERS)],
    "history_export": [Call("get", READERS)],
    "scheduler_history": [Call("get", READERS, args=lambda s: [s.scheduler_name])],
    "scheduler_list": [
        Call("get", READERS),
        Call("post", OPERATORS, data=lambda s: {"action": "stop", "names": [s.scheduler_name]}),
    ],
    "scheduler_detail": [Call("get", READERS, args=name)],
    "scheduler_start": [Call("post", OPERATORS, args=name)],
    "scheduler_stop": [Call("post", OPERATORS, args=name)],
    "scheduler_edit": [Call("get", OPERATORS, args=name), Call("post", OPERATORS, args=name)],
    "scheduler_delete": [Call("get", OPERATORS, args=name), Call("post", OPERATORS, args=name)],
    "scheduler_tags": [Call("get", OPERATORS, args=name), Call("post", OPERATORS, args=name)],
    "settings": [Call("get", READERS)],
    "login": [Call("get", SIGNED_IN, public=True)],
    "logout": [Call("post", SIGNED_IN)],
    "password_change": [Call("get", SIGNED_IN), Call("post", SIGNED_IN)],
    "admin:index": [Call("get", ADMINS)],
    "admin:schedulers_submission_changelist": [
        Call("get", ADMINS),
        Call("post", ADMINS, data=admin_action("resubmit_as_new"), label="resubmit"),
        Call("post", ADMINS, data=admin_action("cancel"), label="cancel"),
        Call("post", ADMINS, data=admin_action("export_csv"), label="export"),
    ],
    "admin:schedulers_submission_change": [Call("get", ADMINS, args=pk)],
    "admin:schedulers_submissionevent_changelist": [Call("get", ADMINS)],
    "admin:schedulers_submissionevent_change": [
        Call("get", ADMINS, args=lambda s: [s.events.get().pk])
    ],
    "admin:schedulers_accessevent_changelist": [Call("get", ADMINS)],
    "admin:auth_user_changelist": [Call("get", ADMINS)],
    "admin:auth_group_changelist": [Call("get", ADMINS)],
    # Login lock-outs: Administrators lift them by deleting the attempts.
    "admin:axes_accessattempt_changelist": [
        Call("get", ADMINS),
        Call("post", ADMINS, data=admin_action("clear_failed_logins"), label="clear"),
    ],
}


@pytest.fixture(autouse=True)
def local_endpoint_settings(settings):
    """A local endpoint is configured: no page asks AWS (or STS) anything."""
    settings.LOOKOUT_ENDPOINT_URL = "http://127.0.0.1:9"


def url_names() -> set[str]:
    """Every URL name the site serves: the project's own and the admin's per model."""
    names = set()
    for pattern in get_resolver().url_patterns:
        if isinstance(pattern, URLPattern) and pattern.name:
            names.add(pattern.name)
        elif isinstance(pattern, URLResolver) and pattern.namespace == "admin":
            names.add("admin:index")
            names |= {
                f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
                for model in admin.site._registry
            }
    return names


def test_every_url_has_an_entry_in_the_table():
    missing = url_names() - set(CALLS)

    assert not missing, f"say in CALLS who may use: {sorted(missing)}"


CASES = [
    pytest.param(name, index, role, id=f"{name}-{call.label or call.method}-{role}")
    for name, calls in CALLS.items()
    for index, call in enumerate(calls)
    for role in EVERY_ROLE
]


def outcome(response: Any, signed_in: bool) -> str:
    """ "ok", "denied" (403, or the admin's own login page for a signed-in user),
    "login" (sent to log in) or the unexpected status code."""
    if response.status_code == 302:
        target = urlparse(response.url)
        if target.path in {reverse("login"), reverse("admin:login")} and "next=" in target.query:
            return "denied" if signed_in else "login"
    if response.status_code == 403:
        return "denied"
    if response.status_code in {200, 302}:
        return "ok"
    return str(response.status_code)


@pytest.mark.parametrize(("name", "index", "role"), CASES)
def test_each_role_may_use_exactly_what_it_is_allowed(client, make_role_user, name, index, role):
    call = CALLS[name][index]
    submission = make_submission(make_role_user(OPERATOR, "owner"))
    if role != ANONYMOUS:
        client.force_login(make_role_user(None if role == NO_ROLE else role))
    url = reverse(name, args=call.args(submission))
    if call.query(submission):
        url += "?" + "&".join(f"{k}={v}" for k, v in call.query(submission).items())

    response = getattr(client, call.method)(url, call.data(submission))

    if role == ANONYMOUS:
        expected = "ok" if call.public else "login"
    else:
        expected = "ok" if role in call.allowed else "denied"
    assert outcome(response, signed_in=role != ANONYMOUS) == expected


@pytest.mark.parametrize("name", ["submission_refresh", "submission_preview"])
def test_actions_are_post_only(operator_client, name):
    args = [make_submission().pk] if name == "submission_refresh" else []

    assert operator_client.get(reverse(name, args=args)).status_code == 405


def test_a_refused_post_changes_nothing(viewer_client):
    viewer_client.post(reverse("submission_new"), form_post())

    assert not Submission.objects.exists()


def test_a_refused_admin_action_changes_nothing(client, make_role_user):
    submission = make_submission()
    client.force_login(make_role_user(OPERATOR))

    client.post(
        reverse("admin:schedulers_submission_changelist"),
        {"action": "resubmit_as_new", "_selected_action": [submission.pk]},
    )

    assert Submission.objects.count() == 1


# --- No role ----------------------------------------------------------------------


def test_a_user_without_a_role_is_told_to_ask_an_administrator(client, make_role_user):
    client.force_login(make_role_user(None))

    response = client.get(reverse("overview"))

    assert response.status_code == 403
    assert "Your account has no role yet" in response.text
    assert "Ask an administrator" in response.text


# --- Navigation -------------------------------------------------------------------

NAVIGATION = {
    "Schedulers": (reverse("scheduler_list"), READERS),
    "New scheduler": (reverse("submission_new"), OPERATORS),
    "History": (reverse("history"), READERS),
    "Admin": (reverse("admin:index"), ADMINS),
}


def navigation(html: str) -> str:
    start = html.index('aria-label="Main"')
    return html[start : html.index("</nav>", start)]


@pytest.mark.parametrize("role", [NO_ROLE, VIEWER, OPERATOR, ADMINISTRATOR, SUPERUSER])
def test_navigation_shows_only_what_the_role_may_do(client, make_role_user, role):
    client.force_login(make_role_user(None if role == NO_ROLE else role))

    nav = navigation(client.get(reverse("overview")).text)

    shown = {label for label, (url, _) in NAVIGATION.items() if f'href="{url}"' in nav}
    assert shown == {label for label, (_, roles) in NAVIGATION.items() if role in roles}


@pytest.mark.parametrize("role", [VIEWER, OPERATOR])
def test_the_submission_page_offers_clone_and_refresh_to_operators_only(
    client, make_role_user, role
):
    submission = make_submission()
    Submission.claim(submission.pk)
    submission.refresh_from_db()
    submission.succeed({"InferenceSchedulerArn": "arn:x", "Status": "PENDING"})
    client.force_login(make_role_user(role))

    response = client.get(submission.get_absolute_url())

    offered = role == OPERATOR
    assert (f"{reverse('submission_new')}?from={submission.pk}" in response.text) is offered
    assert (reverse("submission_refresh", args=[submission.pk]) in response.text) is offered


# --- The roles themselves -----------------------------------------------------------


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_holds_exactly_its_permissions(db, role):
    sync_roles(django_apps)

    group = Group.objects.get(name=role)

    held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
    assert held == set(ROLES[role])


def test_a_users_permissions_are_their_own_and_their_roles_read_in_one_query(
    make_role_user, django_assert_num_queries
):
    user = make_role_user(OPERATOR)
    user.user_permissions.add(Permission.objects.get(codename="view_accessevent"))
    fresh = User.objects.get(pk=user.pk)

    with django_assert_num_queries(1):
        permissions = fresh.get_all_permissions()

    assert permissions == {*ROLES[OPERATOR], "schedulers.view_accessevent"}


def test_a_role_taken_away_is_refused_on_the_next_request(client, make_role_user):
    user = make_role_user(OPERATOR)
    client.force_login(user)
    assert client.get(reverse("submission_new")).status_code == 200

    user.groups.clear()

    assert client.get(reverse("submission_new")).status_code == 403


def test_syncing_the_roles_again_changes_nothing(db):
    sync_roles(django_apps)
    before = {g.name: set(g.permissions.all()) for g in Group.objects.all()}

    sync_roles(django_apps)

    assert {g.name: set(g.permissions.all()) for g in Group.objects.all()} == before


def test_joining_the_administrators_makes_a_user_staff(make_role_user):
    user = make_role_user(VIEWER)

    user.groups.add(Group.objects.get(name=ADMINISTRATOR))

    user.refresh_from_db()
    assert user.is_staff


def test_leaving_the_administrators_takes_staff_away(make_role_user):
    user = make_role_user(ADMINISTRATOR)

    user.groups.remove(Group.objects.get(name=ADMINISTRATOR))

    user.refresh_from_db()
    assert not user.is_staff


def test_adding_members_from_the_group_side_makes_them_staff_too(make_role_user):
    user = make_role_user(None)

    Group.objects.get(name=ADMINISTRATOR).user_set.add(user)

    user.refresh_from_db()
    assert user.is_staff


def test_emptying_the_administrators_takes_staff_from_all_of_them(make_role_user):
    first, second = make_role_user(ADMINISTRATOR, "first"), make_role_user(ADMINISTRATOR, "second")

    Group.objects.get(name=ADMINISTRATOR).user_set.clear()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_staff, second.is_staff) == (False, False)


def test_a_superuser_stays_staff_whatever_the_role(make_role_user):
    user = make_role_user(SUPERUSER)
    user.groups.add(Group.objects.get(name=VIEWER))

    user.groups.clear()

    user.refresh_from_db()
    assert user.is_staff
