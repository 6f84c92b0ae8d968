"""The console in a real browser: Debian's chromium, driven by Playwright, against
the live server; the main flow goes through a real worker and the local endpoint.

Each main page is checked with axe-core and photographed into var/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Frame,
    Page,
    Request,
    Response,
    expect,
    sync_playwright,
)

from scheduler_ui.local_endpoint.server import LocalEndpoint
from scheduler_ui.schedulers import submitting
from scheduler_ui.schedulers.forms import CreateSchedulerForm
from scheduler_ui.schedulers.models import Operation, PeriodicRun, Submission
from tests.conftest import Lookout
from tests.factories import form_post, full_form_post, make_submission, make_user, request_dict
from tests.services import ROOT, free_port, point_celery_at, require, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "var" / "screenshots"
PASSWORD = "correct-horse"  # what tests.factories.make_user gives everyone
MANAGEMENT_FIELDS = {"tags-TOTAL_FORMS", "tags-INITIAL_FORMS"}
# Long enough for a worker process to start and the scheduler to settle.
LIVE_TIMEOUT_MS = 45_000
READ = ("view_submission", "view_submissionevent")  # what every role may do
# The pages a person with data reaches from the menu; {pk} is a submission's.
MAIN_PAGES = [
    "/",
    "/?state=failed",
    "/history/",
    "/history/schedulers/pump-scheduler/",
    "/submissions/{pk}/",
    "/schedulers/new/",
    "/schedulers/bulk/",
    "/settings/",
    "/accounts/password/",
]
EXPECTED_CONSOLE_ERRORS = (
    # A page refused on purpose (403); failing scripts, styles and XHRs are
    # caught by their responses instead.
    "Failed to load resource",
    # htmx logs a request the browser aborted because the page is navigating away.
    "htmx:afterRequest",
    "htmx:sendAbort",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium for the module; each test gets a fresh context."""
    require(CHROMIUM.exists(), f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API keeps an asyncio loop running in this thread, which
    # makes Django refuse the tests' own (synchronous) database calls.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def expected_browser_errors() -> list[str]:
    """The starts of the browser errors a test expects: none, unless it adds some."""
    return []


@pytest.fixture
def new_page(
    browser: Browser, live_server: Any, expected_browser_errors: list[str]
) -> Iterator[Callable[..., Page]]:
    """Pages, each in a fresh context on the live server; any error in the browser
    (a script error, a failing script, style or htmx request) fails the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith(EXPECTED_CONSOLE_ERRORS):
            errors.append(message.text)

    def on_page_error(error: Error) -> None:
        errors.append(str(error))

    def on_response(response: Response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            errors.append(f"{response.status} {response.url}")

    def new(**options: Any) -> Page:
        options = {"viewport": {"width": 1280, "height": 900}, **options}
        context = browser.new_context(base_url=live_server.url, **options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", on_page_error)
        page.on("console", on_console)
        page.on("response", on_response)
        return page

    yield new
    for context in contexts:
        context.close()
    unexpected = [error for error in errors if not error.startswith(tuple(expected_browser_errors))]
    assert unexpected == [], "errors in the browser"


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page()


def log_in(page: Page, user: User) -> None:
    page.goto("/")
    sign_in(page, user)
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()


def sign_in(page: Page, user: User) -> None:
    """On the login page."""
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def assert_accessible(page: Page) -> None:
    """axe-core finds nothing serious or critical on the page as it is now.

    axe is loaded from the vendored static file by URL, as the page's own
    scripts are, so a strict Content-Security-Policy does not stop it."""
    page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results["violations"]
        if v["impact"] in {"serious", "critical"}
    ]
    assert serious == [], f"accessibility problems on {page.url}"


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")  # sticky parts in their place
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def overflowing_boxes(page: Page) -> list[str]:
    """The page itself and its scrollable tables, where wider than the window."""
    return list(
        page.evaluate(
            """() => [document.documentElement, ...document.querySelectorAll('.table-responsive')]
                .filter((box) => box.scrollWidth > box.clientWidth)
                .map((box) => box.className || box.tagName)"""
        )
    )


def fill_form(page: Page, data: dict[str, str]) -> None:
    """Type a form_post()-style dict into the form, adding tag rows with its button."""
    tags = int(data["tags-TOTAL_FORMS"])
    for name, value in data.items():
        if name in MANAGEMENT_FIELDS or name.startswith("tags-"):
            continue
        field = page.locator(f"#id_{name}")
        if field.evaluate("element => element.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    for index in range(tags):
        page.get_by_role("button", name="Add a tag").click()
        page.locator(f"#id_tags-{index}-key").fill(data[f"tags-{index}-key"])
        page.locator(f"#id_tags-{index}-value").fill(data[f"tags-{index}-value"])


def request_for(data: dict[str, str]) -> dict[str, Any]:
    """The request the server builds from this form data."""
    form = CreateSchedulerForm(data)
    assert form.is_valid()
    return form.to_request()


def navigations(page: Page) -> list[str]:
    """The URLs the page's main frame navigates to from now on."""
    seen: list[str] = []

    def on_navigated(frame: Frame) -> None:
        if frame == page.main_frame:
            seen.append(frame.url)

    page.on("framenavigated", on_navigated)
    return seen


@pytest.fixture
def operator() -> User:
    return make_user("alice", *READ, "add_submission", first_name="Alice", last_name="Ng")


@pytest.fixture
def team_activity(operator: User) -> list[Submission]:
    """Submissions in every state a person sees on the overview and in the history."""
    running = make_submission(operator, InferenceSchedulerName="pump-scheduler")
    Submission.claim(running.pk)
    running.refresh_from_db()
    running.succeed(
        {
            "InferenceSchedulerArn": "arn:aws:lookoutequipment:us-east-1:123456789012:"
            "inference-scheduler/pump-scheduler/1a2b3c",
            "Status": "PENDING",
            "ModelQuality": "QUALITY_THRESHOLD_MET",
        }
    )
    running.record_status("RUNNING")
    failed = make_submission(
        operator, InferenceSchedulerName="fan-scheduler", ModelName="fan-model"
    )
    Submission.claim(failed.pk)
    failed.refresh_from_db()
    failed.fail("ResourceNotFoundException", "Model fan-model does not exist")
    waiting = make_submission(
        operator, InferenceSchedulerName="turbine-scheduler", ModelName="turbine-model"
    )
    Submission.claim(waiting.pk)
    waiting.refresh_from_db()
    waiting.schedule_retry("ThrottlingException", "Rate exceeded", 30)
    queued = make_submission(
        operator, InferenceSchedulerName="conveyor-scheduler", ModelName="conveyor-model"
    )
    return [running, failed, waiting, queued]


@pytest.mark.redis
def test_an_operator_creates_a_scheduler_and_watches_it_reach_running_without_a_reload(
    page: Page,
    operator: User,
    redis_url: str,
    make_lookout_endpoint: Callable[..., LocalEndpoint],
    start_worker: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_celery_at(redis_url, monkeypatch)  # the live server runs in this process
    endpoint = make_lookout_endpoint(pending_seconds=1)
    data = full_form_post()
    expected = request_for(data)
    log_in(page, operator)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="New scheduler").click()
    fill_form(page, data)
    expect(page.get_by_test_id("preview-json")).to_contain_text('"Key": "cost-center"')
    screenshot(page, "form")
    page.get_by_role("button", name="Create scheduler").click()
    expect(page.get_by_role("heading", name="pump-scheduler", level=1)).to_be_visible()
    expect(page.get_by_text("Submitted pump-scheduler; it is queued.")).to_be_visible()
    expect(page.get_by_test_id("state")).to_have_text("Queued")
    url, seen = page.url, navigations(page)
    start_worker(redis_url, endpoint.url)

    expect(page.get_by_test_id("scheduler-status")).to_have_text("RUNNING", timeout=LIVE_TIMEOUT_MS)
    expect(page.get_by_test_id("state")).to_have_text("Succeeded")
    expect(page.locator("#submission-status")).to_have_attribute("data-settled", "yes")
    assert page.locator("#submission-status[hx-trigger]").count() == 0  # polling stopped
    assert (page.url, seen) == (url, [])
    assert Submission.objects.get().request == expected
    expect(page.get_by_test_id("timeline").get_by_role("listitem")).to_have_count(4)
    screenshot(page, "submission")
    assert_accessible(page)


@pytest.mark.redis
def test_refresh_now_shows_a_status_changed_outside_the_console_without_a_reload(
    page: Page,
    operator: User,
    redis_url: str,
    lookout: Lookout,
    start_worker: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_celery_at(redis_url, monkeypatch)  # the live server runs in this process
    lookout.client.create_inference_scheduler(**request_dict())
    submitting.follow_statuses()  # the console's record of it: RUNNING, settled
    record = Submission.objects.get()
    start_worker(redis_url, lookout.endpoint.url, beat=False)  # no sync: only the refresh asks
    log_in(page, operator)
    page.goto(record.get_absolute_url())
    expect(page.get_by_test_id("scheduler-status")).to_have_text("RUNNING")
    lookout.client.stop_inference_scheduler(InferenceSchedulerName="pump-scheduler")

    page.get_by_role("button", name="Refresh status now").click()

    expect(page.get_by_text("Asked AWS for the scheduler's status.")).to_be_visible()
    seen = navigations(page)
    expect(page.get_by_test_id("scheduler-status")).to_have_text("STOPPED", timeout=LIVE_TIMEOUT_MS)
    assert seen == []
    assert_accessible(page)


def test_an_invalid_bucket_is_refused_at_its_field_with_the_input_kept(
    page: Page, operator: User
) -> None:
    log_in(page, operator)
    page.goto("/schedulers/new/")
    fill_form(page, form_post(tags=[("team", "reliability")], input_bucket="Bad_Bucket"))

    page.get_by_role("button", name="Create scheduler").click()

    bucket = page.get_by_label("Input S3 bucket")
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    expect(bucket).to_have_value("Bad_Bucket")
    expect(bucket).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_input_bucket_error")).to_contain_text("Must match the pattern")
    expect(page.get_by_label("Scheduler name")).to_have_value("pump-scheduler")
    expect(page.locator("#id_tags-0-key")).to_have_value("team")
    assert not Submission.objects.exists()
    screenshot(page, "form-with-errors")
    assert_accessible(page)


def test_the_preview_shows_the_request_as_you_type(page: Page, operator: User) -> None:
    log_in(page, operator)
    page.goto("/schedulers/new/")
    preview = page.get_by_test_id("preview")
    expect(preview).to_contain_text("Scheduler name: This field is required.")

    fill_form(page, form_post())
    expect(page.get_by_test_id("preview-json")).to_contain_text(
        '"ClientToken": "<generated on submit>"'
    )
    shown = json.loads(page.get_by_test_id("preview-json").inner_text())
    page.get_by_label("Input S3 bucket").fill("Bad_Bucket")

    expect(preview.get_by_role("link", name="Input S3 bucket")).to_be_visible()
    assert shown == {**request_for(form_post()), "ClientToken": "<generated on submit>"}
    assert not Submission.objects.exists()
    assert_accessible(page)


def test_once_the_session_ends_the_preview_stays_and_says_to_sign_in_again(
    page: Page, operator: User, expected_browser_errors: list[str]
) -> None:
    # The preview's request, refused, and htmx saying so in the console.
    expected_browser_errors.extend(["401 ", "Response Status Error Code 401"])
    log_in(page, operator)
    page.goto("/schedulers/new/")
    fill_form(page, form_post())
    json_shown = page.get_by_test_id("preview-json")
    expect(json_shown).to_contain_text('"InferenceSchedulerName": "pump-scheduler"')

    Session.objects.all().delete()  # the session ends (eight hours, or a log out elsewhere)
    page.get_by_label("Scheduler name").fill("pump-scheduler-2")

    notice = page.get_by_test_id("page-notice")
    expect(notice).to_contain_text("Your session has ended")
    expect(notice.get_by_role("link", name="Sign in again")).to_have_attribute(
        "href", "/accounts/login/?next=/schedulers/new/"
    )
    expect(json_shown).to_contain_text('"InferenceSchedulerName": "pump-scheduler"')
    expect(page.get_by_label("Scheduler name")).to_have_value("pump-scheduler-2")
    assert page.get_by_label("Password").count() == 0  # no login page inside this one
    assert_accessible(page)


# --- What was typed, kept (console.js keeps a form's draft in the tab) ---------------


@pytest.fixture
def typed_in_the_form(page: Page, operator: User) -> dict[str, str]:
    """Every member of the new scheduler form typed in, three tag rows included."""
    data = full_form_post()
    log_in(page, operator)
    page.goto("/schedulers/new/")
    fill_form(page, data)
    # The preview has caught up: no request of it is left to be refused later.
    expect(page.get_by_test_id("preview-json")).to_contain_text('"Key": "cost-center"')
    return data


def expect_the_form_holds(page: Page, data: dict[str, str]) -> None:
    for name, value in data.items():
        if name not in MANAGEMENT_FIELDS:
            expect(page.locator(f"#id_{name}")).to_have_value(value)


def test_a_form_sent_after_the_session_ended_is_filled_in_again_once_signed_in(
    page: Page, operator: User, typed_in_the_form: dict[str, str]
) -> None:
    expected = request_for(typed_in_the_form)
    Session.objects.all().delete()  # the session ends while the form is filled in

    page.get_by_role("button", name="Create scheduler").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    sign_in(page, operator)

    expect(page.get_by_test_id("page-notice")).to_contain_text("This form holds what you typed")
    expect_the_form_holds(page, typed_in_the_form)
    assert_accessible(page)
    page.get_by_role("button", name="Create scheduler").click()
    expect(page.get_by_role("heading", name="pump-scheduler", level=1)).to_be_visible()
    assert Submission.objects.get().request == expected


def test_a_form_sent_from_an_expired_page_is_filled_in_again_on_reload(
    page: Page, operator: User, typed_in_the_form: dict[str, str]
) -> None:
    expected = request_for(typed_in_the_form)
    elsewhere = page.context.new_page()  # another tab: signs out and in again
    elsewhere.goto("/")
    elsewhere.get_by_role("button", name="Signed in as Alice Ng").click()
    elsewhere.get_by_role("button", name="Log out").click()
    log_in(elsewhere, operator)

    page.get_by_role("button", name="Create scheduler").click()
    expect(page.get_by_role("heading", name="This page has expired")).to_be_visible()
    page.go_back()  # as the expired page says
    page.reload()

    expect(page.get_by_test_id("page-notice")).to_contain_text("This form holds what you typed")
    expect_the_form_holds(page, typed_in_the_form)
    page.get_by_role("button", name="Create scheduler").click()
    expect(page.get_by_role("heading", name="pump-scheduler", level=1)).to_be_visible()
    assert Submission.objects.get().request == expected


def test_a_form_sent_and_taken_starts_empty_the_next_time(
    page: Page, typed_in_the_form: dict[str, str]
) -> None:
    page.get_by_role("button", name="Create scheduler").click()
    expect(page.get_by_role("heading", name="pump-scheduler", level=1)).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="New scheduler").click()

    expect(page.locator("#id_inference_scheduler_name")).to_have_value("")
    expect(page.locator("#page-notice")).to_be_empty()


def test_what_one_person_typed_is_not_filled_in_for_another(
    page: Page, typed_in_the_form: dict[str, str]
) -> None:
    dana = make_user("dana", *READ, "add_submission")
    Session.objects.all().delete()
    page.get_by_role("button", name="Create scheduler").click()

    sign_in(page, dana)

    expect(page.get_by_role("heading", name="New inference scheduler")).to_be_visible()
    expect(page.locator("#id_inference_scheduler_name")).to_have_value("")
    expect(page.locator("#page-notice")).to_be_empty()


def test_once_the_role_is_taken_away_a_following_page_says_so_and_stops_asking(
    page: Page, operator: User, expected_browser_errors: list[str]
) -> None:
    expected_browser_errors.extend(["403 ", "Response Status Error Code 403"])
    queued = make_submission(operator)  # no worker: its page follows it every 2 s
    log_in(page, operator)
    with page.expect_response(lambda response: "/status/" in response.url):
        page.goto(f"/submissions/{queued.pk}/")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))

    operator.user_permissions.clear()

    notice = page.get_by_test_id("page-notice")
    expect(notice).to_contain_text("Your account may no longer do this")
    expect(page.get_by_text("Updating live")).to_have_count(0)
    asked_when_refused = len(asked)
    page.wait_for_timeout(2500)  # more than one turn of the page's following
    assert len(asked) == asked_when_refused == 1
    expect(page.get_by_role("heading", name=queued.scheduler_name, level=1)).to_be_visible()
    assert_accessible(page)


