"""The admin panel: read-only submissions and events with their links, filters and
search; "Re-submit as new", Cancel and CSV export; the append-only trail; users managed
by Administrators; and Clone on the submission page."""

from __future__ import annotations

import csv
import io
import re

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from scheduler_ui.schedulers.access import ADMINISTRATOR, OPERATOR, VIEWER
from scheduler_ui.schedulers.admin import ChangeListRefusingNul
from scheduler_ui.schedulers.models import (
    AccessEvent,
    AccessKind,
    AppendOnlyError,
    EventKind,
    Operation,
    State,
    Submission,
    SubmissionEvent,
)
from tests.factories import form_post, make_submission

SUBMISSIONS = reverse("admin:schedulers_submission_changelist")
EVENTS = reverse("admin:schedulers_submissionevent_changelist")


@pytest.fixture
def administrator(make_role_user):
    return make_role_user(ADMINISTRATOR, "dana")


@pytest.fixture
def admin_client(client, administrator):
    client.force_login(administrator)
    return client


@pytest.fixture
def failed(operator):
    submission = make_submission(
        operator,
        InferenceSchedulerName="fan-3",
        ModelName="fan-model",
        Tags=[{"Key": "team", "Value": "reliability"}],
    )
    Submission.claim(submission.pk)
    submission.refresh_from_db()
    submission.fail("ThrottlingException", "Rate exceeded", reason="gave up")
    return submission


def resubmit(client, *submissions):
    return client.post(
        SUBMISSIONS,
        {"action": "resubmit_as_new", "_selected_action": [s.pk for s in submissions]},
        follow=True,
    )


# --- Read-only ----------------------------------------------------------------------


@pytest.mark.parametrize("changelist", [SUBMISSIONS, EVENTS])
def test_there_is_no_delete_action_for_submissions_or_events(
    client, make_role_user, failed, changelist
):
    client.force_login(make_role_user("superuser"))

    response = client.get(changelist)

    assert response.status_code == 200
    assert "delete_selected" not in response.text


@pytest.mark.parametrize("role", [ADMINISTRATOR, "superuser"])
def test_a_submission_cannot_be_changed_or_deleted_in_the_admin(
    client, make_role_user, failed, role
):
    client.force_login(make_role_user(role))
    change = reverse("admin:schedulers_submission_change", args=[failed.pk])

    page = client.get(change)
    posted = client.post(change, {"scheduler_name": "renamed"})
    deleted = client.post(reverse("admin:schedulers_submission_delete", args=[failed.pk]))

    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert (posted.status_code, deleted.status_code) == (403, 403)
    failed.refresh_from_db()
    assert failed.scheduler_name == "fan-3"


@pytest.mark.parametrize("role", [ADMINISTRATOR, "superuser"])
def test_an_event_cannot_be_changed_or_deleted_in_the_admin(client, make_role_user, failed, role):
    client.force_login(make_role_user(role))
    event = failed.events.last()
    change = reverse("admin:schedulers_submissionevent_change", args=[event.pk])

    page = client.get(change)
    posted = client.post(change, {"kind": EventKind.SUCCEEDED})
    deleted = client.post(reverse("admin:schedulers_submissionevent_delete", args=[event.pk]))

    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert (posted.status_code, deleted.status_code) == (403, 403)
    assert SubmissionEvent.objects.get(pk=event.pk).kind == EventKind.FAILED


def test_events_cannot_be_changed_or_deleted_by_code_either(failed):
    event = failed.events.last()
    event.details = {"message": "nothing happened"}

    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        SubmissionEvent.objects.filter(pk=event.pk).update(details={})
    with pytest.raises(AppendOnlyError):
        SubmissionEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        SubmissionEvent.objects.bulk_update([event], ["details"])


# --- Lists, links and computed fields ---------------------------------------------


