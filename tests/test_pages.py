"""Overview, submission pages, health check and who may see them."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse

from scheduler_ui.schedulers.models import State, Submission
from scheduler_ui.schedulers.submitting import leave_for_the_sweeper
from scheduler_ui.schedulers.views import pages
from tests.factories import form_post, make_submission
from tests.services import point_celery_at

PAGES = ["overview", "submission_new", "admin:index"]
SUBMISSION_PAGES = ["submission_detail", "submission_status", "submission_refresh"]


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client, name):
    url = reverse(name)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login") if name != "admin:index" else "/admin/login/")


@pytest.mark.parametrize("name", SUBMISSION_PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page_from_a_submission(client, db, name):
    url = reverse(name, args=[make_submission().pk])

    response = client.get(url)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_health_check_needs_no_login(client, db):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_login_page_is_styled_like_the_rest(client, db):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert "Lookout Scheduler Console" in response.text


def test_overview_lists_recent_submissions_with_their_state(viewer_client):
    submission = make_submission(InferenceSchedulerName="compressor-7")

    response = viewer_client.get(reverse("overview"))

    assert "compressor-7" in response.text
    assert submission.get_absolute_url() in response.text
    assert f"state-{State.QUEUED}" in response.text


def test_overview_says_what_to_do_when_empty(operator_client):
    response = operator_client.get(reverse("overview"))

    assert "Create the first inference scheduler" in response.text


def submission_in(state: State, name: str) -> Submission:
    submission = make_submission(InferenceSchedulerName=name)
    Submission.objects.filter(pk=submission.pk).update(state=state)
    return submission


def test_each_overview_count_links_to_the_submissions_in_that_state(viewer_client):
    response = viewer_client.get(reverse("overview"))

    for state in [*State.values, "stuck"]:
        assert f'href="?state={state}"' in response.text


def test_overview_narrowed_to_a_state_lists_only_that_state(viewer_client):
    submission_in(State.FAILED, "broken-scheduler")
    submission_in(State.SUCCEEDED, "fine-scheduler")

    response = viewer_client.get(reverse("overview"), {"state": State.FAILED})

    assert "Recent submissions: Failed" in response.text
    assert "broken-scheduler" in response.text
    assert "fine-scheduler" not in response.text
    assert 'id="show-failed" aria-current="true"' in response.text


def test_overview_narrowed_to_the_sweeper_lists_what_no_worker_holds(viewer_client):
    leave_for_the_sweeper(make_submission(InferenceSchedulerName="unsent-scheduler"))
    make_submission(InferenceSchedulerName="queued-scheduler")

    response = viewer_client.get(reverse("overview"), {"state": "stuck"})

    assert "Recent submissions: Waiting for the sweeper" in response.text
    assert "unsent-scheduler" in response.text
    assert "queued-scheduler" not in response.text


def test_overview_narrowed_to_an_empty_state_says_so(viewer_client):
    submission_in(State.SUCCEEDED, "fine-scheduler")

    response = viewer_client.get(reverse("overview"), {"state": State.FAILED})

    assert "No submission in this state right now." in response.text
    assert "fine-scheduler" not in response.text


def test_overview_says_how_many_it_leaves_out(viewer_client, monkeypatch):
    monkeypatch.setattr(pages, "RECENT", 2)
    for number in range(3):
        submission_in(State.FAILED, f"broken-{number}")

    response = viewer_client.get(reverse("overview"), {"state": State.FAILED})

    assert "The 2 most recent of 3" in response.text
    assert f"{reverse('history')}?state=failed" in response.text
    assert "broken-0" not in response.text


def test_overview_refreshes_itself_while_work_is_in_progress(viewer_client):
    make_submission()

    response = viewer_client.get(reverse("overview"), {"state": State.QUEUED})

    assert 'hx-get="/?state=queued" hx-trigger="every 5s"' in response.text


def test_overview_stops_refreshing_once_everything_has_settled(viewer_client):
    submission_in(State.SUCCEEDED, "fine-scheduler")

    response = viewer_client.get(reverse("overview"))

    assert 'id="overview-live"' in response.text
    assert "hx-trigger" not in response.text


def test_a_refresh_of_the_overview_leaves_a_message_for_the_next_page(operator_client):
    operator_client.post(reverse("submission_new"), form_post())  # "... it is queued."

    refresh = operator_client.get(reverse("overview"), headers={"HX-Request": "true"})
    page = operator_client.get(reverse("overview"))

    assert "it is queued" not in refresh.text
    assert "it is queued" in page.text


def test_overview_with_a_state_that_does_not_exist_is_not_found(viewer_client):
    response = viewer_client.get(reverse("overview"), {"state": "lost"})

    assert response.status_code == 404


def test_submission_page_shows_the_request_as_json_and_as_a_boto3_call(viewer_client):
    submission = make_submission(InferenceSchedulerName="fan-3")

    response = viewer_client.get(submission.get_absolute_url())

    assert response.status_code == 200
    assert "create_inference_scheduler(" in response.text
    assert "&quot;InferenceSchedulerName&quot;: &quot;fan-3&quot;" in response.text
    assert "Submitted" in response.text


def test_submission_page_polls_while_work_is_in_flight(viewer_client):
    submission = make_submission()

    response = viewer_client.get(submission.get_absolute_url())

    assert 'hx-trigger="every 2s"' in response.text


def test_submission_page_stops_polling_once_settled(viewer_client):
    submission = make_submission()
    Submission.claim(submission.pk)
    submission.refresh_from_db()
    submission.fail("ValidationException", "Bucket is wrong")

    response = viewer_client.get(reverse("submission_status", args=[submission.pk]))

    assert "hx-trigger" not in response.text
    assert "ValidationException" in response.text
    assert "Bucket is wrong" in response.text


def test_unknown_submission_is_not_found(viewer_client):
    assert viewer_client.get(reverse("submission_detail", args=[999999])).status_code == 404


def test_refresh_now_says_so_when_the_task_queue_is_down(operator_client, monkeypatch):
    submission = make_submission()
    point_celery_at("redis://127.0.0.1:1/0", monkeypatch)

    response = operator_client.post(
        reverse("submission_refresh", args=[submission.pk]), follow=True
    )

    assert response.status_code == 200
    assert "The task queue is unavailable" in response.text


@pytest.fixture
def running_scheduler(operator) -> Submission:
    """A create that succeeded, its scheduler RUNNING: settled, so its page is still."""
    submission = make_submission(operator)
    Submission.claim(submission.pk)
    submission.refresh_from_db()
    submission.succeed({"InferenceSchedulerArn": "arn:aws:x", "Status": "PENDING"})
    submission.record_status("RUNNING")
    return submission


def follows(response) -> bool:
    return "hx-trigger" in response.text


def test_refresh_now_has_a_settled_submissions_page_follow_it_for_a_while(
    operator_client, running_scheduler
):
    refreshed = operator_client.post(reverse("submission_refresh", args=[running_scheduler.pk]))
    page = operator_client.get(refreshed.url)

    assert refreshed.url.startswith(f"{running_scheduler.get_absolute_url()}?checking=")
    assert follows(page)
    assert "Checking the status" in page.text
    assert not follows(operator_client.get(running_scheduler.get_absolute_url()))


def test_the_following_after_refresh_now_ends_after_twenty_seconds(
    operator_client, running_scheduler
):
    with time_machine.travel(datetime.datetime(2026, 3, 1, 9, tzinfo=datetime.UTC)) as clock:
        refreshed = operator_client.post(reverse("submission_refresh", args=[running_scheduler.pk]))
        status_url = refreshed.url.replace("/?", "/status/?")
        clock.shift(datetime.timedelta(seconds=19))
        still = operator_client.get(status_url)
        clock.shift(datetime.timedelta(seconds=2))
        ended = operator_client.get(status_url)

    assert follows(still)
    assert not follows(ended)
    assert "Settled" in ended.text


@pytest.mark.parametrize("checking", ["99999999999", "0", "-5", "soon", "1" * 40])
def test_a_made_up_checking_time_does_not_make_a_page_follow(
    viewer_client, running_scheduler, checking
):
    url = f"{running_scheduler.get_absolute_url()}?checking={checking}"

    response = viewer_client.get(url)

    assert response.status_code == 200
    assert not follows(response)