def test_tag_rows_are_added_and_removed_without_a_reload(page: Page, operator: User) -> None:
    log_in(page, operator)
    page.goto("/schedulers/new/")
    seen = navigations(page)
    fill_form(page, form_post(tags=[("team", "a"), ("site", "b"), ("owner", "c")]))

    page.get_by_role("button", name="Remove tag 2").click()

    expect(page.locator("#id_tags-1-key")).to_have_value("owner")
    expect(page.locator("#id_tags-1-key")).to_be_focused()
    expect(page.locator("#id_tags-2-key")).to_have_count(0)
    expect(page.locator('[name="tags-TOTAL_FORMS"]')).to_have_value("2")
    expect(page.get_by_test_id("preview-json")).not_to_contain_text('"site"')
    assert seen == []
    page.get_by_role("button", name="Create scheduler").click()
    expect(page.get_by_role("heading", name="pump-scheduler", level=1)).to_be_visible()
    assert Submission.objects.get().request["Tags"] == [
        {"Key": "team", "Value": "a"},
        {"Key": "owner", "Value": "c"},
    ]


def test_a_double_click_on_create_sends_the_form_once(page: Page, operator: User) -> None:
    log_in(page, operator)
    page.goto("/schedulers/new/")
    fill_form(page, form_post())
    sent: list[Request] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/schedulers/new/"):
            sent.append(request)

    page.on("request", on_request)

    page.get_by_role("button", name="Create scheduler").dblclick()

    expect(page.get_by_role("heading", name="pump-scheduler", level=1)).to_be_visible()
    assert len(sent) == 1  # without data-once the browser sends it twice
    assert Submission.objects.count() == 1


