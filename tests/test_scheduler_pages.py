"""/schedulers/ and /schedulers/<name>/: every scheduler on the endpoint, one
scheduler's configuration, executions and next runs, and the pages of its
actions (what each status offers, and what is refused)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from scheduler_ui.local_endpoint.backend import ManualClock
from scheduler_ui.schedulers import submitting
from scheduler_ui.schedulers.models import Operation, State, Submission
from tests.factories import ROLE_ARN, make_submission, request_dict

NAME = "pump-scheduler"
CONFIGURATION: dict[str, Any] = {
    "DataDelayOffsetInMinutes": 5,
    "DataInputConfiguration": {
        "S3InputConfiguration": {"Bucket": "plant-input", "Prefix": "pumps/"},
        "InferenceInputNameConfiguration": {
            "TimestampFormat": "yyyyMMddHHmmss",
            "ComponentTimestampDelimiter": "_",
        },
    },
    "DataOutputConfiguration": {
        "S3OutputConfiguration": {"Bucket": "lookout-output", "Prefix": "results/"}
    },
    "ServerSideKmsKeyId": "alias/plant",
    "Tags": [{"Key": "team", "Value": "reliability"}],
}


@pytest.fixture(autouse=True)
def fresh_listing():
    """Each test lists the endpoint afresh (the listing is kept a few seconds)."""
    cache.clear()


def created(name: str = NAME, **overrides) -> Submission:
    """A scheduler created by the console (in this process), with its record."""
    submission = make_submission(InferenceSchedulerName=name, **{**CONFIGURATION, **overrides})
    submitting.submit_to_lookout(submission.pk)
    submitting.follow_statuses()
    submission.refresh_from_db()
    return submission


def stop(lookout, name: str = NAME) -> None:
    lookout.client.stop_inference_scheduler(InferenceSchedulerName=name)
    submitting.follow_statuses()


def row(html: str, name: str) -> str:
    """The table row of one scheduler on /schedulers/."""
    start = html.index(f'data-testid="scheduler-{name}"')
    return html[start : html.index("</tr>", start)]


def shown(client, query: str = "") -> set[str]:
    """The names /schedulers/ lists."""
    html = client.get(reverse("scheduler_list") + query).text
    marker = 'data-testid="scheduler-'
    return {part.split('"', 1)[0] for part in html.split(marker)[1:]}


def detail(client, name: str = NAME):
    return client.get(reverse("scheduler_detail", args=[name]))


# --- The list -----------------------------------------------------------------------


def test_the_list_shows_every_scheduler_with_its_schedule(viewer_client, lookout):
    record = created()
    lookout.client.create_inference_scheduler(
        **request_dict(InferenceSchedulerName="fan-scheduler", ModelName="fan-model")
    )

    html = viewer_client.get(reverse("scheduler_list")).text

    ours, outside = row(html, NAME), row(html, "fan-scheduler")
    for text in ("status-RUNNING", "pump-model", "PT10M", "5 min", record.get_absolute_url()):
        assert text in ours
    assert 'data-testid="imported"' not in ours
    assert 'data-testid="imported"' in outside
    assert "fan-model" in outside


def test_a_scheduler_the_sync_imported_is_marked_and_linked_to_its_record(viewer_client, lookout):
    lookout.client.create_inference_scheduler(**request_dict(InferenceSchedulerName="outside"))
    submitting.follow_statuses()

    outside = row(viewer_client.get(reverse("scheduler_list")).text, "outside")

    imported = Submission.objects.get(operation=Operation.IMPORTED)
    assert 'data-testid="imported"' in outside
    assert imported.get_absolute_url() in outside


def test_the_list_filters_by_status(viewer_client, lookout):
    created()
    created("fan-scheduler", ModelName="fan-model")
    stop(lookout, "fan-scheduler")

    assert shown(viewer_client, "?status=STOPPED") == {"fan-scheduler"}
    assert shown(viewer_client, "?status=RUNNING") == {NAME}


def test_the_list_filters_by_model(viewer_client, lookout):
    created()
    created("fan-scheduler", ModelName="fan-model")

    assert shown(viewer_client, "?model=fan-model") == {"fan-scheduler"}


def test_a_model_filter_no_model_can_have_is_refused_without_asking(viewer_client, lookout):
    response = viewer_client.get(reverse("scheduler_list") + "?model=no+spaces")

    assert response.status_code == 200
    assert "Must match the pattern" in response.text


@pytest.fixture
def many_schedulers(configure_lookout):
    """501 schedulers, s-000 to s-500: one more than a page of the listing."""
    endpoint = configure_lookout(one_scheduler_per_model=False)
    for number in range(501):
        endpoint.backend.invoke(
            "CreateInferenceScheduler", request_dict(InferenceSchedulerName=f"s-{number:03d}")
        )
    return [f"s-{number:03d}" for number in range(501)]


def test_the_list_goes_past_the_first_page_of_the_listing(viewer_client, many_schedulers):
    html = viewer_client.get(reverse("scheduler_list")).text

    assert "1\N{EN DASH}50 of 501 schedulers" in html


def test_the_list_shows_fifty_schedulers_a_page_by_name(viewer_client, many_schedulers):
    assert shown(viewer_client) == set(many_schedulers[:50])
    assert shown(viewer_client, "?page=2") == set(many_schedulers[50:100])
    assert shown(viewer_client, "?page=11") == {"s-500"}


def test_a_page_number_out_of_range_shows_the_nearest_page(viewer_client, many_schedulers):
    assert shown(viewer_client, "?page=99") == {"s-500"}
    assert shown(viewer_client, "?page=x") == set(many_schedulers[:50])


def test_the_page_links_keep_the_filters(viewer_client, many_schedulers):
    html = viewer_client.get(reverse("scheduler_list") + "?name=s-&page=2").text

    assert 'href="?name=s-&amp;page=1" rel="prev"' in html
    assert 'href="?name=s-&amp;page=3" rel="next"' in html
    assert "51\N{EN DASH}100 of 501 schedulers" in html


def test_the_list_finds_schedulers_by_the_start_of_their_name(viewer_client, lookout):
    created()
    created("fan-scheduler", ModelName="fan-model")

    assert shown(viewer_client, "?name=fan") == {"fan-scheduler"}
    assert shown(viewer_client, "?name=scheduler") == set()


def test_a_name_no_scheduler_can_have_is_refused_next_to_its_field(viewer_client, lookout):
    created()

    response = viewer_client.get(reverse("scheduler_list") + "?name=no+spaces")

    assert response.status_code == 200
    assert "Must match the pattern" in response.text
    assert 'value="no spaces"' in response.text  # what was typed stays
    assert "No scheduler matches these filters." in response.text


def test_the_list_offers_the_actions_each_status_allows(operator_client, lookout):
    created()
    created("fan-scheduler", ModelName="fan-model")
    stop(lookout, "fan-scheduler")

    html = operator_client.get(reverse("scheduler_list")).text

    running, stopped = row(html, NAME), row(html, "fan-scheduler")
    assert ">Stop<" in running and ">Edit<" in running
    assert ">Start<" not in running and ">Delete<" not in running
    assert ">Start<" in stopped and ">Edit<" in stopped and ">Delete<" in stopped
    assert ">Stop<" not in stopped


def test_viewers_are_offered_no_actions(viewer_client, lookout):
    created()

    html = viewer_client.get(reverse("scheduler_list")).text

    assert 'data-testid="actions"' not in html


def test_an_unreachable_endpoint_is_an_error_state_not_a_server_error(
    viewer_client, settings, monkeypatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings.LOOKOUT_ENDPOINT_URL = "http://127.0.0.1:1"  # nothing listens there

    response = viewer_client.get(reverse("scheduler_list"))

    assert response.status_code == 200
    assert "Lookout for Equipment did not answer" in response.text
    assert "EndpointConnectionError" in response.text


# --- The rows follow themselves while they change -------------------------------------


def following(client, query: str = "") -> str | None:
    """Where the list's rows ask again for themselves every 5 seconds, or None."""
    html: str = client.get(reverse("scheduler_list") + query).text
    start = html.index('id="scheduler-rows"')
    rows = html[start : html.index(">", start)]
    if 'hx-trigger="every 5s"' not in rows:
        return None
    return rows.split('hx-get="', 1)[1].split('"', 1)[0].replace("&amp;", "&")


