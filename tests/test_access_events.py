"""Logins, logouts and failed logins are recorded (who, when, from where), read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scheduler_ui.schedulers.access import ADMINISTRATOR
from scheduler_ui.schedulers.models import AccessEvent, AccessKind, AppendOnlyError
from tests.factories import make_user

LOGIN = reverse("login")
PASSWORD = "correct-horse"  # what tests.factories.make_user gives everyone
ADDRESS = "203.0.113.7"


@pytest.fixture
def erin(db):
    return make_user("erin")


def test_a_login_is_recorded_with_the_user_the_time_and_the_address(client, erin):
    client.post(LOGIN, {"username": "erin", "password": PASSWORD}, REMOTE_ADDR=ADDRESS)

    event = AccessEvent.objects.get()
    assert (event.kind, event.user, event.username) == (AccessKind.LOGGED_IN, erin, "erin")
    assert event.ip_address == ADDRESS
    assert event.at is not None


def test_a_failed_login_is_recorded_with_the_name_that_was_tried(client, db):
    client.post(LOGIN, {"username": "mallory", "password": "guess"}, REMOTE_ADDR=ADDRESS)

    event = AccessEvent.objects.get()
    assert (event.kind, event.user, event.username) == (AccessKind.LOGIN_FAILED, None, "mallory")
    assert event.ip_address == ADDRESS


def test_a_wrong_password_for_a_real_user_is_a_failed_login(client, erin):
    client.post(LOGIN, {"username": "erin", "password": "wrong"}, REMOTE_ADDR=ADDRESS)

    assert AccessEvent.objects.get().kind == AccessKind.LOGIN_FAILED


def test_a_logout_is_recorded(client, erin):
    client.force_login(erin)

    client.post(reverse("logout"), REMOTE_ADDR=ADDRESS)

    event = AccessEvent.objects.get(kind=AccessKind.LOGGED_OUT)
    assert (event.user, event.ip_address) == (erin, ADDRESS)


def test_logging_out_when_not_logged_in_records_nothing(client, db):
    client.post(reverse("logout"))

    assert not AccessEvent.objects.exists()


def test_the_address_is_the_one_the_login_throttling_counts(client, erin, settings):
    settings.BEHIND_PROXY = True

    client.post(
        LOGIN,
        {"username": "erin", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9",
    )

    assert AccessEvent.objects.get().ip_address == "203.0.113.9"


def test_an_address_that_is_not_an_ip_address_is_left_empty(client, erin):
    client.post(LOGIN, {"username": "erin", "password": PASSWORD}, REMOTE_ADDR="")

    assert AccessEvent.objects.get().ip_address is None


def test_access_events_cannot_be_changed_or_deleted(client, erin):
    client.force_login(erin)
    event = AccessEvent.objects.get()
    event.username = "someone-else"

    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AccessEvent.objects.update(username="x")
    with pytest.raises(AppendOnlyError):
        AccessEvent.objects.all().delete()


def test_administrators_read_the_access_log_in_the_admin(client, make_role_user):
    client.post(LOGIN, {"username": "mallory", "password": "guess"}, REMOTE_ADDR=ADDRESS)
    client.force_login(make_role_user(ADMINISTRATOR))

    response = client.get(reverse("admin:schedulers_accessevent_changelist"))

    assert response.status_code == 200
    assert "mallory" in response.text
    assert ADDRESS in response.text


def test_the_access_log_is_read_only_in_the_admin(client, make_role_user):
    client.force_login(make_role_user("superuser"))
    event = AccessEvent.objects.get()
    change = reverse("admin:schedulers_accessevent_change", args=[event.pk])

    page = client.get(change)
    posted = client.post(change, {"username": "x"})
    deleted = client.post(reverse("admin:schedulers_accessevent_delete", args=[event.pk]))
    added = client.get(reverse("admin:schedulers_accessevent_add"))

    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert (posted.status_code, deleted.status_code, added.status_code) == (403, 403, 403)
    assert (
        "delete_selected" not in client.get(reverse("admin:schedulers_accessevent_changelist")).text
    )