def test_without_javascript_a_tag_row_is_added_by_posting_the_form(
    new_page: Callable[..., Page], operator: User
) -> None:
    page = new_page(java_script_enabled=False)
    log_in(page, operator)
    page.goto("/schedulers/new/")
    seen = navigations(page)

    page.get_by_role("button", name="Add a tag").click()

    expect(page.locator("#id_tags-0-key")).to_be_visible()
    expect(page.get_by_label("Delete")).to_be_visible()
    expect(page.get_by_role("button", name="Remove tag 1")).to_be_hidden()
    expect(page.get_by_test_id("form-errors")).to_have_count(0)
    assert len(seen) == 1


def test_the_form_works_from_the_keyboard(page: Page, operator: User) -> None:
    log_in(page, operator)
    page.goto("/schedulers/new/")
    add = page.get_by_role("button", name="Add a tag")
    add.focus()

    page.keyboard.press("Enter")
    expect(page.locator("#id_tags-0-key")).to_be_focused()
    page.keyboard.type("team")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    page.get_by_label("Scheduler name").fill("keyboard-scheduler")
    page.keyboard.press("Enter")  # Enter in a field sends the form, it adds no tag

    expect(page.get_by_test_id("form-errors")).to_be_visible()
    expect(page.locator('[name="tags-TOTAL_FORMS"]')).to_have_value("1")
    expect(page.get_by_label("Scheduler name")).to_have_value("keyboard-scheduler")
    assert outline == "solid"