def test_the_rows_follow_themselves_while_a_scheduler_is_pending(viewer_client, configure_lookout):
    configure_lookout(pending_seconds=600)
    created()

    assert following(viewer_client) == reverse("scheduler_list")


def test_the_rows_follow_themselves_while_a_request_is_under_way(operator_client, lookout):
    created()
    operator_client.post(reverse("scheduler_stop", args=[NAME]))

    assert following(operator_client, "?status=RUNNING") == reverse("scheduler_list") + (
        "?status=RUNNING"
    )


def test_the_rows_follow_a_request_done_since_the_listing_was_read_until_it_is_read_again(
    operator_client, lookout
):
    created()
    assert following(operator_client) is None  # the listing, RUNNING, is kept a few seconds
    operator_client.post(reverse("scheduler_stop", args=[NAME]))
    submitting.submit_to_lookout(Submission.objects.get(operation=Operation.STOP).pk)

    assert following(operator_client) == reverse("scheduler_list")
    cache.clear()  # the listing is read again: STOPPED
    assert following(operator_client) is None


def test_settled_rows_do_not_follow_themselves(viewer_client, lookout):
    created()
    created("fan-scheduler", ModelName="fan-model")
    stop(lookout, "fan-scheduler")

    assert following(viewer_client) is None


def test_a_follow_up_that_cannot_list_is_an_error_so_the_rows_stay_and_says_why(
    viewer_client, settings, monkeypatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings.LOOKOUT_ENDPOINT_URL = "http://127.0.0.1:1"  # nothing listens there

    response = viewer_client.get(reverse("scheduler_list"), HTTP_HX_REQUEST="true")

    assert response.status_code == 503  # htmx swaps in no error response
    assert "Lookout for Equipment did not answer" in response.text
    assert "shows what it last read" in response.text


# --- Start and stop what is selected on the list --------------------------------------


def act_on(client, action: str, *names: str, query: str = ""):
    """POST the list's selection form, as its Start or Stop button does."""
    return client.post(
        reverse("scheduler_list") + query, {"action": action, "names": list(names)}, follow=True
    )


def section(html: str, testid: str) -> str:
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index("</ul>", start)]


