"""Anyone signed in changes their own password, from the account menu; the
local login that `make run` prints stays true."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from axes.utils import reset as reset_failed_logins
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as examples

from scheduler_ui.schedulers.management.commands import ensure_local_login
from scheduler_ui.schedulers.models import AccessEvent, AccessKind
from tests.factories import make_user
from tests.test_fuzz_form import FUZZ, hostile_text

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse

PAGE = reverse("password_change")
OLD = "correct-horse"  # what tests.factories.make_user gives everyone
NEW = "a-longer-battery-staple-7"
ADDRESS = "203.0.113.7"


@pytest.fixture(autouse=True)
def quick_hashing(settings: Any) -> None:
    """Each check of a password hashes it: the slow default would take seconds here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def erin(db: None) -> User:
    return make_user("erin", "view_submission", "view_submissionevent")


@pytest.fixture
def erin_client(client: Client, erin: User) -> Client:
    client.force_login(erin)
    return client


def logs_in(username: str, password: str) -> bool:
    return User.objects.get(username=username).check_password(password)


def error_under(html: str, field: str) -> str:
    """The error text the page shows under a field (and the field points to)."""
    assert f'aria-describedby="id_{field}_error"' in html
    match = re.search(
        rf'<div id="id_{field}_error" class="invalid-feedback">(.*?)</div>', html, re.S
    )
    assert match is not None
    return re.sub(r"<[^>]+>", "", match[1]).strip()


def change(
    client: Client, old: str = OLD, new: str = NEW, again: str | None = None
) -> _MonkeyPatchedWSGIResponse:
    return client.post(
        PAGE,
        {
            "old_password": old,
            "new_password1": new,
            "new_password2": new if again is None else again,
        },
        REMOTE_ADDR=ADDRESS,
    )


def test_the_account_menu_links_to_the_password_page(erin_client: Client) -> None:
    page = erin_client.get(reverse("overview")).content.decode()

    assert f'href="{PAGE}"' in page
    assert "Change password" in page


def test_a_user_with_no_role_may_change_their_password(client: Client, db: None) -> None:
    client.force_login(make_user("newcomer"))

    response = client.get(PAGE)

    assert response.status_code == 200
    assert "Old password" in response.content.decode()


def test_signed_out_the_password_page_asks_to_log_in(client: Client, db: None) -> None:
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_new_password_is_the_one_that_logs_in(erin_client: Client) -> None:
    response = change(erin_client)

    assert response.status_code == 302
    assert logs_in("erin", NEW)
    assert not logs_in("erin", OLD)


def test_this_session_stays_signed_in_and_says_the_password_changed(
    erin_client: Client,
) -> None:
    change(erin_client)

    page = erin_client.get(reverse("overview"))

    assert page.status_code == 200
    assert "Your password was changed." in page.content.decode()


def test_the_users_other_sessions_are_signed_out(erin_client: Client, erin: User) -> None:
    elsewhere = Client()
    elsewhere.force_login(erin)

    change(erin_client)

    response = elsewhere.get(reverse("overview"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_password_change_is_in_the_access_log(erin_client: Client, erin: User) -> None:
    change(erin_client)

    event = AccessEvent.objects.get(kind=AccessKind.PASSWORD_CHANGED)
    assert (event.user, event.username, event.ip_address) == (erin, "erin", ADDRESS)


def test_a_wrong_current_password_is_refused_next_to_its_field(
    erin_client: Client,
) -> None:
    response = change(erin_client, old="not-my-password")

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "old_password": ["Your old password was entered incorrectly. Please enter it again."]
    }
    assert "entered incorrectly" in error_under(response.content.decode(), "old_password")
    assert logs_in("erin", OLD)
    assert not AccessEvent.objects.filter(kind=AccessKind.PASSWORD_CHANGED).exists()


def test_a_wrong_current_password_is_a_failed_login_in_the_access_log(
    erin_client: Client,
) -> None:
    change(erin_client, old="not-my-password")

    failed = AccessEvent.objects.get(kind=AccessKind.LOGIN_FAILED)
    assert (failed.username, failed.ip_address) == ("erin", ADDRESS)


def test_after_five_wrong_current_passwords_the_page_is_locked_as_the_login_is(
    erin_client: Client,
) -> None:
    for _ in range(5):
        change(erin_client, old="not-my-password")

    response = change(erin_client)

    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert logs_in("erin", OLD)


def test_a_new_password_the_validators_refuse_is_refused_next_to_its_field(
    erin_client: Client,
) -> None:
    response = change(erin_client, new="12345678")

    errors = response.context["form"].errors
    assert list(errors) == ["new_password2"]
    assert "This password is too common." in errors["new_password2"]
    assert "This password is entirely numeric." in errors["new_password2"]
    assert logs_in("erin", OLD)


def test_two_different_new_passwords_are_refused(erin_client: Client) -> None:
    response = change(erin_client, again=NEW + "x")

    errors = response.context["form"].errors
    assert list(errors) == ["new_password2"]
    assert "password fields didn" in errors["new_password2"][0]
    assert logs_in("erin", OLD)


def test_the_passwords_are_hidden_from_error_reports(erin_client: Client) -> None:
    response = change(erin_client, old="not-my-password")

    assert response.wsgi_request.sensitive_post_parameters == "__ALL__"  # type: ignore[attr-defined]


# --- The local login `make run` prints -----------------------------------------------


@pytest.fixture
def login_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "local-login.txt"
    monkeypatch.setattr(ensure_local_login, "PASSWORD_FILE", path)
    return path


def ensure() -> str:
    out = io.StringIO()
    call_command("ensure_local_login", stdout=out)
    return out.getvalue()


def printed_login(output: str) -> tuple[str, str]:
    line = next(line for line in output.splitlines() if line.startswith("Log in as"))
    username, password = line.removeprefix("Log in as ").split(" with password ")
    return username, password


def test_the_first_run_creates_a_local_superuser_and_prints_a_login_that_works(
    db: None, login_file: Path
) -> None:
    username, password = printed_login(ensure())

    assert logs_in(username, password)
    assert User.objects.get(username=username).is_superuser
    assert login_file.stat().st_mode & 0o777 == 0o600


def test_later_runs_print_the_same_login_while_its_password_holds(
    db: None, login_file: Path
) -> None:
    first = printed_login(ensure())

    assert printed_login(ensure()) == first
    assert User.objects.count() == 1


def test_once_the_password_is_changed_the_printed_login_goes(db: None, login_file: Path) -> None:
    username, _ = printed_login(ensure())
    admin = User.objects.get(username=username)
    admin.set_password(NEW)
    admin.save()

    output = ensure()

    assert output.strip() == f"Log in as {username} with the password you chose."
    assert not login_file.exists()


def test_a_team_with_its_own_superuser_is_told_to_use_it(
    make_role_user: Callable[..., User], login_file: Path
) -> None:
    make_role_user("superuser", "root")

    assert ensure().strip() == "Log in with your existing superuser."
    assert not login_file.exists()
    assert not User.objects.filter(username="admin").exists()


@examples(FUZZ, max_examples=50)
@given(old=hostile_text, new=hostile_text, again=hostile_text)
def test_no_password_change_is_a_server_error(
    erin_client: Client, old: str, new: str, again: str
) -> None:
    reset_failed_logins()  # or, past the fifth wrong password, the page is locked out
    response = change(erin_client, old=old, new=new, again=again)

    assert response.status_code in (200, 302)