def test_a_viewer_sees_no_new_scheduler(page: Page, team_activity: list[Submission]) -> None:
    log_in(page, make_user("bob", *READ))

    expect(page.get_by_role("link", name="New scheduler")).to_have_count(0)
    expect(page.get_by_role("link", name="pump-scheduler")).to_be_visible()
    page.goto("/schedulers/new/")
    expect(page.get_by_role("heading", name="Access denied")).to_be_visible()


def test_the_overview_shows_each_submission_with_its_state(
    page: Page, operator: User, team_activity: list[Submission]
) -> None:
    log_in(page, operator)

    rows = page.get_by_role("row")
    expect(rows.filter(has_text="pump-scheduler")).to_contain_text("RUNNING")
    expect(rows.filter(has_text="fan-scheduler")).to_contain_text("Failed")
    expect(rows.filter(has_text="turbine-scheduler")).to_contain_text("Waiting to retry")
    expect(rows.filter(has_text="conveyor-scheduler")).to_contain_text("Queued")
    screenshot(page, "overview")
    assert_accessible(page)


def test_a_count_on_the_overview_lists_the_submissions_in_its_state(
    page: Page, operator: User, team_activity: list[Submission]
) -> None:
    log_in(page, operator)

    page.get_by_role("link", name="Failed", exact=True).click()

    expect(page.get_by_role("heading", name="Recent submissions: Failed")).to_be_visible()
    rows = page.get_by_role("row")
    expect(rows.filter(has_text="fan-scheduler")).to_contain_text("Failed")
    expect(rows.filter(has_text="pump-scheduler")).to_have_count(0)
    screenshot(page, "overview-failed")
    assert_accessible(page)


@pytest.fixture
def tagged_scheduler(lookout: Lookout) -> str:
    """pump-scheduler, tagged team=ops and env=dev, on the endpoint and imported."""
    tags = [{"Key": "team", "Value": "ops"}, {"Key": "env", "Value": "dev"}]
    lookout.client.create_inference_scheduler(**request_dict(Tags=tags))
    submitting.follow_statuses()
    return "pump-scheduler"


def change_the_tags(page: Page) -> None:
    """On Manage tags: env dropped, team set to reliability, site=north added."""
    page.get_by_role("button", name="Remove tag 2").click()
    page.get_by_label("Value").first.fill("reliability")
    page.get_by_role("button", name="Add a tag").click()
    page.get_by_label("Key").last.fill("site")
    page.get_by_label("Value").last.fill("north")


def expect_the_tags_changed(page: Page) -> None:
    expect(page.get_by_role("status")).to_contain_text("Asked to change the tags of pump-scheduler")
    [untag, tag] = Submission.objects.filter(scheduler_name="pump-scheduler").order_by("id")[1:]
    assert untag.request["TagKeys"] == ["env"]
    assert tag.request["Tags"] == [
        {"Key": "team", "Value": "reliability"},
        {"Key": "site", "Value": "north"},
    ]


