"""Forged and guessed requests: every POST needs the CSRF token, on the
console's pages and in the admin, and an id that names nothing is a 404, never
a 500."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from scheduler_ui.schedulers.models import Submission
from tests.factories import make_submission
from tests.pages import CONSOLE_PAGES, admin_urls, console_url, takes_submission

SUBMISSION_PAGES = [name for name in CONSOLE_PAGES if takes_submission(name)]


@pytest.fixture
def csrf_client(make_role_user):
    """A superuser (so no permission stands in the way) whose browser, like a
    real one, holds the CSRF cookie but sends the token only when a page asks."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_role_user("superuser", "root"))
    client.get(reverse("overview"))
    assert "csrftoken" in client.cookies
    return client


def token(client: Client) -> str:
    return client.cookies["csrftoken"].value


def refused_for_csrf(response, caplog) -> bool:
    return response.status_code == 403 and any(
        record.name == "django.security.csrf" for record in caplog.records
    )


@pytest.mark.parametrize("name", CONSOLE_PAGES)
def test_every_console_url_refuses_a_post_without_the_token(csrf_client, caplog, name):
    url = console_url(name, make_submission())

    response = csrf_client.post(url, {})

    assert refused_for_csrf(response, caplog)


@pytest.mark.parametrize("name", CONSOLE_PAGES)
def test_every_console_url_lets_a_post_with_the_token_past_the_check(csrf_client, caplog, name):
    url = console_url(name, make_submission())

    response = csrf_client.post(url, {"csrfmiddlewaretoken": token(csrf_client)})

    assert not refused_for_csrf(response, caplog)
    assert response.status_code < 500


def test_the_live_preview_takes_the_token_from_a_header(csrf_client, caplog):
    url = reverse("submission_preview")

    without = csrf_client.post(url, {})
    with_header = csrf_client.post(url, {}, headers={"X-CSRFToken": token(csrf_client)})

    assert without.status_code == 403
    assert with_header.status_code == 200


def test_a_forged_login_is_refused(caplog, db):
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("login"))

    response = client.post(reverse("login"), {"username": "alice", "password": "x"})

    assert refused_for_csrf(response, caplog)


def test_every_admin_page_refuses_a_post_without_the_token(csrf_client, caplog):
    make_submission()
    someone = User.objects.create_user("someone")
    urls = [
        *admin_urls(),
        reverse("admin:logout"),
        reverse("admin:auth_user_password_change", args=[someone.pk]),
    ]

    refused = {url: refused_for_csrf(csrf_client.post(url, {}), caplog) for url in urls}

    assert refused == dict.fromkeys(urls, True)


def test_an_admin_action_without_the_token_is_refused(csrf_client, caplog):
    victim = User.objects.create_user("victim")
    url = reverse("admin:auth_user_changelist")
    action = {"action": "delete_selected", "_selected_action": [victim.pk]}

    response = csrf_client.post(url, action)

    assert refused_for_csrf(response, caplog)
    assert User.objects.filter(pk=victim.pk).exists()


def test_resubmitting_from_the_admin_without_the_token_sends_nothing(csrf_client, caplog):
    submission = make_submission()
    url = reverse("admin:schedulers_submission_changelist")
    action = {"action": "resubmit_as_new", "_selected_action": [submission.pk]}

    response = csrf_client.post(url, action)

    assert refused_for_csrf(response, caplog)
    assert Submission.objects.count() == 1


def test_an_admin_action_with_the_token_gets_to_its_confirmation(csrf_client, caplog):
    victim = User.objects.create_user("victim")
    url = reverse("admin:auth_user_changelist")
    action = {"action": "delete_selected", "_selected_action": [victim.pk]}

    response = csrf_client.post(url, {**action, "csrfmiddlewaretoken": token(csrf_client)})

    assert response.status_code == 200
    assert "Delete multiple objects" in response.text


# --- Guessed ids -------------------------------------------------------------------------

NOWHERE = [0, 999_999, 2**31, 2**63 - 1, 2**63, 10**30]


@pytest.mark.parametrize("pk", NOWHERE)
@pytest.mark.parametrize("name", SUBMISSION_PAGES)
def test_a_submission_id_that_names_nothing_is_not_found(csrf_client, caplog, name, pk):
    caplog.set_level(logging.ERROR)
    url = console_url(name, pk=pk)

    got = csrf_client.get(url)
    posted = csrf_client.post(url, {"csrfmiddlewaretoken": token(csrf_client)})

    assert got.status_code in (404, 405)
    assert posted.status_code == 404


def test_a_scheduler_name_no_submission_used_is_not_found(csrf_client):
    url = reverse("scheduler_history", kwargs={"name": "never-submitted"})

    assert csrf_client.get(url).status_code == 404


@pytest.mark.parametrize("pk", ["999999", str(10**30), "not-a-number"])
def test_the_admin_answers_an_id_that_names_nothing_without_an_error(csrf_client, pk):
    make_submission()
    for model in ("submission", "submissionevent"):
        url = reverse(f"admin:schedulers_{model}_change", args=[pk])

        response = csrf_client.get(url)

        # The admin says "doesn't exist. Perhaps it was deleted?" on its index.
        assert response.status_code == 302
        assert response.url == reverse("admin:index")