def test_the_submission_page_links_to_its_events_its_original_and_its_history(admin_client, failed):
    clone = failed.clone(None)

    response = admin_client.get(reverse("admin:schedulers_submission_change", args=[clone.pk]))

    assert f"{EVENTS}?submission__id__exact={clone.pk}" in response.text
    assert "1 event<" in response.text
    assert reverse("admin:schedulers_submission_change", args=[failed.pk]) in response.text
    assert reverse("scheduler_history", args=["fan-3"]) in response.text


def test_the_submission_list_shows_how_long_each_took(admin_client, failed):
    response = admin_client.get(SUBMISSIONS)

    assert response.context["cl"].result_list[0] == failed
    assert " s</td>" in response.text


def test_the_event_list_links_each_event_to_its_submission(admin_client, failed):
    response = admin_client.get(EVENTS)

    assert reverse("admin:schedulers_submission_change", args=[failed.pk]) in response.text


def test_the_events_of_one_submission_are_one_link_away(admin_client, failed, operator):
    make_submission(operator)

    response = admin_client.get(EVENTS, {"submission__id__exact": failed.pk})

    assert set(response.context["cl"].result_list) == set(failed.events.all())


@pytest.mark.parametrize(
    ("changelist", "query", "expected"),
    [
        (SUBMISSIONS, {"state__exact": State.FAILED}, ["fan-3"]),
        (SUBMISSIONS, {"q": "pump"}, ["pump-scheduler"]),
        (SUBMISSIONS, {"created_at__year": "1999"}, []),
        (EVENTS, {"kind__exact": EventKind.FAILED}, ["fan-3"]),
        (EVENTS, {"q": "fan-3", "kind__exact": EventKind.SUBMITTED}, ["fan-3"]),
        (EVENTS, {"submission__model_name": "pump-model", "kind__exact": "attempt"}, []),
    ],
)
def test_the_lists_filter_and_search(admin_client, failed, operator, changelist, query, expected):
    make_submission(operator)

    response = admin_client.get(changelist, query)

    assert response.status_code == 200
    found = response.context["cl"].result_list
    assert [getattr(row, "submission", row).scheduler_name for row in found] == expected


@pytest.mark.parametrize(
    ("changelist", "query"),
    [
        (SUBMISSIONS, {"state__exact": "\x00"}),
        (EVENTS, {"kind__exact": "\x00"}),
        (reverse("admin:schedulers_accessevent_changelist"), {"username": "\x00"}),
        (reverse("admin:auth_user_changelist"), {"username": "a\x00"}),
        (reverse("admin:axes_accessattempt_changelist"), {"username": "\x00"}),
        (reverse("admin:auth_group_changelist"), {"name": "\x00"}),
    ],
    ids=["submissions", "events", "access-events", "users", "failed-logins", "roles"],
)
def test_a_filter_holding_a_nul_sends_the_list_back_as_any_filter_it_cannot_apply(
    admin_client, failed, changelist, query
):
    response = admin_client.get(changelist, query)

    assert response.status_code == 302
    assert response.url == changelist + "?e=1"


def test_every_admin_list_refuses_a_filter_holding_a_nul(rf, administrator):
    request = rf.get("/")
    request.user = administrator

    lists = {
        model._meta.label: model_admin.get_changelist(request)
        for model, model_admin in admin.site._registry.items()
    }

    assert lists == dict.fromkeys(lists, ChangeListRefusingNul)


# --- Re-submit as new ---------------------------------------------------------------