def test_an_operator_changes_a_schedulers_tags_from_its_page(
    page: Page, operator: User, tagged_scheduler: str
) -> None:
    log_in(page, operator)
    page.goto(f"/schedulers/{tagged_scheduler}/")

    page.get_by_role("link", name="Manage tags").click()
    change_the_tags(page)
    assert_accessible(page)
    page.get_by_role("button", name="Save tags").click()

    expect_the_tags_changed(page)


def test_tags_saved_after_the_session_ended_are_filled_in_again_once_signed_in(
    page: Page, operator: User, tagged_scheduler: str
) -> None:
    log_in(page, operator)
    page.goto(f"/schedulers/{tagged_scheduler}/tags/")
    change_the_tags(page)
    Session.objects.all().delete()

    page.get_by_role("button", name="Save tags").click()
    sign_in(page, operator)

    expect(page.get_by_test_id("page-notice")).to_contain_text("This form holds what you typed")
    expect(page.get_by_label("Key")).to_have_count(2)
    expect(page.get_by_label("Value").first).to_have_value("reliability")
    expect(page.get_by_label("Key").last).to_have_value("site")
    page.get_by_role("button", name="Save tags").click()
    expect_the_tags_changed(page)


def test_an_operator_cancels_a_queued_submission_from_its_page(
    page: Page, operator: User, team_activity: list[Submission]
) -> None:
    queued = team_activity[3]
    log_in(page, operator)
    page.goto(queued.get_absolute_url())

    page.get_by_role("button", name="Cancel").click()

    expect(page.get_by_role("status")).to_contain_text(f"Cancelled submission #{queued.pk}")
    expect(page.get_by_test_id("state")).to_have_text("Cancelled")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    assert_accessible(page)


def test_cancel_goes_once_a_worker_takes_the_submission_without_a_reload(
    page: Page, operator: User
) -> None:
    submission = make_submission(operator)
    log_in(page, operator)
    page.goto(submission.get_absolute_url())
    cancel = page.get_by_role("button", name="Cancel")
    expect(cancel).to_be_visible()
    seen = navigations(page)

    Submission.claim(submission.pk)

    expect(page.get_by_test_id("state")).to_have_text("Calling AWS")
    expect(cancel).to_have_count(0)
    assert seen == []


def test_the_overview_follows_work_in_progress_without_a_reload(
    page: Page, operator: User, team_activity: list[Submission]
) -> None:
    log_in(page, operator)
    expect(page.get_by_test_id("count-succeeded")).to_have_text("1")
    moved = navigations(page)
    page.get_by_role("link", name="conveyor-scheduler").focus()  # a keyboard user's place

    queued = team_activity[3]
    Submission.claim(queued.pk)
    queued.refresh_from_db()
    queued.succeed(
        {
            "InferenceSchedulerArn": "arn:aws:lookoutequipment:us-east-1:123456789012:"
            "inference-scheduler/conveyor-scheduler/4d5e6f",
            "Status": "PENDING",
        }
    )

    expect(page.get_by_test_id("count-succeeded")).to_have_text("2", timeout=10_000)
    expect(page.get_by_test_id("count-queued")).to_have_text("0")
    assert moved == []
    expect(page.get_by_role("link", name="conveyor-scheduler")).to_be_focused()


def test_the_settings_page_shows_when_each_periodic_task_last_ran(
    page: Page, operator: User, lookout: Lookout
) -> None:
    PeriodicRun.record("follow-statuses", "celery@console-host")
    log_in(page, operator)

    page.get_by_role("link", name="Settings").click()

    sync = page.get_by_role("row").filter(has_text="The status sync")
    expect(sync).to_contain_text("celery@console-host")
    expect(sync).to_contain_text("On time")
    expect(page.get_by_role("row").filter(has_text="The sweeper")).to_contain_text("Late")
    screenshot(page, "settings")
    assert_accessible(page)


def test_the_overview_shows_every_count_on_one_line_in_a_laptop_window(
    page: Page, operator: User
) -> None:
    log_in(page, operator)  # the window is 1280 pixels wide

    counts = page.get_by_role("list").filter(has=page.get_by_test_id("count-stuck"))
    tops = counts.get_by_role("listitem").evaluate_all(
        "(items) => items.map((item) => item.getBoundingClientRect().top)"
    )
    assert len(tops) == 8 and len(set(tops)) == 1


def test_the_overview_says_what_to_do_when_empty(page: Page, operator: User) -> None:
    log_in(page, operator)

    page.get_by_role("link", name="Create the first inference scheduler").click()

    expect(page.get_by_role("heading", name="New inference scheduler")).to_be_visible()
    assert_accessible(page)


def test_the_history_filters_by_scheduler_and_by_kind(
    page: Page, operator: User, team_activity: list[Submission]
) -> None:
    log_in(page, operator)
    page.goto("/history/")
    screenshot(page, "history")
    assert_accessible(page)

    page.goto("/history/?scheduler=pump-scheduler")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(4)  # submitted, attempt, succeeded, status changed
    assert all("pump-scheduler" in text for text in rows.all_inner_texts())

    page.goto("/history/?kind=failed")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("fan-scheduler")


@pytest.mark.parametrize("path", MAIN_PAGES)
def test_a_page_fits_a_laptop_window_without_scrolling_sideways(
    page: Page, operator: User, team_activity: list[Submission], path: str
) -> None:
    log_in(page, operator)  # the window is 1280 pixels wide
    response = page.goto(path.format(pk=team_activity[0].pk))
    assert response is not None and response.ok

    assert overflowing_boxes(page) == []