def asked(operation: str) -> set[str]:
    return set(
        Submission.objects.filter(operation=operation).values_list("scheduler_name", flat=True)
    )


def test_operators_can_tick_each_row(operator_client, lookout):
    created()

    html = operator_client.get(reverse("scheduler_list")).text

    assert 'name="names" value="pump-scheduler" form="selected-schedulers"' in row(html, NAME)
    assert 'data-testid="selected-actions"' in html


def test_viewers_have_nothing_to_tick(viewer_client, lookout):
    created()

    html = viewer_client.get(reverse("scheduler_list")).text

    assert 'name="names"' not in html
    assert 'data-testid="selected-actions"' not in html


def test_stopping_the_selected_schedulers_asks_once_for_each(operator_client, lookout):
    created()
    created("fan-scheduler", ModelName="fan-model")

    response = act_on(operator_client, "stop", NAME, "fan-scheduler")

    assert asked(Operation.STOP) == {NAME, "fan-scheduler"}
    assert response.redirect_chain == [(reverse("scheduler_list"), 302)]
    assert (
        "Asked to stop 2 schedulers (fan-scheduler, pump-scheduler); the requests are queued."
        in response.text
    )
    assert "Request <a" in row(response.text, NAME)


def test_starting_one_selected_scheduler_says_its_name(operator_client, lookout):
    created()
    stop(lookout)

    response = act_on(operator_client, "start", NAME)

    assert asked(Operation.START) == {NAME}
    assert "Asked to start pump-scheduler; the request is queued." in response.text


def test_a_selected_scheduler_whose_status_does_not_allow_it_is_refused_alone(
    operator_client, lookout
):
    created()
    created("fan-scheduler", ModelName="fan-model")
    stop(lookout, "fan-scheduler")

    response = act_on(operator_client, "stop", NAME, "fan-scheduler")

    assert asked(Operation.STOP) == {NAME}
    assert "fan-scheduler is already STOPPED." in response.text


def test_a_selected_scheduler_with_a_request_under_way_is_refused(operator_client, lookout):
    created()
    operator_client.post(reverse("scheduler_stop", args=[NAME]))

    response = act_on(operator_client, "stop", NAME)

    assert Submission.objects.filter(operation=Operation.STOP).count() == 1
    assert "pump-scheduler has a request still under way" in response.text