def test_resubmit_as_new_makes_a_new_submission_with_a_new_client_token(
    admin_client, administrator, failed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as dispatched:
        response = resubmit(admin_client, failed)

    clone = Submission.objects.exclude(pk=failed.pk).get()
    assert clone.cloned_from == failed
    assert clone.client_token != failed.client_token
    assert clone.request == {**failed.request, "ClientToken": clone.client_token}
    assert (clone.state, clone.created_by) == (State.QUEUED, administrator)
    [event] = clone.events.all()
    assert event.kind == EventKind.SUBMITTED
    assert event.details["cloned_from"] == failed.pk
    assert len(dispatched) == 1
    assert f"Re-submitted 1 as new: #{clone.pk} from #{failed.pk}" in response.text


def test_resubmit_as_new_leaves_the_original_as_it_was(admin_client, failed):
    events = list(failed.events.values_list("pk", flat=True))

    resubmit(admin_client, failed)

    failed.refresh_from_db()
    assert failed.state == State.FAILED
    assert list(failed.events.values_list("pk", flat=True)) == events


def test_resubmit_as_new_handles_several_at_once(admin_client, failed, operator):
    other = make_submission(operator)

    resubmit(admin_client, failed, other)

    clones = Submission.objects.filter(cloned_from__isnull=False).order_by("cloned_from_id")
    assert [clone.cloned_from_id for clone in clones] == [failed.pk, other.pk]


# --- Cancel -------------------------------------------------------------------------


def cancel(client, *submissions):
    return client.post(
        SUBMISSIONS,
        {"action": "cancel", "_selected_action": [s.pk for s in submissions]},
        follow=True,
    )


def test_cancel_ends_the_selected_that_nothing_is_sending(admin_client, administrator, operator):
    queued, other = make_submission(operator), make_submission(operator)

    response = cancel(admin_client, queued, other)

    for submission in (queued, other):
        submission.refresh_from_db()
        assert submission.state == State.CANCELLED
        assert submission.events.latest("id").actor == administrator
    assert f"Cancelled 2: #{queued.pk}, #{other.pk}." in response.text


def test_cancel_says_which_it_was_too_late_for(admin_client, failed, operator):
    queued = make_submission(operator)

    response = cancel(admin_client, failed, queued)

    assert Submission.objects.get(pk=failed.pk).state == State.FAILED
    assert f"Cancelled 1: #{queued.pk}." in response.text
    assert f"Not cancelled, being sent or finished: #{failed.pk}." in response.text


def test_cancel_counts_a_step_cancelled_with_the_one_before_it(admin_client, operator):
    stop = make_submission(operator)
    start = Submission.accept(
        {"InferenceSchedulerName": stop.scheduler_name},
        operator,
        operation=Operation.START,
        waits_for=stop,
    )

    response = cancel(admin_client, stop, start)

    assert Submission.objects.get(pk=start.pk).state == State.CANCELLED
    assert f"Cancelled 2: #{stop.pk}, #{start.pk}." in response.text
    assert "Not cancelled" not in response.text


# --- CSV export ---------------------------------------------------------------------


def test_export_csv_streams_the_selected_submissions(admin_client, failed, operator):
    other = make_submission(operator)

    response = admin_client.post(
        SUBMISSIONS, {"action": "export_csv", "_selected_action": [failed.pk]}
    )

    assert response.streaming
    assert 'filename="submissions.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["id"] for row in rows] == [str(failed.pk)]
    assert rows[0]["error_code"] == "ThrottlingException"
    assert rows[0]["created_by"] == "alice"
    assert '"team"' in rows[0]["request"]
    assert str(other.pk) not in [row["id"] for row in rows]


# --- Users ---------------------------------------------------------------------------


def test_an_administrator_manages_users_and_their_roles(admin_client):
    response = admin_client.get(reverse("admin:auth_user_add"))

    assert response.status_code == 200


def test_the_users_list_shows_each_persons_role(admin_client, make_role_user):
    make_role_user(OPERATOR, "olga")
    make_role_user(None, "nora")
    make_role_user("superuser", "root")

    page = admin_client.get(reverse("admin:auth_user_changelist")).text

    rows = {
        name: re.search(
            rf'>{name}</a></th><td class="field-email">[^<]*</td>'
            rf'<td class="field-roles">([^<]*)</td>',
            page,
        )
        for name in ("olga", "nora", "root", "dana")
    }
    assert {name: row[1] for name, row in rows.items() if row} == {
        "olga": "Operator",
        "nora": "None",
        "root": "Superuser",
        "dana": "Administrator",
    }


def test_an_administrator_cannot_make_anyone_superuser(admin_client, administrator, operator):
    page = admin_client.get(reverse("admin:auth_user_change", args=[operator.pk]))

    assert 'name="groups"' in page.text
    assert 'name="is_superuser"' not in page.text
    assert 'name="user_permissions"' not in page.text


def test_an_administrator_cannot_change_a_superuser(admin_client, make_role_user):
    root = make_role_user("superuser", "root")
    change = reverse("admin:auth_user_change", args=[root.pk])

    posted = admin_client.post(change, {"username": "taken-over"})
    password = admin_client.get(reverse("admin:auth_user_password_change", args=[root.pk]))

    assert (posted.status_code, password.status_code) == (403, 403)
    root.refresh_from_db()
    assert root.username == "root"


# --- Login lock-outs --------------------------------------------------------------------

LOCK_OUTS = reverse("admin:axes_accessattempt_changelist")


@pytest.fixture
def locked_out(settings, make_role_user):
    """erin, after five wrong passwords from her address: locked out for 15 minutes."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    erin = make_role_user(VIEWER, "erin")
    erin.set_password("right-password")
    erin.save()
    browser = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(5):
        browser.post(reverse("login"), {"username": "erin", "password": "wrong"})
    assert sign_in(browser).status_code == 429
    return browser


def sign_in(browser):
    return browser.post(reverse("login"), {"username": "erin", "password": "right-password"})


def test_an_administrator_sees_who_is_locked_out(admin_client, locked_out):
    page = admin_client.get(LOCK_OUTS, {"locked_out": "yes"})

    assert "erin" in page.text
    assert "203.0.113.9" in page.text


def test_an_administrator_lifts_a_lock_out_and_the_person_signs_in_at_once(
    admin_client, locked_out
):
    attempts = list(AccessAttempt.objects.values_list("pk", flat=True))
    admin_client.post(
        LOCK_OUTS, {"action": "delete_selected", "_selected_action": attempts, "post": "yes"}
    )

    assert sign_in(locked_out).status_code == 302


def test_the_clear_action_lifts_a_lock_out_and_says_whose(admin_client, locked_out):
    attempts = list(AccessAttempt.objects.values_list("pk", flat=True))

    page = admin_client.post(
        LOCK_OUTS,
        {"action": "clear_failed_logins", "_selected_action": attempts},
        follow=True,
    )

    assert "Cleared the failed logins of erin from 203.0.113.9" in page.text
    assert sign_in(locked_out).status_code == 302
    assert AccessEvent.objects.filter(kind=AccessKind.FAILURES_CLEARED).count() == 1


def test_clearing_failed_logins_is_in_the_access_log(admin_client, administrator, locked_out):
    attempts = list(AccessAttempt.objects.values_list("pk", flat=True))
    admin_client.post(
        LOCK_OUTS, {"action": "delete_selected", "_selected_action": attempts, "post": "yes"}
    )

    event = AccessEvent.objects.get(kind=AccessKind.FAILURES_CLEARED)
    assert (event.username, event.ip_address, event.by) == ("erin", "203.0.113.9", administrator)


def test_deleting_one_entry_on_its_page_lifts_the_lock_out_too(admin_client, locked_out):
    attempt = AccessAttempt.objects.get()
    admin_client.post(
        reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"}
    )

    assert sign_in(locked_out).status_code == 302
    assert AccessEvent.objects.filter(kind=AccessKind.FAILURES_CLEARED).count() == 1


def test_the_admin_lists_no_login_log_that_is_never_written(client, make_role_user):
    client.force_login(make_role_user("superuser", "root"))

    page = client.get(reverse("admin:index"))

    assert "Access attempts" in page.text
    assert "Access logs" not in page.text
    assert "Access failures" not in page.text


def test_the_admin_is_named_for_the_console_and_shows_its_icon(admin_client):
    page = admin_client.get(reverse("admin:index"))

    assert "<title>Site administration | Lookout Scheduler Console admin</title>" in page.text
    assert "Django administration" not in page.text
    assert 'rel="icon" href="/static/favicon.svg"' in page.text


def test_an_administrator_setting_a_password_is_in_the_access_log(
    admin_client, administrator, operator
):
    admin_client.post(
        reverse("admin:auth_user_password_change", args=[operator.pk]),
        {"usable_password": "true", "password1": "a-new-secret-9", "password2": "a-new-secret-9"},
    )

    event = AccessEvent.objects.get(kind=AccessKind.PASSWORD_CHANGED)
    assert (event.user, event.by) == (operator, administrator)


def test_a_refused_password_in_the_admin_is_not_in_the_access_log(admin_client, operator):
    admin_client.post(
        reverse("admin:auth_user_password_change", args=[operator.pk]),
        {"usable_password": "true", "password1": "a-new-secret-9", "password2": "other"},
    )

    assert not AccessEvent.objects.filter(kind=AccessKind.PASSWORD_CHANGED).exists()


def test_the_admins_change_password_link_leads_to_the_console_page(admin_client):
    response = admin_client.get(reverse("admin:password_change"))

    assert response.status_code == 302
    assert response.url == reverse("password_change")


def test_the_users_list_filters_by_role(admin_client, make_role_user):
    make_role_user(OPERATOR, "olga")
    make_role_user(VIEWER, "vic")
    operators = Group.objects.get(name=OPERATOR)

    page = admin_client.get(
        reverse("admin:auth_user_changelist"), {"groups__id__exact": operators.pk}
    )

    assert "By role" in page.text
    assert [user.username for user in page.context["cl"].result_list] == ["olga"]


# --- Clone on the submission page ------------------------------------------------------


def test_clone_fills_the_form_from_the_submission_without_its_client_token(operator_client, failed):
    response = operator_client.get(reverse("submission_new"), {"from": failed.pk})

    form = response.context["form"]
    assert form.scheduler.initial["inference_scheduler_name"] == "fan-3"
    assert form.scheduler.initial["output_bucket"] == "lookout-output"
    assert "client_token" not in form.scheduler.initial
    assert [tag.initial for tag in form.tags] == [{"key": "team", "value": "reliability"}]
    assert f"Filled in from submission #{failed.pk}" in response.text


def test_a_cloned_form_sent_as_it_is_makes_the_same_request_under_a_new_token(
    operator_client, failed
):
    form = operator_client.get(reverse("submission_new"), {"from": failed.pk}).context["form"]
    data = {
        **form_post(tags=[("team", "reliability")]),
        **{name: value for name, value in form.scheduler.initial.items()},
        "tags-INITIAL_FORMS": "1",
    }

    operator_client.post(reverse("submission_new"), data)

    clone = Submission.objects.exclude(pk=failed.pk).get()
    assert clone.request == {**failed.request, "ClientToken": clone.client_token}


@pytest.mark.parametrize("source", ["999999", "abc", "-1", "99999999999999999999999"])
def test_clone_of_an_unknown_submission_is_not_found(operator_client, db, source):
    response = operator_client.get(reverse("submission_new"), {"from": source})

    assert response.status_code == 404


def test_giving_someone_the_administrator_role_in_the_admin_makes_them_staff(
    admin_client, operator
):
    page = admin_client.get(reverse("admin:auth_user_change", args=[operator.pk]))
    data = {
        name: value
        for name, value in page.context["adminform"].form.initial.items()
        if value is not None and name not in {"password", "groups", "last_login", "date_joined"}
    }
    data.update(date_joined_0="2026-01-01", date_joined_1="09:00:00")
    data["groups"] = [Group.objects.get(name=ADMINISTRATOR).pk]

    response = admin_client.post(reverse("admin:auth_user_change", args=[operator.pk]), data)

    assert response.status_code == 302
    operator.refresh_from_db()
    assert operator.is_staff
    assert operator.groups.get().name == ADMINISTRATOR