@pytest.mark.parametrize("path", MAIN_PAGES)
def test_on_a_phone_only_the_tables_scroll_sideways(
    new_page: Callable[..., Page], operator: User, team_activity: list[Submission], path: str
) -> None:
    page = new_page(viewport={"width": 390, "height": 844})
    log_in(page, operator)
    response = page.goto(path.format(pk=team_activity[0].pk))
    assert response is not None and response.ok

    assert set(overflowing_boxes(page)) <= {"table-responsive"}


@pytest.fixture
def long_named_scheduler(lookout: Lookout) -> str:
    """A scheduler with every member set and a long name, as real names get, and
    another beside it, both on the endpoint and imported by the sync."""
    name = "north-plant-" + "compressor-" * 6 + "vibration"
    request = {**request_for(full_form_post()), "InferenceSchedulerName": name}
    lookout.client.create_inference_scheduler(**request)
    lookout.client.create_inference_scheduler(
        **request_dict(InferenceSchedulerName="fan-1", ModelName="fan-model")
    )
    submitting.follow_statuses()
    return name


def test_the_scheduler_pages_fit_a_laptop_window_without_scrolling_sideways(
    page: Page, operator: User, long_named_scheduler: str
) -> None:
    name = long_named_scheduler
    log_in(page, operator)

    page.goto("/schedulers/")
    expect(page.get_by_role("link", name=name)).to_be_visible()
    screenshot(page, "schedulers")
    assert overflowing_boxes(page) == []
    assert_accessible(page)

    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    screenshot(page, "scheduler")
    assert overflowing_boxes(page) == []
    assert_accessible(page)


def test_in_the_scheduler_list_short_values_stay_on_one_line(
    page: Page, operator: User, long_named_scheduler: str
) -> None:
    log_in(page, operator)  # the window is 1280 pixels wide
    page.goto("/schedulers/")

    cells = page.get_by_test_id("schedulers").locator(
        # The first column holds an Operator's checkboxes.
        "tbody td:nth-child(4), tbody td:nth-child(8), tbody .scheduler-actions"
    )
    # How far apart the middles of each cell's pieces of text are: a second
    # line would put one a line's height (about 24 px) below the others.
    spreads = cells.evaluate_all(
        """(cells) => cells.map((cell) => {
            const range = document.createRange();
            range.selectNodeContents(cell);
            const middles = [...range.getClientRects()].map((r) => (r.top + r.bottom) / 2);
            return Math.max(...middles) - Math.min(...middles);
        })"""
    )
    assert len(spreads) == 6  # model, record and actions of both rows
    assert max(spreads) < 5


def test_an_operator_stops_every_scheduler_on_the_page_at_once(
    page: Page, operator: User, long_named_scheduler: str
) -> None:
    log_in(page, operator)
    page.goto("/schedulers/")
    every = page.get_by_label("Select every scheduler on this page")

    count = page.get_by_test_id("selected-count")
    expect(count).to_have_text("0 of 2 selected")

    every.check()
    expect(page.get_by_label("Select fan-1")).to_be_checked()
    expect(count).to_have_text("2 of 2 selected")
    page.get_by_label("Select fan-1").uncheck()
    expect(every).not_to_be_checked()
    expect(count).to_have_text("1 of 2 selected")
    page.get_by_label("Select fan-1").check()
    expect(every).to_be_checked()
    assert_accessible(page)
    page.get_by_test_id("selected-actions").get_by_role("button", name="Stop").click()

    expect(page.get_by_role("status")).to_contain_text("Asked to stop 2 schedulers")
    stopped = Submission.objects.filter(operation=Operation.STOP)
    assert {s.scheduler_name for s in stopped} == {long_named_scheduler, "fan-1"}


def test_a_shift_click_ticks_every_row_from_the_one_clicked_before(
    page: Page, operator: User, lookout: Lookout
) -> None:
    for name, model in [("a-1", "pump-model"), ("a-2", "fan-model"), ("a-3", "turbine-model")]:
        lookout.client.create_inference_scheduler(
            **request_dict(InferenceSchedulerName=name, ModelName=model)
        )
    log_in(page, operator)
    page.goto("/schedulers/")

    page.get_by_label("Select a-1").click()
    page.get_by_label("Select a-3").click(modifiers=["Shift"])

    expect(page.get_by_label("Select a-2")).to_be_checked()
    expect(page.get_by_test_id("selected-count")).to_have_text("3 of 3 selected")


def test_an_operator_deletes_the_selected_schedulers_after_confirming(
    page: Page, operator: User, lookout: Lookout, long_named_scheduler: str
) -> None:
    for name in (long_named_scheduler, "fan-1"):
        lookout.client.stop_inference_scheduler(InferenceSchedulerName=name)
    log_in(page, operator)
    page.goto("/schedulers/")

    page.get_by_label("Select every scheduler on this page").check()
    page.get_by_test_id("selected-actions").get_by_role("button", name="Delete…").click()
    expect(page.get_by_role("heading", name="Delete 2 schedulers?")).to_be_visible()
    assert not Submission.objects.filter(operation=Operation.DELETE).exists()
    assert_accessible(page)
    page.get_by_role("button", name="Delete 2 schedulers").click()

    expect(page.get_by_role("status")).to_contain_text("Asked to delete 2 schedulers")
    deleted = Submission.objects.filter(operation=Operation.DELETE)
    assert {s.scheduler_name for s in deleted} == {long_named_scheduler, "fan-1"}


@pytest.fixture
def stopping_fan(operator: User, long_named_scheduler: str) -> Submission:
    """A stop of fan-1, accepted and not yet taken by a worker."""
    return Submission.accept(
        {"InferenceSchedulerName": "fan-1"}, operator, operation=Operation.STOP
    )