def test_a_selected_name_no_scheduler_has_is_refused_by_name(operator_client, lookout):
    response = act_on(operator_client, "stop", "ghost")

    assert "There is no inference scheduler named ghost." in response.text
    assert not Submission.objects.exists()


def test_deleting_the_selected_schedulers_asks_first_and_records_nothing(operator_client, lookout):
    created()
    created("fan-scheduler", ModelName="fan-model")
    stop(lookout)

    response = act_on(operator_client, "delete", NAME, "fan-scheduler")

    assert response.redirect_chain == []
    assert "Delete 1 scheduler?" in response.text
    assert "pump-scheduler" in section(response.text, "to-delete")
    assert "fan-scheduler is RUNNING: stop it before you delete it." in section(
        response.text, "not-deleted"
    )
    assert not asked(Operation.DELETE)


def test_confirming_deletes_each_scheduler_the_page_listed(operator_client, lookout):
    created()
    created("fan-scheduler", ModelName="fan-model")
    stop(lookout)
    stop(lookout, "fan-scheduler")

    response = operator_client.post(
        reverse("scheduler_list"),
        {"action": "delete", "confirmed": "on", "names": [NAME, "fan-scheduler"]},
        follow=True,
    )

    assert asked(Operation.DELETE) == {NAME, "fan-scheduler"}
    assert "Asked to delete 2 schedulers (fan-scheduler, pump-scheduler)" in response.text


def test_deleting_only_schedulers_that_cannot_be_deleted_says_why_without_asking(
    operator_client, lookout
):
    created()

    response = act_on(operator_client, "delete", NAME)

    assert response.redirect_chain == [(reverse("scheduler_list"), 302)]
    assert "pump-scheduler is RUNNING: stop it before you delete it." in response.text
    assert not asked(Operation.DELETE)


def test_selecting_nothing_says_so_and_sends_nothing(operator_client, lookout):
    created()

    response = act_on(operator_client, "stop")

    assert "Select the schedulers to start, stop or delete first." in response.text
    assert not asked(Operation.STOP)


@pytest.mark.parametrize(
    ("action", "names", "said"),
    [
        ("edit", [NAME], "Select a valid choice. edit is not one of the available choices."),
        ("stop", ["no spaces allowed"], "Select a valid choice. no spaces allowed is not one"),
        ("stop", ["p\N{LATIN SMALL LETTER U WITH DIAERESIS}mp\x00"], "Select a valid choice."),
        ("stop", [f"s-{n:03d}" for n in range(51)], "Select at most 50 schedulers at a time."),
    ],
    ids=[
        "an-action-the-list-does-not-offer",
        "a-name-no-scheduler-can-have",
        "a-name-with-a-nul",
        "more-than-a-page",
    ],
)
def test_a_crafted_selection_is_refused_saying_why(operator_client, lookout, action, names, said):
    created()

    response = act_on(operator_client, action, *names)

    assert response.status_code == 200
    assert said in response.text
    assert Submission.objects.count() == 1  # the create


def test_the_selection_lands_back_on_the_same_page_of_the_list(operator_client, lookout):
    created()

    response = act_on(operator_client, "stop", NAME, query="?name=pump&page=1")

    assert response.redirect_chain == [(reverse("scheduler_list") + "?name=pump&page=1", 302)]


def test_an_unreachable_endpoint_refuses_the_selection_and_records_nothing(
    operator_client, lookout, settings
):
    created()
    settings.LOOKOUT_ENDPOINT_URL = "http://127.0.0.1:1"  # nothing listens there

    response = act_on(operator_client, "stop", NAME)

    assert "Could not list the schedulers (EndpointConnectionError); nothing was done." in (
        response.text
    )
    assert not asked(Operation.STOP)


# --- One scheduler -----------------------------------------------------------------


def test_the_page_shows_the_configuration_and_what_cannot_change(viewer_client, lookout):
    created()

    html: str = detail(viewer_client).text

    def member(path: str) -> str:
        start = html.index(f"<code>{path}</code>")
        return html[start : html.index("</tr>", start)]

    for fixed in ("ModelName", "InferenceSchedulerName", "ServerSideKmsKeyId"):
        assert "cannot change" in member(fixed), fixed
    assert "team=reliability" in member("Tags")
    assert "Yes, with Manage tags" in member("Tags")
    for changeable in ("DataUploadFrequency", "DataInputConfiguration.S3InputConfiguration.Bucket"):
        assert "Yes, with Edit" in member(changeable), changeable


