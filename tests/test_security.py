"""Security: production settings, headers and the content security policy, login
throttling, sessions, and AWS credentials kept out of everything the console
writes or shows."""

from __future__ import annotations

import datetime
import json
import logging
import os
import pickle
import re
import secrets
import string
import subprocess
import sys
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import reverse
from kombu.exceptions import ContentDisallowed
from kombu.serialization import loads

from scheduler_ui.celery import app as celery_app
from scheduler_ui.schedulers.access import VIEWER
from scheduler_ui.schedulers.models import AccessEvent, Submission
from scheduler_ui.schedulers.submitting import refresh_status, submit_to_lookout
from scheduler_ui.security import CONTENT_SECURITY_POLICY, client_ip
from tests.factories import ROLE_ARN, form_post, full_form_post, make_submission
from tests.pages import CONSOLE_PAGES, admin_urls, console_url, page_text
from tests.services import ROOT

# --- Production settings (DJANGO_DEBUG=0), each in a fresh process --------------------


def production_env(**overrides: str) -> dict[str, str]:
    """The environment of a production process: a real key, one host."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "LOGIN_"))
    }
    key = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(50))
    env.update(DJANGO_DEBUG="0", DJANGO_SECRET_KEY=key, DJANGO_ALLOWED_HOSTS="console.example.com")
    env.update(overrides)
    return {name: value for name, value in env.items() if value != ""}


def run_python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def production_settings(**env: str) -> dict[str, Any]:
    """The security settings a production process ends up with."""
    names = [
        "DEBUG",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_AGE",
        "SECURE_SSL_REDIRECT",
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_HSTS_SECONDS",
        "X_FRAME_OPTIONS",
        "SECURE_REFERRER_POLICY",
        "AXES_FAILURE_LIMIT",
        "AXES_COOLOFF_TIME",
    ]
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}, default=str))"
    )
    result = run_python(
        production_env(DJANGO_SETTINGS_MODULE="scheduler_ui.settings", **env), "-c", code
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return found


def test_production_settings_pass_the_deployment_checklist():
    result = run_python(
        production_env(), "manage.py", "check", "--deploy", "--fail-level", "WARNING"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = run_python(production_env(DJANGO_SECRET_KEY=""), "manage.py", "check")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = run_python(production_env(DJANGO_ALLOWED_HOSTS=""), "manage.py", "check")

    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG=0" in result.stderr


def test_production_sends_cookies_over_https_only_and_redirects_to_https():
    found = production_settings()

    assert found["DEBUG"] is False
    assert found["SESSION_COOKIE_SECURE"] is True
    assert found["CSRF_COOKIE_SECURE"] is True
    assert found["SECURE_SSL_REDIRECT"] is True
    assert found["SECURE_HSTS_SECONDS"] >= 365 * 24 * 3600
    assert found["X_FRAME_OPTIONS"] == "DENY"
    assert found["SECURE_REFERRER_POLICY"] == "same-origin"
    # Nothing trusts a forwarded header unless told it is behind a proxy.
    assert found["SECURE_PROXY_SSL_HEADER"] is None


def test_behind_a_tls_proxy_the_forwarded_scheme_is_trusted():
    found = production_settings(DJANGO_BEHIND_PROXY="1")

    assert found["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_session_length_and_login_throttling_come_from_the_environment():
    found = production_settings(
        DJANGO_SESSION_HOURS="2", LOGIN_FAILURE_LIMIT="3", LOGIN_LOCKOUT_MINUTES="30"
    )

    assert found["SESSION_COOKIE_AGE"] == 2 * 3600
    assert found["AXES_FAILURE_LIMIT"] == 3
    assert found["AXES_COOLOFF_TIME"] == "0:30:00"


def test_by_default_a_session_lasts_eight_hours_and_five_failures_lock_out_for_15_minutes():
    found = production_settings()

    assert found["SESSION_COOKIE_AGE"] == 8 * 3600
    assert found["AXES_FAILURE_LIMIT"] == 5
    assert found["AXES_COOLOFF_TIME"] == "0:15:00"


def test_with_the_https_redirect_on_only_the_health_check_answers_plain_http(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True

    page = client.get(reverse("login"))
    health = client.get(reverse("healthz"))

    assert page.status_code == 301
    assert page.url.startswith("https://")
    assert health.status_code == 200


def test_behind_the_proxy_a_request_it_forwarded_over_https_is_not_redirected(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    response = client.get(reverse("login"), headers={"X-Forwarded-Proto": "https"})

    assert response.status_code == 200


# --- Headers and the content security policy ------------------------------------------


@pytest.fixture
def superuser_client(client, make_role_user):
    client.force_login(make_role_user("superuser", "root"))
    return client


@pytest.mark.parametrize("url", ["/", "/accounts/login/", "/admin/", "/healthz", "/nowhere/"])
def test_every_response_carries_the_security_headers(superuser_client, url):
    response = superuser_client.get(url)

    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_policy_allows_no_inline_script_or_style_and_no_framing():
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in CONTENT_SECURITY_POLICY.split("; ")
    )

    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]


# Markup a strict policy blocks: an inline <script> or <style>, a style attribute,
# an event handler attribute (htmx's hx-on too), a javascript: URL.
INLINE_IN_TEMPLATE = re.compile(
    r"<script\b(?![^>]*\bsrc=)|<style\b|\sstyle=|\son[a-z]+=|\shx-on|javascript:", re.IGNORECASE
)


@pytest.mark.parametrize(
    "template", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "templates").rglob("*.html"))
)
def test_no_template_has_inline_script_or_style(template):
    source = Path(ROOT / template).read_text()

    assert INLINE_IN_TEMPLATE.findall(source) == []


class InlineContent(HTMLParser):
    """Collects what a strict policy would block on a rendered page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self.found.append(f"<{tag}> without src")
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs:
            if name == "style" or name.startswith(("on", "hx-on")):
                self.found.append(f"<{tag} {name}=...>")
            if (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")


def inline_content(html: str) -> list[str]:
    parser = InlineContent()
    parser.feed(html)
    return parser.found


@pytest.fixture
def some_history(db, make_role_user):
    """A failed and a waiting submission, each with a few events."""
    failed = make_submission(
        InferenceSchedulerName="failed-one", Tags=[{"Key": "team", "Value": "ops"}]
    )
    Submission.claim(failed.pk)
    failed.refresh_from_db()
    failed.fail("AccessDeniedException", "Not allowed.")
    return failed


def test_no_console_page_renders_inline_script_or_style(superuser_client, some_history):
    urls = [console_url(name, some_history) for name in CONSOLE_PAGES]

    for url in urls:
        response = superuser_client.get(url)
        if response["Content-Type"].startswith("text/html"):
            assert inline_content(page_text(response)) == [], url


def test_no_console_page_shows_its_template_source(superuser_client, some_history):
    """A Django {# comment #} ends with its line: one that spans lines shows on the page."""
    urls = [console_url(name, some_history) for name in CONSOLE_PAGES]

    for url in urls:
        response = superuser_client.get(url)
        if response["Content-Type"].startswith("text/html"):
            body = page_text(response)
            assert [tag for tag in ("{#", "#}", "{%", "%}") if tag in body] == [], url


def test_the_form_and_its_preview_render_no_inline_script_or_style(superuser_client):
    post = form_post(tags=[("team", "ops")], role_arn="not-a-role")
    pages = [
        superuser_client.get(reverse("submission_new")),
        superuser_client.post(reverse("submission_new"), post),
        superuser_client.post(reverse("submission_preview"), post),
        superuser_client.post(reverse("submission_preview"), form_post()),
    ]

    assert [inline_content(page.content.decode()) for page in pages] == [[], [], [], []]


def test_the_admin_works_under_the_policy_without_inline_script_or_style(
    superuser_client, some_history
):
    root = User.objects.get(username="root")
    urls = [
        *admin_urls(),
        reverse("admin:auth_user_add"),
        reverse("admin:auth_user_password_change", args=[root.pk]),
    ]

    for url in urls:
        response = superuser_client.get(url)
        assert response.status_code == 200, url
        assert inline_content(response.content.decode()) == [], url


# --- Login throttling -------------------------------------------------------------------

LOGIN = reverse("login")
PASSWORD = "correct-horse"


@pytest.fixture
def people(settings, make_role_user):
    """alice and bob, who sign in with PASSWORD (hashed quickly: tests log in a lot)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    users = [make_role_user(VIEWER, name) for name in ("alice", "bob")]
    for user in users:
        user.set_password(PASSWORD)
        user.save()
    return users


def log_in(client, password, username="alice", address="203.0.113.7", **headers):
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **headers
    )


def is_logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_four_failed_logins_still_let_the_right_password_in(client, people):
    for _ in range(4):
        log_in(client, "wrong")

    response = log_in(client, PASSWORD)

    assert response.status_code == 302
    assert is_logged_in(client)


def test_after_five_failed_logins_even_the_right_password_is_refused(client, people):
    for _ in range(5):
        log_in(client, "wrong")

    response = log_in(client, PASSWORD)

    assert response.status_code == 429
    assert not is_logged_in(client)


def test_the_lock_out_page_looks_like_the_console_and_says_for_how_long(client, people):
    for _ in range(5):
        log_in(client, "wrong")

    response = log_in(client, PASSWORD)

    assert "Lookout Scheduler Console" in response.text
    assert "Too many failed sign-ins" in response.text
    assert "locked for 15 minutes" in response.text


@pytest.mark.parametrize("header", ["HTTP_USER_AGENT", "HTTP_ACCEPT"])
def test_a_failed_login_with_a_nul_in_a_header_is_refused_as_gunicorn_refuses_it(
    client, people, header
):
    response = log_in(client, "wrong", **{header: "curl\x00"})

    assert response.status_code == 400
    assert not AccessAttempt.objects.exists()
    assert not AccessEvent.objects.exists()


def test_a_bad_request_page_looks_like_the_console_and_carries_the_security_headers(client, db):
    response = client.get("/", HTTP_USER_AGENT="\x00")

    assert response.status_code == 400
    assert "Lookout Scheduler Console" in response.text
    assert "Bad request" in response.text
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_the_lock_out_holds_only_that_username_from_that_address(client, people):
    for _ in range(5):
        log_in(client, "wrong")

    assert log_in(client, PASSWORD, address="198.51.100.1").status_code == 302
    client.logout()
    assert log_in(client, PASSWORD, username="bob").status_code == 302


def test_the_lock_out_ends_after_the_cool_off_time(client, people):
    with time_machine.travel(datetime.datetime(2026, 3, 1, 9, tzinfo=datetime.UTC)) as clock:
        for _ in range(5):
            log_in(client, "wrong")
        clock.shift(datetime.timedelta(minutes=14))
        assert log_in(client, PASSWORD).status_code == 429

        # That refused attempt started the wait again.
        clock.shift(datetime.timedelta(minutes=16))
        response = log_in(client, PASSWORD)

    assert response.status_code == 302


def test_a_successful_login_clears_the_earlier_failures(client, people):
    for _ in range(4):
        log_in(client, "wrong")
    log_in(client, PASSWORD)
    client.logout()
    for _ in range(4):
        log_in(client, "wrong")

    assert log_in(client, PASSWORD).status_code == 302


def test_behind_the_proxy_failures_count_against_the_forwarded_address(client, people, settings):
    settings.BEHIND_PROXY = True
    proxy = "10.0.0.5"
    for _ in range(5):
        log_in(client, "wrong", address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.1")

    elsewhere = log_in(client, PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR="198.51.100.2")

    assert elsewhere.status_code == 302


def test_a_forged_forwarded_address_does_not_dodge_the_lock_out(client, people):
    for number in range(5):
        log_in(client, "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")

    assert log_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429


@pytest.mark.parametrize(
    ("behind_proxy", "forwarded", "expected"),
    [
        (False, "198.51.100.1", "203.0.113.7"),
        (True, "198.51.100.1", "198.51.100.1"),
        (True, "192.0.2.1, 198.51.100.1", "198.51.100.1"),
        (True, "not-an-address", "203.0.113.7"),
        (True, "", "203.0.113.7"),
    ],
)
def test_the_client_address_is_the_proxys_last_forwarded_one_when_behind_a_proxy(
    settings, behind_proxy, forwarded, expected
):
    settings.BEHIND_PROXY = behind_proxy
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected


# --- Sessions ----------------------------------------------------------------------------


def test_a_session_ends_eight_hours_after_login(client, people):
    overview = reverse("overview")
    with time_machine.travel(datetime.datetime(2026, 3, 1, 9, tzinfo=datetime.UTC)) as clock:
        log_in(client, PASSWORD)
        clock.shift(datetime.timedelta(hours=7, minutes=59))
        still_in = client.get(overview)
        clock.shift(datetime.timedelta(minutes=2))
        expired = client.get(overview)

    assert still_in.status_code == 200
    assert expired.status_code == 302
    assert expired.url.startswith(LOGIN)


def test_after_the_session_a_background_request_is_told_to_sign_in_again_from_its_page(client, db):
    response = client.get(
        reverse("scheduler_list"),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/schedulers/?page=2",
    )

    assert response.status_code == 401  # htmx swaps nothing in
    assert "Your session has ended" in response.text
    assert f'href="{LOGIN}?next=/schedulers/%3Fpage%3D2"' in response.text


@pytest.mark.parametrize(
    "current_url",
    [
        "",
        "http://[testserver/",
        "no-path",
        "\x7f",
        "http://testserver//evil.example/",
        "http://testserver/\\evil.example/",
    ],
)
def test_after_the_session_a_background_request_from_no_known_page_is_sent_to_the_overview(
    client, db, current_url
):
    response = client.get(
        reverse("scheduler_list"), HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=current_url
    )

    assert response.status_code == 401
    assert f'href="{LOGIN}?next=/"' in response.text


def test_after_the_session_a_page_still_leads_to_the_login(client, db):
    response = client.get(reverse("scheduler_list"))

    assert response.status_code == 302
    assert response.url == f"{LOGIN}?next=/schedulers/"


# --- Refusals mid-session -----------------------------------------------------------------

BACKGROUND = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "http://testserver/schedulers/new/"}


@pytest.mark.parametrize("url", [reverse("overview"), reverse("scheduler_list")])
def test_a_background_request_after_the_role_is_taken_away_gets_a_notice(
    viewer_client, viewer, url
):
    viewer.groups.clear()

    response = viewer_client.get(url, **BACKGROUND)

    assert response.status_code == 403  # htmx swaps nothing in
    assert "Your account may no longer do this" in response.text
    assert "<html" not in response.text


def test_a_page_after_the_role_is_taken_away_is_still_the_403_page(viewer_client, viewer):
    viewer.groups.clear()

    response = viewer_client.get(reverse("scheduler_list"))

    assert response.status_code == 403
    assert "Access denied" in response.text
    assert "Lookout Scheduler Console" in response.text


@pytest.fixture
def stale_token_client(operator_client):
    """An Operator whose page holds a CSRF token from before they last signed in."""
    operator_client.handler.enforce_csrf_checks = True
    operator_client.get(reverse("submission_new"))
    stale = operator_client.cookies["csrftoken"].value
    operator_client.cookies["csrftoken"] = "x" * 32  # signing in again rotates it
    operator_client.stale_token = stale
    return operator_client


def test_a_background_request_from_an_expired_page_gets_a_notice_to_reload_it(
    stale_token_client, caplog
):
    response = stale_token_client.post(
        reverse("submission_preview"),
        form_post(),
        HTTP_X_CSRFTOKEN=stale_token_client.stale_token,
        **BACKGROUND,
    )

    assert response.status_code == 403
    assert "This page has expired" in response.text
    assert 'href="/schedulers/new/"' in response.text
    assert "<html" not in response.text


def test_a_form_sent_from_an_expired_page_is_refused_in_the_consoles_look(
    stale_token_client, caplog
):
    response = stale_token_client.post(
        reverse("submission_new"),
        {**form_post(), "csrfmiddlewaretoken": stale_token_client.stale_token},
    )

    assert response.status_code == 403
    assert "This page has expired" in response.text
    assert "Lookout Scheduler Console" in response.text
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert not Submission.objects.exists()


def test_a_login_from_a_browser_that_keeps_no_cookies_is_told_it_needs_them(db):
    browser = Client(enforce_csrf_checks=True)  # it never sends the CSRF cookie back

    response = browser.post(LOGIN, {"username": "alice", "password": PASSWORD})

    assert response.status_code == 403
    assert "Cookies needed" in response.text
    assert "allow them" in response.text


# --- Credentials -------------------------------------------------------------------------

SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/recognisable+SECRET+key/42"
SESSION_TOKEN = "FwoGZXIvYXdzRECOGNISABLE//SESSION+TOKEN/0123456789"
OTHER_ROLE_ARN = "arn:aws:iam::123456789012:role/NotAllowed"


class FakeSTS(BaseHTTPRequestHandler):
    """STS's GetCallerIdentity (query protocol) as the tests set it: there is no STS
    on this machine. `answer` is (HTTP status, XML body)."""

    answer: tuple[int, str] = (200, "")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        status, body = self.answer
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


IDENTITY_XML = """<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:sts::210987654321:assumed-role/ConsoleWorker/i-0abc</Arn>
    <UserId>AROAEXAMPLE:i-0abc</UserId>
    <Account>210987654321</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"""

STS_ERROR_XML = f"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>
    <Message>The security token {SESSION_TOKEN} is invalid.</Message></Error>
  <RequestId>1</RequestId>
</ErrorResponse>"""


@pytest.fixture
def fake_sts(settings, monkeypatch) -> Iterator[type[FakeSTS]]:
    """The console pointed at AWS itself (no LOOKOUT_ENDPOINT_URL), with the
    credential chain holding a recognisable secret and STS answered locally."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSTS)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    settings.LOOKOUT_ENDPOINT_URL = None
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    yield FakeSTS
    server.shutdown()
    server.server_close()
    thread.join()


SETTINGS = reverse("settings")


def test_the_settings_page_shows_the_local_endpoint_and_region(viewer_client, lookout):
    response = viewer_client.get(SETTINGS)

    assert response.status_code == 200
    assert lookout.endpoint.url in response.text
    assert "us-east-1" in response.text
    assert "not available (local endpoint)" in response.text


def test_every_role_finds_the_settings_page_in_the_navigation(viewer_client, lookout):
    response = viewer_client.get(reverse("overview"))

    assert f'href="{SETTINGS}"' in response.text


def test_the_settings_page_shows_the_caller_identity_sts_reports(viewer_client, fake_sts):
    fake_sts.answer = (200, IDENTITY_XML)

    response = viewer_client.get(SETTINGS)

    assert "arn:aws:sts::210987654321:assumed-role/ConsoleWorker/i-0abc" in response.text
    assert "210987654321" in response.text
    assert "https://lookoutequipment.us-east-1.amazonaws.com" in response.text


def test_the_settings_page_shows_only_the_error_code_when_sts_refuses(viewer_client, fake_sts):
    fake_sts.answer = (403, STS_ERROR_XML)

    response = viewer_client.get(SETTINGS)

    assert "InvalidClientTokenId" in response.text
    assert SESSION_TOKEN not in response.text
    assert SECRET_ACCESS_KEY not in response.text


def test_the_settings_page_names_a_connection_failure(viewer_client, fake_sts, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")  # nothing listens

    response = viewer_client.get(SETTINGS)

    assert "EndpointConnectionError" in response.text


def database_text() -> str:
    """Every row of every table, as text."""
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            rows.append(repr(cursor.fetchall()))
    return "\n".join(rows)


def broker_messages() -> list[Any]:
    """Every message waiting in the broker's default queue, taken off it."""
    messages = []
    with celery_app.connection_for_read() as broker:
        queue = broker.SimpleQueue("celery")
        while True:
            try:
                message = queue.get(block=False)
            except queue.Empty:
                break
            message.ack()
            messages.append(message)
        queue.close()
    return messages


def test_aws_credentials_appear_nowhere_after_a_full_submission(
    configure_lookout,
    make_role_user,
    client,
    monkeypatch,
    caplog,
    django_capture_on_commit_callbacks,
):
    configure_lookout(allowed_role_arns={ROLE_ARN})
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    caplog.set_level(logging.DEBUG)
    client.force_login(make_role_user("superuser", "root"))
    denied = form_post(inference_scheduler_name="denied", role_arn=OTHER_ROLE_ARN)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("submission_new"), full_form_post())
        client.post(reverse("submission_new"), denied)
    messages = broker_messages()
    for submission in Submission.objects.all():
        submit_to_lookout(submission.pk)
        refresh_status(submission.pk)
    submission = Submission.objects.get(scheduler_name="pump-scheduler")
    urls = [console_url(name, submission) for name in CONSOLE_PAGES if name != "logout"]
    pages = [page_text(client.get(url)) for url in [*urls, *admin_urls()]]

    assert [s.state for s in Submission.objects.order_by("pk")] == ["succeeded", "failed"]
    assert len(messages) == 2
    places = {
        "database": database_text(),
        "pages": "\n".join(pages),
        "logs": caplog.text,
        "broker": "\n".join(f"{m.body!r} {m.headers} {m.properties}" for m in messages),
    }
    for secret in (SECRET_ACCESS_KEY, SESSION_TOKEN):
        assert [place for place, text in places.items() if secret in text] == []


def test_task_messages_are_json_carrying_only_the_submission_id(
    operator_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(reverse("submission_new"), form_post())

    [message] = broker_messages()

    assert message.content_type == "application/json"
    assert json.loads(message.body)[:2] == [[Submission.objects.get().pk], {}]


def test_celery_refuses_anything_but_json():
    pickled = pickle.dumps([[1], {}, {}])

    assert celery_app.conf.accept_content == ["json"]
    with pytest.raises(ContentDisallowed):
        loads(
            pickled,
            "application/x-python-serialize",
            "binary",
            accept=celery_app.conf.accept_content,
        )


def test_a_failed_login_keeps_the_password_out_of_the_database_and_logs(client, people, caplog):
    caplog.set_level(logging.DEBUG)
    password = "hunter2-recognisable-password"

    log_in(client, password)

    assert password not in database_text()
    assert password not in caplog.text