def test_the_list_follows_a_stop_to_its_end_without_a_reload_and_keeps_the_ticks(
    page: Page, operator: User, long_named_scheduler: str, stopping_fan: Submission
) -> None:
    log_in(page, operator)
    page.goto("/schedulers/")
    moved = navigations(page)
    fan = page.get_by_test_id("scheduler-fan-1")
    expect(fan).to_contain_text(f"Request #{stopping_fan.pk} (stop) under way")
    page.get_by_label(f"Select {long_named_scheduler}").check()
    clone = page.get_by_test_id(f"scheduler-{long_named_scheduler}").get_by_role(
        "link", name="Clone"
    )
    clone.focus()  # a keyboard user's place

    submitting.submit_to_lookout(stopping_fan.pk)  # the worker's part

    expect(fan.locator(".state-badge")).to_have_text("STOPPED", timeout=15_000)
    expect(page.locator("#console-live")).to_have_text("fan-1 is STOPPED.")  # read out
    expect(fan.get_by_role("link", name="Delete")).to_be_visible()
    expect(page.get_by_label(f"Select {long_named_scheduler}")).to_be_checked()
    expect(page.get_by_test_id("selected-count")).to_have_text("1 of 2 selected")
    expect(page.locator("#scheduler-rows[hx-trigger]")).to_have_count(0)  # settled: no more
    expect(clone).to_be_focused()
    assert moved == []
    assert_accessible(page)


def test_a_schedulers_page_follows_a_stop_to_its_end_without_a_reload(
    page: Page, operator: User, stopping_fan: Submission
) -> None:
    log_in(page, operator)
    page.goto("/schedulers/fan-1/")
    moved = navigations(page)
    status = page.get_by_test_id("facts")
    expect(status).to_contain_text(f"Request #{stopping_fan.pk} (stop) is under way")
    the_stop = (
        page.get_by_test_id("submissions")
        .get_by_role("row")
        .filter(has=page.get_by_role("link", name=f"#{stopping_fan.pk}", exact=True))
    )
    expect(the_stop).to_contain_text("Queued")
    page.get_by_role("link", name="Clone").focus()  # a keyboard user's place

    submitting.submit_to_lookout(stopping_fan.pk)  # the worker's part

    heading = page.get_by_role("heading", level=1)
    expect(heading.locator(".state-badge")).to_have_text("STOPPED", timeout=10_000)
    expect(status.locator(".state-badge")).to_have_text("STOPPED")
    expect(the_stop).to_contain_text("Succeeded")
    expect(page.get_by_role("link", name="Delete")).to_be_visible()
    expect(page.locator("#console-live")).to_have_text("fan-1 is STOPPED.")
    expect(page.locator("#scheduler-header[hx-trigger]")).to_have_count(0)  # settled: no more
    expect(page.get_by_role("link", name="Clone")).to_be_focused()
    assert moved == []
    assert_accessible(page)


def test_a_following_page_says_when_lookout_does_not_answer_and_goes_on_when_it_does(
    page: Page,
    operator: User,
    stopping_fan: Submission,
    settings: Any,
    expected_browser_errors: list[str],
) -> None:
    expected_browser_errors.extend(["503 ", "Response Status Error Code 503"])
    log_in(page, operator)
    page.goto("/schedulers/fan-1/")
    expect(page.get_by_test_id("facts")).to_contain_text("is under way")
    answering = settings.LOOKOUT_ENDPOINT_URL

    settings.LOOKOUT_ENDPOINT_URL = "http://127.0.0.1:1"  # nothing answers there
    notice = page.get_by_test_id("page-notice")
    expect(notice).to_contain_text("Lookout for Equipment did not answer", timeout=10_000)
    expect(page.get_by_test_id("facts")).to_contain_text("is under way")  # as last read
    settings.LOOKOUT_ENDPOINT_URL = answering
    submitting.submit_to_lookout(stopping_fan.pk)

    heading = page.get_by_role("heading", level=1)
    expect(heading.locator(".state-badge")).to_have_text("STOPPED", timeout=10_000)
    expect(page.locator("#page-notice")).to_be_empty()
    assert_accessible(page)


def test_on_a_phone_only_the_scheduler_pages_tables_scroll_sideways(
    new_page: Callable[..., Page], operator: User, long_named_scheduler: str
) -> None:
    page = new_page(viewport={"width": 390, "height": 844})
    log_in(page, operator)

    for path in ("/schedulers/", f"/schedulers/{long_named_scheduler}/"):
        response = page.goto(path)
        assert response is not None and response.ok
        assert set(overflowing_boxes(page)) <= {"table-responsive"}, path
    # Each configuration value keeps a readable width beside the long member names.
    values = page.get_by_test_id("configuration").locator("tbody td:nth-child(2)")
    widths = values.evaluate_all("(cells) => cells.map((cell) => cell.offsetWidth)")
    assert widths and min(widths) >= 150


def test_a_history_detail_breaks_between_its_pairs_not_inside_a_name(
    new_page: Callable[..., Page], operator: User, team_activity: list[Submission]
) -> None:
    page = new_page(viewport={"width": 1024, "height": 768})  # where the details wrap most
    log_in(page, operator)
    page.goto("/history/")

    names = page.locator(".history-details .text-body-secondary")
    expect(names.first).to_be_visible()
    lines = names.evaluate_all("(spans) => spans.map((span) => span.getClientRects().length)")
    assert set(lines) == {1}


def test_the_login_page_is_styled_scripted_and_accessible(page: Page) -> None:
    page.goto("/")

    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.locator("body")).to_have_css("background-color", "rgb(245, 247, 250)")  # ours
    assert page.evaluate("() => [typeof htmx, typeof bootstrap]") == ["object", "object"]
    screenshot(page, "login")
    assert_accessible(page)