def test_the_page_shows_the_documented_next_run_and_a_file_it_will_look_for(viewer_client, lookout):
    created()  # every ten minutes, five minutes' offset

    at_nine_eight = datetime.datetime(2026, 11, 27, 9, 8, tzinfo=datetime.UTC)
    with time_machine.travel(at_nine_eight, tick=False):
        html = detail(viewer_client).text

    runs = html[html.index('data-testid="next-runs"') :]
    assert runs.index("2026-11-27 09:15 UTC") < runs.index("2026-11-27 09:25 UTC")
    assert "s3://plant-input/pumps/&lt;component&gt;_20261127091000.csv" in runs


def test_the_page_lists_recent_executions_with_their_data_window(viewer_client, configure_lookout):
    clock = ManualClock()  # 2023-11-14 23:00 UTC
    configure_lookout(clock=clock)
    created(DataDelayOffsetInMinutes=0, DataUploadFrequency="PT5M")
    clock.advance(16 * 60)

    html = detail(viewer_client).text

    executions = html[html.index('data-testid="executions"') :]
    assert executions.count("SUCCESS") == 3
    assert "2023-11-14 23:10 UTC" in executions
    assert "s3://lookout-output/results/2023-11-14-23-15-00/results.jsonl" in executions


def test_a_settling_scheduler_offers_nothing_but_to_wait(operator_client, configure_lookout):
    configure_lookout(pending_seconds=600)
    created()

    html = detail(operator_client).text

    assert "Wait until it is RUNNING" in html
    assert reverse("scheduler_stop", args=[NAME]) not in html


def test_a_scheduler_with_a_request_under_way_offers_no_other_action(operator_client, lookout):
    created()
    operator_client.post(reverse("scheduler_stop", args=[NAME]))
    stop_request = Submission.objects.get(operation=Operation.STOP)

    for html in (detail(operator_client).text, operator_client.get(reverse("scheduler_list")).text):
        assert f"#{stop_request.pk}</a> (stop)" in html
        assert reverse("scheduler_stop", args=[NAME]) not in html


def follows_itself(response) -> bool:
    """Whether a scheduler's page asks again for its heading every 5 seconds."""
    html = response.text
    start = html.index('id="scheduler-header"')
    return 'hx-trigger="every 5s"' in html[start : html.index(">", start)]


def test_a_pending_schedulers_page_follows_itself(viewer_client, configure_lookout):
    configure_lookout(pending_seconds=600)
    created()

    assert follows_itself(detail(viewer_client))


def test_a_schedulers_page_follows_itself_while_a_request_is_under_way(operator_client, lookout):
    created()
    operator_client.post(reverse("scheduler_stop", args=[NAME]))

    assert follows_itself(detail(operator_client))


def test_a_settled_schedulers_page_does_not_follow_itself(viewer_client, lookout):
    created()

    assert not follows_itself(detail(viewer_client))


def test_a_scheduler_deleted_while_its_page_follows_it_reloads_the_page(viewer_client, lookout):
    created()
    stop(lookout)
    lookout.client.delete_inference_scheduler(InferenceSchedulerName=NAME)

    response = viewer_client.get(reverse("scheduler_detail", args=[NAME]), HTTP_HX_REQUEST="true")

    assert response["HX-Refresh"] == "true"


