"""Stored XSS: hostile strings in every free-text member that reaches storage,
in what the endpoint answers and in what the console records, are shown
escaped on every page and admin view."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils.html import escape

from scheduler_ui import lookout
from scheduler_ui.lookout.service import in_model_order
from scheduler_ui.schedulers.models import State, Submission
from scheduler_ui.schedulers.submitting import submit_to_lookout
from tests.factories import form_post, request_dict
from tests.pages import CONSOLE_PAGES, admin_urls, console_url, page_text

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
TEXTAREA = "</textarea><script>alert(2)</script>"
TEMPLATE = "{{7*7}}{% debug %}"
JS_URL = "javascript:alert(1)"
FULLWIDTH = "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e"  # fullwidth signs, not <script>
ZERO_WIDTH = "<scr\u200bipt>alert(1)</scr\u200bipt>"
RIGHT_TO_LEFT = "\u202e<script>alert(3)</script>"
# TagKey allows + to = (a range that takes in <) but not > or a space.
TAG_KEY = "<svg/onload=alert"
# A scheduler Status is at most 16 characters.
STATUS = '"><i onclick=x>'

CORPUS = [SCRIPT, IMG, TEXTAREA, TEMPLATE, JS_URL, FULLWIDTH, ZERO_WIDTH, RIGHT_TO_LEFT]
# What must never reach a page as markup.
MARKUP = [
    SCRIPT,
    "<img src=x onerror=alert(1)>",
    "</textarea><script>",
    "<scr\u200bipt>",
    "<script>alert(3)</script>",
    "<svg/onload=alert",
    "<i onclick=x>",
]

ALLOWED_ROLE = f"arn:aws:iam::123456789012:role/{TEXTAREA}"
DENIED_ROLE = f"arn:aws:iam::123456789012:role/{SCRIPT}"


def hostile_request(**overrides):
    """A CreateInferenceScheduler request the service accepts, carrying the corpus in
    every member whose pattern lets it through: tag values (anything), tag keys,
    prefixes (anything ending in /), the role ARN (anything after role/), KMS ids
    (letters and colons only) and the ClientToken (any ASCII)."""
    members = dict(
        InferenceSchedulerName="xss-scheduler",
        DataInputConfiguration={
            "S3InputConfiguration": {"Bucket": "plant-input", "Prefix": f"{SCRIPT}/"}
        },
        DataOutputConfiguration={
            "S3OutputConfiguration": {"Bucket": "plant-output", "Prefix": f"{IMG}/"},
            "KmsKeyId": "javascript:alert",
        },
        RoleArn=ALLOWED_ROLE,
        ServerSideKmsKeyId="alias/javascript:alert",
        ClientToken=IMG,
        Tags=[{"Key": f"{TAG_KEY}{n}", "Value": value} for n, value in enumerate(CORPUS)],
    )
    return request_dict(**{**members, **overrides})


def test_the_service_accepts_every_hostile_member_we_store():
    assert lookout.validate_request("CreateInferenceScheduler", hostile_request()) == []
    assert (
        lookout.validate_request("CreateInferenceScheduler", hostile_request(RoleArn=DENIED_ROLE))
        == []
    )


@pytest.fixture
def hostile(configure_lookout, make_role_user, client):
    """A superuser named with the corpus, and submissions full of it: one created
    by the endpoint, one refused by it (its error message quotes the role ARN),
    one failed and one answered with made-up values, as a hostile endpoint might."""
    configure_lookout(allowed_role_arns={ALLOWED_ROLE})
    user = make_role_user("superuser", "root")
    user.first_name, user.last_name = SCRIPT, IMG
    user.save()
    client.force_login(user)

    created = Submission.accept(hostile_request(), user)
    refused = Submission.accept(
        hostile_request(
            InferenceSchedulerName="xss-refused", RoleArn=DENIED_ROLE, ClientToken=SCRIPT
        ),
        user,
    )
    for submission in (created, refused):
        submit_to_lookout(submission.pk)

    failed = Submission.accept(
        hostile_request(InferenceSchedulerName="xss-failed", ClientToken="t1"), user
    )
    Submission.claim(failed.pk)
    failed.refresh_from_db()
    failed.fail(SCRIPT, f"{IMG} {TEXTAREA}", reason=RIGHT_TO_LEFT)

    answered = Submission.accept(
        hostile_request(InferenceSchedulerName="xss-answered", ClientToken="t2"), user
    )
    Submission.claim(answered.pk)
    answered.refresh_from_db()
    answered.succeed(
        {"InferenceSchedulerArn": JS_URL, "Status": STATUS, "ModelQuality": SCRIPT},
        how=TEMPLATE,
    )
    answered.record_status(STATUS[::-1])

    submissions = [Submission.objects.get(pk=s.pk) for s in (created, refused, failed, answered)]
    assert [s.state for s in submissions] == [
        State.SUCCEEDED,
        State.FAILED,
        State.FAILED,
        State.SUCCEEDED,
    ]
    assert DENIED_ROLE in submissions[1].error_message
    return client, submissions


def assert_escaped(body: str, where: str) -> None:
    for markup in MARKUP:
        assert markup not in body, f"{where} shows {markup!r} unescaped"
    for attribute in ("href", "src", "action", "formaction"):
        assert f'{attribute}="javascript:' not in body.lower(), where


def hostile_query() -> str:
    """The corpus in every query parameter a page might read and show back."""
    names = ["q", "user", "scheduler", "kind", "state", "before", "after", "page", "next"]
    return "?" + urlencode(dict.fromkeys(names, SCRIPT))


def hostile_form() -> dict[str, str]:
    return form_post(
        tags=[(TAG_KEY, value) for value in CORPUS],
        input_bucket="plant-input",
        input_prefix=f"{SCRIPT}/",
        output_prefix=IMG,  # refused (no trailing /): the form shows it back with the error
        role_arn=DENIED_ROLE,
        client_token=TEXTAREA,
        output_kms_key_id=SCRIPT,
    )


def visit(client, name: str, submission: Submission) -> list[tuple[str, Any]]:
    """A console page, as GET and with the corpus in its query string, or as a
    POST of the hostile form when it takes only POSTs."""
    url = console_url(name, submission)
    response = client.get(url)
    if response.status_code == 405:
        return [(f"POST {url}", client.post(url, hostile_form()))]
    return [(url, response), (url + "?…", client.get(url + hostile_query()))]


@pytest.mark.parametrize("name", [name for name in CONSOLE_PAGES if name != "logout"])
def test_every_console_page_shows_hostile_values_escaped(hostile, name):
    client, submissions = hostile

    for submission in submissions:
        for where, response in visit(client, name, submission):
            assert response.status_code < 500, where
            body = page_text(response)
            if response["Content-Type"].startswith("text/html"):
                assert_escaped(body, where)
                if response.status_code == 200 and "<html" in body:
                    assert f"Signed in as <strong>{escape(SCRIPT)} {escape(IMG)}</strong>" in body
            else:
                # Not HTML, so never run as HTML: the browser must not guess otherwise.
                assert response["X-Content-Type-Options"] == "nosniff", where


def test_logging_out_shows_nothing_raw(hostile):
    client, _ = hostile

    response = client.post(reverse("logout"), follow=True)

    assert_escaped(page_text(response), "logout")


def test_every_admin_page_shows_hostile_values_escaped(hostile):
    client, _ = hostile

    for url in admin_urls():
        for address in (url, url + hostile_query()):
            response = client.get(address)
            assert response.status_code in (200, 302), address
            assert_escaped(page_text(response), address)


def test_the_submission_page_shows_the_hostile_request_as_text(hostile):
    client, [created, *_] = hostile

    body = page_text(client.get(created.get_absolute_url()))

    # Shown in the API's member order (PostgreSQL's jsonb keeps its own).
    ordered = in_model_order("CreateInferenceSchedulerRequest", created.request)
    shown = escape(json.dumps(ordered, indent=2))
    assert shown in body
    assert escape(IMG) in body  # the ClientToken, as itself
    assert escape(TEMPLATE) in body  # shown as typed, never run as a template


def test_the_status_shows_the_endpoints_hostile_error_message_as_text(hostile):
    client, [_, refused, *_] = hostile

    body = page_text(client.get(reverse("submission_status", args=[refused.pk])))

    assert escape(refused.error_message) in body
    assert escape(SCRIPT) in body


def test_made_up_answers_of_an_endpoint_are_shown_as_text(hostile):
    client, [*_, answered] = hostile

    body = page_text(client.get(answered.get_absolute_url()))

    assert escape(STATUS) in body
    assert escape(JS_URL) in body
    assert 'href="javascript' not in body


def test_history_shows_hostile_event_details_as_text(hostile):
    client, _ = hostile

    body = page_text(client.get(reverse("history")))

    assert escape(f"{IMG} {TEXTAREA}") in body
    assert escape(RIGHT_TO_LEFT) in body


def test_the_admin_shows_hostile_submissions_and_events_as_text(hostile):
    client, [_, refused, failed, _] = hostile
    event = failed.events.get(to_state=State.FAILED)

    submission_page = page_text(
        client.get(reverse("admin:schedulers_submission_change", args=[refused.pk]))
    )
    event_page = page_text(
        client.get(reverse("admin:schedulers_submissionevent_change", args=[event.pk]))
    )

    assert escape(refused.error_message) in submission_page
    assert escape(TEXTAREA) in event_page


def test_the_form_takes_the_hostile_values_the_service_takes(hostile):
    client, _ = hostile
    data = hostile_form()
    data.update(output_prefix=f"{IMG}/", output_kms_key_id="", inference_scheduler_name="via-form")

    response = client.post(reverse("submission_new"), data)

    assert response.status_code == 302
    stored = Submission.objects.get(scheduler_name="via-form").request
    assert [tag["Value"] for tag in stored["Tags"]] == CORPUS
    assert_escaped(page_text(client.get(response.url)), "the new submission")