# --- The navigation bar and the account menu ----------------------------------------


@pytest.fixture
def administrator() -> User:
    """Staff, so the bar also has Admin, and a long name, as real names get."""
    return make_user(
        "maria",
        *READ,
        "add_submission",
        is_staff=True,
        first_name="Maria Fernanda",
        last_name="Oliveira-Vasconcelos de Albuquerque",
    )


def top_level_items(page: Page) -> list[dict[str, float]]:
    """Where the bar's brand, links and account menu are, as they show."""
    return list(
        page.locator("nav.console-navbar")
        .locator(".navbar-brand, .navbar-nav > .nav-item > .nav-link")
        .evaluate_all(
            """(items) => items.filter((item) => item.offsetParent !== null).map((item) => {
                const box = item.getBoundingClientRect();
                return {top: box.top, bottom: box.bottom, height: box.height};
            })"""
        )
    )


def test_in_a_laptop_window_the_whole_bar_is_one_line(page: Page, administrator: User) -> None:
    log_in(page, administrator)  # the window is 1280 pixels wide

    items = top_level_items(page)

    assert len(items) == 8  # the brand, six links and the account menu
    link_heights = {round(item["height"]) for item in items[1:]}
    assert len(link_heights) == 1  # no link broken over two lines
    middles = {round((item["top"] + item["bottom"]) / 2) for item in items}
    assert max(middles) - min(middles) <= 2  # side by side
    expect(page.get_by_role("button", name="Toggle navigation")).to_be_hidden()


def test_in_a_narrower_window_the_links_fold_behind_the_menu_button(
    new_page: Callable[..., Page], administrator: User
) -> None:
    page = new_page(viewport={"width": 1024, "height": 768})
    log_in(page, administrator)
    links = page.get_by_role("navigation", name="Main").get_by_role("link", name="History")
    expect(links).to_be_hidden()

    page.get_by_role("button", name="Toggle navigation").click()

    expect(links).to_be_visible()
    heights = {round(item["height"]) for item in top_level_items(page)[1:]}
    assert len(heights) == 1  # each link on one line


def test_the_account_menu_says_who_is_signed_in_and_changes_the_password(
    page: Page, operator: User
) -> None:
    log_in(page, operator)

    page.get_by_role("button", name="Signed in as Alice Ng").click()
    menu = page.get_by_role("list", name="Signed in as Alice Ng")
    expect(menu.get_by_text("Signed in as Alice Ng")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Change password").click()
    expect(page.get_by_role("heading", name="Change password")).to_be_visible()
    screenshot(page, "password_change")
    assert_accessible(page)
    page.get_by_label("Old password").fill(PASSWORD)
    page.get_by_label("New password*", exact=True).fill("a-longer-battery-staple-7")
    page.get_by_label("New password confirmation").fill("a-longer-battery-staple-7")
    page.get_by_role("button", name="Change password").click()

    expect(page.get_by_role("status")).to_contain_text("Your password was changed.")
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()


def test_the_account_menu_works_from_the_keyboard(page: Page, operator: User) -> None:
    log_in(page, operator)
    menu = page.get_by_role("button", name="Signed in as Alice Ng")
    menu.focus()

    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")

    expect(page.get_by_role("link", name="Change password")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("link", name="Change password")).to_be_hidden()
    expect(menu).to_be_focused()


# --- `make run`, as the README tells a newcomer ------------------------------------


def responds(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`make run` on the embedded default (SQLite, the embedded broker, the local
    endpoint), its state in a directory of its own; yields the web's address and
    what it printed up to the login. Ctrl-C at the end must stop every process."""
    web_port = free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "LOOKOUT_ENDPOINT_URL"}
    }
    env["LOOKOUT_VAR_DIR"] = str(tmp_path)
    process = subprocess.Popen(
        ["make", "run", f"PORT={web_port}", f"ENDPOINT_PORT={free_port()}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal's
    )
    assert process.stdout is not None
    printed: list[str] = []
    while not printed or not printed[-1].startswith("Log in as"):
        line = process.stdout.readline()
        assert line, f"make run stopped before printing a login: {''.join(printed)}"
        printed.append(line)
    url = f"http://127.0.0.1:{web_port}"
    wait_until(lambda: responds(f"{url}/healthz"), timeout=60, what="make run's web to answer")
    yield url, "".join(printed)
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
    process.wait(timeout=30)
    with pytest.raises(ProcessLookupError):  # not one process of it is left
        os.killpg(process.pid, 0)


def test_make_run_gives_a_newcomer_a_console_that_creates_a_scheduler(
    browser: Browser, make_run: tuple[str, str]
) -> None:
    """README, "Run it", word for word."""
    url, printed = make_run
    match = re.search(r"^Log in as (\S+) with password (\S+)$", printed, re.MULTILINE)
    assert match is not None, printed
    page = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900}).new_page()

    page.goto("/")
    page.get_by_label("Username").fill(match[1])
    page.get_by_label("Password").fill(match[2])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation").get_by_role("link", name="New scheduler").click()
    page.get_by_label("Scheduler name").fill("pump-scheduler")
    page.get_by_label("Model name").fill("pump-model")
    page.get_by_label("Input S3 bucket").fill("plant-input")
    page.get_by_label("Output S3 bucket").fill("plant-output")
    page.get_by_label("IAM role ARN").fill("arn:aws:iam::123456789012:role/LookoutAccess")
    page.get_by_role("button", name="Create scheduler").click()

    expect(page.get_by_role("heading", name="pump-scheduler")).to_be_visible()
    expect(page.get_by_test_id("scheduler-status")).to_have_text("RUNNING", timeout=LIVE_TIMEOUT_MS)
    page.context.close()