def test_a_follow_up_that_cannot_read_the_scheduler_is_an_error_so_the_page_stays_and_says_why(
    viewer_client, settings, monkeypatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings.LOOKOUT_ENDPOINT_URL = "http://127.0.0.1:1"  # nothing listens there

    response = viewer_client.get(reverse("scheduler_detail", args=[NAME]), HTTP_HX_REQUEST="true")

    assert response.status_code == 503  # htmx swaps in no error response
    assert "Lookout for Equipment did not answer" in response.text
    assert "<html" not in response.text


def test_a_scheduler_that_is_gone_is_not_found_but_its_record_is_shown(viewer_client, lookout):
    make_submission(InferenceSchedulerName="ghost")

    response = detail(viewer_client, "ghost")

    assert response.status_code == 404
    assert "There is no inference scheduler named ghost" in response.text
    assert reverse("scheduler_history", args=["ghost"]) in response.text


def test_a_name_no_scheduler_can_have_is_not_found(viewer_client, lookout):
    assert detail(viewer_client, "no spaces").status_code == 404


@pytest.mark.parametrize("name", ["new", "bulk"])
def test_a_scheduler_named_like_a_page_has_a_page_of_its_own(name, viewer_client, lookout):
    created(name)

    html = viewer_client.get(reverse("scheduler_list")).text
    page = reverse("scheduler_detail", args=[name])

    assert page == f"/schedulers/~{name}/"
    assert f'href="{page}"' in html
    assert "<code>InferenceSchedulerName</code>" in detail(viewer_client, name).text


def test_only_such_a_name_is_written_with_a_tilde(viewer_client, lookout):
    created()

    assert reverse("scheduler_detail", args=[NAME]) == f"/schedulers/{NAME}/"
    assert detail(viewer_client, f"~{NAME}").status_code == 404


# --- The actions' pages ---------------------------------------------------------------


def test_stopping_lands_on_the_submission_that_names_its_call(operator_client, lookout):
    created()

    response = operator_client.post(reverse("scheduler_stop", args=[NAME]))

    stop_request = Submission.objects.get(operation=Operation.STOP)
    assert response.url == stop_request.get_absolute_url()
    page = operator_client.get(response.url).text
    assert 'data-testid="operation">Stop<' in page
    assert "client.stop_inference_scheduler(" in page
    assert 'data-testid="clone"' not in page


def test_a_crafted_start_of_a_running_scheduler_is_refused(operator_client, lookout):
    created()

    response = operator_client.post(reverse("scheduler_start", args=[NAME]), follow=True)

    assert "pump-scheduler is already RUNNING." in response.text
    assert not Submission.objects.filter(operation=Operation.START).exists()


def test_deleting_a_running_scheduler_is_refused_before_anything_is_recorded(
    operator_client, lookout
):
    created()

    response = operator_client.post(reverse("scheduler_delete", args=[NAME]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("scheduler_detail", args=[NAME])
    assert "pump-scheduler is RUNNING: stop it before you delete it." in response.text
    assert not Submission.objects.filter(operation=Operation.DELETE).exists()


def test_the_delete_page_of_a_running_scheduler_says_why_not(operator_client, lookout):
    created()

    response = operator_client.get(reverse("scheduler_delete", args=[NAME]), follow=True)

    assert "stop it before you delete it" in response.text
    assert 'data-testid="confirm-delete"' not in response.text


def test_a_stopped_scheduler_is_deleted_only_after_confirmation(operator_client, lookout):
    created()
    stop(lookout)

    page = operator_client.get(reverse("scheduler_delete", args=[NAME]))
    assert 'data-testid="confirm-delete"' in page.text
    assert not Submission.objects.filter(operation=Operation.DELETE).exists()

    response = operator_client.post(reverse("scheduler_delete", args=[NAME]))

    assert response.url == Submission.objects.get(operation=Operation.DELETE).get_absolute_url()


@pytest.mark.parametrize("action", ["scheduler_start", "scheduler_stop"])
def test_start_and_stop_take_only_posts(operator_client, action):
    assert operator_client.get(reverse(action, args=[NAME])).status_code == 405


# --- Edit ---------------------------------------------------------------------------


def edit_post(**changes: str) -> dict[str, str]:
    """The edit form as filled in from CONFIGURATION, with `changes`."""
    data = {
        "data_upload_frequency": "PT10M",
        "data_delay_offset_in_minutes": "5",
        "input_bucket": "plant-input",
        "input_prefix": "pumps/",
        "timestamp_format": "yyyyMMddHHmmss",
        "component_timestamp_delimiter": "_",
        "output_bucket": "lookout-output",
        "output_prefix": "results/",
        "role_arn": ROLE_ARN,
    }
    data.update(changes)
    return data


def test_the_edit_form_holds_only_what_an_update_may_change_filled_in(operator_client, lookout):
    created()
    stop(lookout)

    html = operator_client.get(reverse("scheduler_edit", args=[NAME])).text

    assert 'name="input_bucket" value="plant-input"' in html
    assert 'name="data_delay_offset_in_minutes" value="5"' in html
    for fixed in ("model_name", "inference_scheduler_name", "server_side_kms_key_id", "tags-"):
        assert f'name="{fixed}' not in html
    assert "restart-warning" not in html


@pytest.mark.parametrize("form", ["scheduler_edit", "scheduler_tags"])
def test_the_edit_and_tags_forms_take_back_what_was_typed_as_the_new_one_does(
    operator_client, lookout, form
):
    created()
    stop(lookout)

    html = operator_client.get(reverse(form, args=[NAME])).text

    assert 'data-keep-draft="fresh"' in html


def test_an_edit_sends_only_the_members_that_changed(operator_client, lookout):
    created()
    stop(lookout)

    response = operator_client.post(
        reverse("scheduler_edit", args=[NAME]), edit_post(data_delay_offset_in_minutes="7")
    )

    update = Submission.objects.get(operation=Operation.UPDATE)
    assert response.url == update.get_absolute_url()
    assert update.request == {"InferenceSchedulerName": NAME, "DataDelayOffsetInMinutes": 7}
    assert update.state == State.QUEUED


def test_a_changed_location_replaces_the_whole_member(operator_client, lookout):
    created()
    stop(lookout)

    operator_client.post(reverse("scheduler_edit", args=[NAME]), edit_post(input_prefix="fans/"))

    update = Submission.objects.get(operation=Operation.UPDATE)
    assert update.request["DataInputConfiguration"] == {
        **CONFIGURATION["DataInputConfiguration"],
        "S3InputConfiguration": {"Bucket": "plant-input", "Prefix": "fans/"},
    }


def test_an_edit_that_changes_nothing_sends_nothing(operator_client, lookout):
    created()
    stop(lookout)

    response = operator_client.post(reverse("scheduler_edit", args=[NAME]), edit_post())

    assert "Nothing changed" in response.text
    assert not Submission.objects.filter(operation=Operation.UPDATE).exists()


def test_an_edit_is_checked_by_the_services_rules(operator_client, lookout):
    created()
    stop(lookout)

    response = operator_client.post(
        reverse("scheduler_edit", args=[NAME]), edit_post(output_bucket="Bad_Bucket")
    )

    assert response.status_code == 200
    assert "Must match the pattern" in response.text
    assert not Submission.objects.filter(operation=Operation.UPDATE).exists()


def test_editing_a_running_scheduler_needs_stop_update_start_confirmed(operator_client, lookout):
    created()
    url = reverse("scheduler_edit", args=[NAME])
    assert "stop, update, start" in operator_client.get(url).text

    unconfirmed = operator_client.post(url, edit_post(data_delay_offset_in_minutes="7"))
    assert "Tick this" in unconfirmed.text
    assert not Submission.objects.filter(operation=Operation.UPDATE).exists()

    confirmed = operator_client.post(
        url, edit_post(data_delay_offset_in_minutes="7", confirm_restart="on")
    )

    update = Submission.objects.get(operation=Operation.UPDATE)
    assert confirmed.url == update.get_absolute_url()
    steps = Submission.objects.exclude(operation=Operation.CREATE).order_by("id")
    assert [s.operation for s in steps] == [Operation.STOP, Operation.UPDATE, Operation.START]


def test_a_settling_scheduler_cannot_be_edited(operator_client, configure_lookout):
    configure_lookout(pending_seconds=600)
    created()

    response = operator_client.get(reverse("scheduler_edit", args=[NAME]), follow=True)

    assert "PENDING: wait until it is RUNNING" in response.text


# --- Clone ------------------------------------------------------------------------------


def test_clone_fills_the_create_form_from_the_scheduler(operator_client, lookout):
    created()

    html = operator_client.get(reverse("submission_new") + f"?scheduler={NAME}").text

    assert "Filled in from the scheduler pump-scheduler" in html
    assert 'name="input_prefix" value="pumps/"' in html
    assert 'name="tags-0-key" value="team"' in html
    assert 'name="client_token" value' not in html


def test_clone_of_a_scheduler_that_is_not_there_is_not_found(operator_client, lookout):
    response = operator_client.get(reverse("submission_new") + "?scheduler=ghost")

    assert response.status_code == 404
