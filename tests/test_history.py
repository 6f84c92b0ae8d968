"""/history/: the team's audit trail, its filters, pages and CSV export; one
scheduler's timeline with the differences between its requests; an event for
every transition; synthetic history for the benchmarks."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from scheduler_ui.schedulers.exports import cell
from scheduler_ui.schedulers.management.commands.seed_history import seed_history
from scheduler_ui.schedulers.models import (
    TRANSITIONS,
    EventKind,
    Operation,
    State,
    Submission,
    SubmissionEvent,
)
from scheduler_ui.schedulers.views.history import PAGE_SIZE, diff_requests
from tests.factories import make_submission

URL = reverse("history")
PUMP_ARN = "arn:aws:lookoutequipment:us-east-1:123456789012:inference-scheduler/pump-7"
EXPORT = reverse("history_export")


def shown(response) -> list[int]:
    """The ids of the events on a history page, top to bottom."""
    return [event.pk for event in response.context["page"].events]


def newest_first(events) -> list[int]:
    return [event.pk for event in events.order_by("-at", "-id")]


@pytest.fixture
def team(operator, make_role_user):
    """Two people's submissions on two schedulers and models, in several states."""
    carol = make_role_user("Operator", "carol")
    pump = make_submission(operator, InferenceSchedulerName="pump-7", ModelName="pump-model")
    Submission.claim(pump.pk)
    pump.refresh_from_db()
    pump.succeed(
        {
            "InferenceSchedulerArn": PUMP_ARN,
            "Status": "PENDING",
            "ModelQuality": "QUALITY_THRESHOLD_MET",
        }
    )
    fan = make_submission(carol, InferenceSchedulerName="fan-3", ModelName="fan-model")
    Submission.claim(fan.pk)
    fan.refresh_from_db()
    fan.fail("ValidationException", "Bucket lookout-nowhere does not exist")
    return {"alice": operator, "carol": carol, "pump": pump, "fan": fan}


# --- The page ---------------------------------------------------------------------


def test_it_lists_every_event_newest_first(viewer_client, team):
    response = viewer_client.get(URL)

    assert response.status_code == 200
    assert shown(response) == newest_first(SubmissionEvent.objects.all())


def test_each_row_says_when_who_what_and_links_the_scheduler_and_submission(viewer_client, team):
    response = viewer_client.get(URL)

    assert "alice" in response.text
    assert "worker" in response.text
    assert "Attempt started" in response.text
    assert reverse("scheduler_history", args=["pump-7"]) in response.text
    assert team["pump"].get_absolute_url() in response.text
    assert "Bucket lookout-nowhere does not exist" in response.text


def test_it_says_so_when_there_are_no_events_yet(viewer_client):
    response = viewer_client.get(URL)

    assert "No events yet" in response.text
    assert "Older" not in response.text


# --- Filters ----------------------------------------------------------------------


FILTERS = {
    "user": lambda team: (
        {"user": "carol"},
        SubmissionEvent.objects.filter(actor=team["carol"]),
    ),
    "worker": lambda team: ({"user": "(worker)"}, SubmissionEvent.objects.filter(actor=None)),
    "scheduler": lambda team: (
        {"scheduler": "pump-7"},
        SubmissionEvent.objects.filter(submission=team["pump"]),
    ),
    "model": lambda team: (
        {"model": "fan-model"},
        SubmissionEvent.objects.filter(submission=team["fan"]),
    ),
    "kind": lambda team: (
        {"kind": EventKind.ATTEMPT},
        SubmissionEvent.objects.filter(kind=EventKind.ATTEMPT),
    ),
    "state": lambda team: (
        {"state": State.FAILED},
        SubmissionEvent.objects.filter(submission=team["fan"]),
    ),
    "search by name": lambda team: (
        {"q": "UMP-"},
        SubmissionEvent.objects.filter(submission=team["pump"]),
    ),
    "search by ARN": lambda team: (
        {"q": "inference-scheduler/pump"},
        SubmissionEvent.objects.filter(submission=team["pump"]),
    ),
    "search in details": lambda team: (
        {"q": "lookout-nowhere"},
        SubmissionEvent.objects.filter(kind=EventKind.FAILED),
    ),
    "several at once": lambda team: (
        {"user": "(worker)", "scheduler": "fan-3", "kind": EventKind.FAILED},
        SubmissionEvent.objects.filter(kind=EventKind.FAILED),
    ),
}


@pytest.mark.parametrize("name", FILTERS)
def test_it_filters(viewer_client, team, name):
    query, expected = FILTERS[name](team)

    response = viewer_client.get(URL, query)

    assert response.status_code == 200
    assert shown(response) == newest_first(expected)
    assert expected.exists()


def test_it_filters_by_a_date_range_including_both_days(viewer_client, operator):
    day = datetime.datetime(2026, 3, 10, 12, tzinfo=datetime.UTC)
    made = {}
    for offset in (-1, 0, 1, 2):
        with time_machine.travel(day + datetime.timedelta(days=offset), tick=False):
            made[offset] = make_submission(operator)

    response = viewer_client.get(URL, {"date_from": "2026-03-10", "date_to": "2026-03-11"})

    expected = SubmissionEvent.objects.filter(submission__in=[made[0], made[1]])
    assert shown(response) == newest_first(expected)


def test_no_match_says_so(viewer_client, team):
    response = viewer_client.get(URL, {"scheduler": "no-such-scheduler"})

    assert response.status_code == 200
    assert "No events match these filters" in response.text


BAD_FILTERS = {
    "unknown user": ({"user": "mallory"}, "Select a valid choice"),
    "unknown kind": ({"kind": "exploded"}, "Select a valid choice"),
    "unknown state": ({"state": "sleeping"}, "Select a valid choice"),
    "bad scheduler name": ({"scheduler": "no spaces!"}, "Must match the pattern"),
    "bad model name": ({"model": "x" * 201}, "at most 200 characters"),
    "bad date": ({"date_from": "2026-13-45"}, "Enter a valid date"),
    "dates the wrong way round": (
        {"date_from": "2026-03-11", "date_to": "2026-03-10"},
        "The end date is before the start date",
    ),
    "long search": ({"q": "x" * 201}, "at most 200 characters"),
    "malformed cursor": ({"before": "yesterday"}, "This page link is broken"),
    "cursor out of range": ({"before": f"{10**18}_1"}, "This page link is broken"),
    "cursor id out of range": ({"after": f"1_{2**63}"}, "This page link is broken"),
    "both directions": ({"before": "1_1", "after": "1_1"}, "cannot go both older and newer"),
}


@pytest.mark.parametrize("name", BAD_FILTERS)
def test_bad_filter_input_is_refused_with_the_reason(viewer_client, name):
    query, message = BAD_FILTERS[name]

    response = viewer_client.get(URL, query)

    assert response.status_code == 400
    assert message in response.text
    assert "page" not in response.context


# --- Keyset pages -----------------------------------------------------------------


def test_pages_go_older_and_newer_without_losing_or_repeating_an_event(viewer_client):
    seed_history(PAGE_SIZE * 2 + 7)
    everything = newest_first(SubmissionEvent.objects.all())

    first = viewer_client.get(URL)
    second = viewer_client.get(first.context["older_url"])
    third = viewer_client.get(second.context["older_url"])
    back = viewer_client.get(third.context["newer_url"])

    assert shown(first) + shown(second) + shown(third) == everything
    assert len(shown(third)) == 7
    assert third.context["older_url"] is None
    assert shown(back) == shown(second)
    assert first.context["newer_url"] is None


def test_events_at_the_same_instant_are_paged_by_id(viewer_client, operator):
    with time_machine.travel(timezone.now(), tick=False):
        for _ in range(PAGE_SIZE + 5):
            make_submission(operator)

    first = viewer_client.get(URL)
    second = viewer_client.get(first.context["older_url"])

    assert shown(first) + shown(second) == newest_first(SubmissionEvent.objects.all())


def test_newer_from_the_second_page_shows_the_full_newest_page(viewer_client):
    seed_history(PAGE_SIZE + 10)
    first = viewer_client.get(URL)
    second = viewer_client.get(first.context["older_url"])

    back = viewer_client.get(second.context["newer_url"])

    assert shown(back) == shown(first)
    assert back.context["newer_url"] is None


def test_page_links_keep_the_filters(viewer_client):
    seed_history(400)
    query = {"kind": EventKind.ATTEMPT}

    first = viewer_client.get(URL, query)
    second = viewer_client.get(first.context["older_url"])

    assert "kind=attempt" in first.context["older_url"]
    expected = newest_first(SubmissionEvent.objects.filter(kind=EventKind.ATTEMPT))
    assert shown(first) + shown(second) == expected[: PAGE_SIZE * 2]


def test_the_page_link_is_a_cursor_not_an_offset(viewer_client):
    seed_history(PAGE_SIZE + 1)

    first = viewer_client.get(URL)

    last = first.context["page"].events[-1]
    assert "before=" in first.context["older_url"]
    assert str(last.pk) in first.context["older_url"]
    assert "page=" not in first.context["older_url"]


@pytest.mark.parametrize(
    "query",
    [{}, {"kind": EventKind.SUCCEEDED}, {"user": "(worker)"}, {"model": "fan-model"}, {"q": "x"}],
    ids=["all", "kind", "worker", "model", "search"],
)
def test_a_page_costs_the_same_queries_for_10_and_1000_events(viewer_client, query):
    seed_history(10)
    with CaptureQueriesContext(connection) as few:
        viewer_client.get(URL, query)
    seed_history(990, seed=1)
    with CaptureQueriesContext(connection) as many:
        viewer_client.get(URL, query)

    assert len(few) == len(many)


def test_an_older_page_costs_the_same_queries_as_the_first(viewer_client):
    seed_history(1000)
    with CaptureQueriesContext(connection) as first_page:
        first = viewer_client.get(URL)
    with CaptureQueriesContext(connection) as second_page:
        viewer_client.get(first.context["older_url"])

    assert len(first_page) == len(second_page)


def test_no_query_counts_the_events(viewer_client):
    seed_history(100)

    with CaptureQueriesContext(connection) as queries:
        viewer_client.get(URL)

    assert not [q for q in queries if "COUNT(" in q["sql"].upper()]


# --- CSV export -------------------------------------------------------------------


def read_csv(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_streams_the_filtered_history_as_csv(viewer_client, team):
    response = viewer_client.get(EXPORT, {"scheduler": "fan-3"})

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="history.csv"' in response["Content-Disposition"]
    rows = read_csv(response)
    expected = SubmissionEvent.objects.filter(submission=team["fan"]).order_by("-at", "-id")
    assert [row["what"] for row in rows] == [event.kind for event in expected]
    assert {row["scheduler_name"] for row in rows} == {"fan-3"}
    assert rows[-1]["who"] == "carol"
    assert rows[0]["who"] == "worker"
    assert "lookout-nowhere" in rows[0]["details"]


def test_export_holds_every_page_not_just_one(viewer_client):
    seed_history(PAGE_SIZE * 3)

    response = viewer_client.get(EXPORT, {"before": "1_1"})

    assert len(read_csv(response)) == PAGE_SIZE * 3


def test_export_refuses_bad_filters(viewer_client):
    response = viewer_client.get(EXPORT, {"date_from": "soon"})

    assert response.status_code == 400
    assert "Enter a valid date" in response.text


def test_the_page_links_to_the_export_of_the_same_filters(viewer_client, team):
    response = viewer_client.get(URL, {"kind": EventKind.FAILED})

    assert response.context["export_url"] == f"{EXPORT}?kind=failed"


@pytest.mark.parametrize("text", ["=1+2", "+1", "-1", "@SUM(A1)"])
def test_export_cells_that_a_spreadsheet_would_run_are_quoted(text):
    assert cell(text) == f"'{text}"


# --- One scheduler ----------------------------------------------------------------


def test_a_scheduler_history_shows_every_submission_and_event_under_its_name(
    viewer_client, operator
):
    first = make_submission(operator, InferenceSchedulerName="pump-7")
    other = make_submission(operator, InferenceSchedulerName="fan-3")
    second = make_submission(operator, InferenceSchedulerName="pump-7")
    Submission.claim(second.pk)

    response = viewer_client.get(reverse("scheduler_history", args=["pump-7"]))

    assert response.status_code == 200
    events = [entry.event for entry in response.context["timeline"]]
    assert events == list(
        SubmissionEvent.objects.filter(submission__in=[first, second]).order_by("at", "id")
    )
    assert [s.pk for s in response.context["submissions"]] == [second.pk, first.pk]
    assert other.get_absolute_url() not in response.text


def test_a_scheduler_history_shows_what_changed_between_successive_requests(
    viewer_client, operator
):
    make_submission(operator, InferenceSchedulerName="pump-7", DataUploadFrequency="PT5M")
    second = make_submission(
        operator,
        InferenceSchedulerName="pump-7",
        DataUploadFrequency="PT10M",
        Tags=[{"Key": "team", "Value": "reliability"}],
    )

    response = viewer_client.get(reverse("scheduler_history", args=["pump-7"]))

    [entry] = [e for e in response.context["timeline"] if e.event.submission_id == second.pk]
    assert [(c.path, c.before, c.after) for c in entry.changes] == [
        ("DataUploadFrequency", "PT5M", "PT10M"),
        ("Tags[team]", "—", "reliability"),
    ]
    assert "DataUploadFrequency" in response.text


def test_an_update_shows_the_members_it_changes_and_a_stop_changes_nothing(viewer_client, operator):
    make_submission(operator, InferenceSchedulerName="pump-7", DataUploadFrequency="PT5M")
    stop = Submission.accept(
        {"InferenceSchedulerName": "pump-7"}, operator, operation=Operation.STOP
    )
    update = Submission.accept(
        {"InferenceSchedulerName": "pump-7", "DataUploadFrequency": "PT1H"},
        operator,
        operation=Operation.UPDATE,
    )

    response = viewer_client.get(reverse("scheduler_history", args=["pump-7"]))

    entries = {
        e.event.submission_id: e for e in response.context["timeline"] if e.changes is not None
    }
    assert stop.pk not in entries
    assert [(c.path, c.before, c.after) for c in entries[update.pk].changes] == [
        ("DataUploadFrequency", "PT5M", "PT1H")
    ]


def test_a_tag_change_shows_the_tags_it_adds_changes_and_removes(viewer_client, operator):
    tags = [{"Key": "team", "Value": "ops"}, {"Key": "env", "Value": "dev"}]
    make_submission(operator, InferenceSchedulerName="pump-7", Tags=tags)
    arn = "arn:aws:lookoutequipment:us-east-1:123456789012:inference-scheduler/pump-7/1"
    untag = Submission.accept(
        {"ResourceArn": arn, "TagKeys": ["env"]},
        operator,
        operation=Operation.UNTAG,
        scheduler_name="pump-7",
    )
    tag = Submission.accept(
        {"ResourceArn": arn, "Tags": [{"Key": "team", "Value": "reliability"}]},
        operator,
        operation=Operation.TAG,
        scheduler_name="pump-7",
    )

    response = viewer_client.get(reverse("scheduler_history", args=["pump-7"]))

    entries = {e.event.submission_id: e for e in response.context["timeline"] if e.changes}
    assert [(c.path, c.before, c.after) for c in entries[untag.pk].changes] == [
        ("Tags[env]", "dev", "—")
    ]
    assert [(c.path, c.before, c.after) for c in entries[tag.pk].changes] == [
        ("Tags[team]", "ops", "reliability")
    ]


def test_a_resubmitted_request_shows_as_the_same_request(viewer_client, operator):
    original = make_submission(operator, InferenceSchedulerName="pump-7")
    clone = original.clone(operator)

    response = viewer_client.get(reverse("scheduler_history", args=["pump-7"]))

    [entry] = [e for e in response.context["timeline"] if e.event.submission_id == clone.pk]
    assert entry.changes == []
    assert f"Same request as #{original.pk}" in response.text


def test_an_unknown_scheduler_name_is_not_found(viewer_client):
    response = viewer_client.get(reverse("scheduler_history", args=["never-used"]))

    assert response.status_code == 404


@pytest.mark.parametrize("name", ["\x00", "with spaces", "x" * 201], ids=["nul", "spaces", "long"])
def test_a_name_no_scheduler_can_have_is_not_found(viewer_client, name):
    response = viewer_client.get(reverse("scheduler_history", args=[name]))

    assert response.status_code == 404


def test_a_scheduler_history_costs_the_same_queries_for_1_and_20_submissions(
    viewer_client, operator
):
    url = reverse("scheduler_history", args=["pump-7"])
    make_submission(operator, InferenceSchedulerName="pump-7")
    with CaptureQueriesContext(connection) as one:
        viewer_client.get(url)
    for _ in range(19):
        make_submission(operator, InferenceSchedulerName="pump-7")
    with CaptureQueriesContext(connection) as twenty:
        viewer_client.get(url)

    assert len(one) == len(twenty)


# --- diff_requests ----------------------------------------------------------------


def test_diff_of_equal_requests_is_empty():
    request = {"A": 1, "B": {"C": "x"}, "Tags": [{"Key": "k", "Value": "v"}]}

    assert diff_requests(request, request) == []


def test_diff_names_nested_members_by_their_dotted_path():
    before = {"DataInputConfiguration": {"S3InputConfiguration": {"Bucket": "a", "Prefix": "p/"}}}
    after = {"DataInputConfiguration": {"S3InputConfiguration": {"Bucket": "b", "Prefix": "p/"}}}

    assert diff_requests(before, after) == [
        ("DataInputConfiguration.S3InputConfiguration.Bucket", "a", "b")
    ]


def test_diff_shows_members_added_and_removed_as_not_set_on_one_side():
    before = {"A": 1, "Gone": "x"}
    after = {"A": 1, "New": {"Deep": 2}}

    assert diff_requests(before, after) == [("Gone", "x", None), ("New.Deep", None, 2)]


def test_diff_matches_tags_by_key_not_by_position():
    before = {"Tags": [{"Key": "team", "Value": "a"}, {"Key": "site", "Value": "s"}]}
    after = {"Tags": [{"Key": "site", "Value": "s"}, {"Key": "team", "Value": "b"}]}

    assert diff_requests(before, after) == [("Tags[team]", "a", "b")]


def test_diff_compares_other_lists_by_position():
    assert diff_requests({"L": [1, 2]}, {"L": [1, 3, 4]}) == [("L[1]", 2, 3), ("L[2]", None, 4)]


def test_diff_shows_a_value_that_became_a_structure_as_one_row():
    assert diff_requests({"A": "x"}, {"A": {"B": 1}}) == [("A", "x", {"B": 1})]


# --- An event for every transition ------------------------------------------------


def in_flight(submission: Submission) -> Submission:
    claimed = Submission.claim(submission.pk)
    assert claimed is not None
    return claimed


def waiting_to_retry(submission: Submission) -> Submission:
    claimed = in_flight(submission)
    claimed.schedule_retry("ThrottlingException", "Rate exceeded", delay=0)
    return claimed


def take_over(submission: Submission) -> Submission | None:
    lease = datetime.timedelta(seconds=settings.LOOKOUT_ATTEMPT_LEASE_SECONDS + 1)
    with time_machine.travel(timezone.now() + lease):
        return Submission.claim(submission.pk)


def waiting_step(submission: Submission) -> Submission:
    """A later step of a chain: a start that waits for `submission`."""
    return Submission.accept(
        {"InferenceSchedulerName": submission.scheduler_name},
        None,
        operation=Operation.START,
        waits_for=submission,
    )


def after_the_step_before(outcome: Callable[[Submission], None]) -> Callable[[Submission], bool]:
    """Finish the step before a waiting one with `outcome`, then move the waiting one on."""

    def move(step: Submission) -> bool:
        assert step.waits_for is not None
        outcome(in_flight(step.waits_for))
        return Submission.objects.get(pk=step.pk).advance("STOPPED")

    return move


def cancel(submission: Submission) -> Submission:
    return Submission.cancel(submission.pk, None)


# (from, to) → (how to get a submission into `from`, how to move it to `to`)
TRANSITION_CASES = {
    (State.WAITING, State.QUEUED): (
        waiting_step,
        after_the_step_before(lambda s: s.succeed({"Status": "STOPPING"}, how="stopped")),
    ),
    (State.WAITING, State.FAILED): (
        waiting_step,
        after_the_step_before(lambda s: s.fail("AccessDeniedException", "no")),
    ),
    (State.QUEUED, State.IN_FLIGHT): (lambda s: s, lambda s: Submission.claim(s.pk)),
    (State.QUEUED, State.FAILED): (lambda s: s, lambda s: s.fail("NotDelivered", "lost")),
    (State.IN_FLIGHT, State.IN_FLIGHT): (in_flight, take_over),
    (State.IN_FLIGHT, State.RETRY_WAIT): (
        in_flight,
        lambda s: s.schedule_retry("ThrottlingException", "Rate exceeded", 1.0),
    ),
    (State.IN_FLIGHT, State.SUCCEEDED): (
        in_flight,
        lambda s: s.succeed({"InferenceSchedulerArn": "arn:x", "Status": "PENDING"}),
    ),
    (State.IN_FLIGHT, State.FAILED): (in_flight, lambda s: s.fail("AccessDeniedException", "no")),
    (State.RETRY_WAIT, State.IN_FLIGHT): (waiting_to_retry, lambda s: Submission.claim(s.pk)),
    (State.RETRY_WAIT, State.FAILED): (
        waiting_to_retry,
        lambda s: s.fail("ThrottlingException", "gave up"),
    ),
    (State.WAITING, State.CANCELLED): (waiting_step, cancel),
    (State.QUEUED, State.CANCELLED): (lambda s: s, cancel),
    (State.RETRY_WAIT, State.CANCELLED): (waiting_to_retry, cancel),
}


def test_every_transition_of_the_state_machine_has_a_case_here():
    allowed = {(start, end) for start, ends in TRANSITIONS.items() for end in ends}

    assert set(TRANSITION_CASES) == allowed


@pytest.mark.parametrize(
    ("start", "end"), list(TRANSITION_CASES), ids=[f"{a}->{b}" for a, b in TRANSITION_CASES]
)
def test_each_transition_writes_exactly_one_event(db, start, end):
    arrive, move = TRANSITION_CASES[(start, end)]
    submission = arrive(make_submission())
    before = submission.events.count()

    move(submission)

    submission.refresh_from_db()
    assert submission.state == end
    assert submission.events.count() == before + 1
    event = submission.events.order_by("at", "id").last()
    assert (event.from_state, event.to_state) == (start, end)


def test_a_status_change_and_a_redispatch_write_one_event_each(db):
    submission = in_flight(make_submission())
    submission.succeed({"InferenceSchedulerArn": "arn:x", "Status": "PENDING"})

    submission.record_status("RUNNING")
    submission.record_redispatch("test")

    kinds = list(submission.events.values_list("kind", flat=True))
    assert kinds[-2:] == [EventKind.STATUS_CHANGED, EventKind.REDISPATCHED]


# --- Synthetic history for the benchmarks ------------------------------------------


def test_seed_history_inserts_exactly_n_events(db):
    assert seed_history(100) == 100

    assert SubmissionEvent.objects.count() == 100
    assert Submission.objects.count() == SubmissionEvent.objects.filter(kind="submitted").count()


def test_seed_history_command(db, capsys):
    call_command("seed_history", "--events", "100", "--batch-size", "16")

    assert SubmissionEvent.objects.count() == 100
    assert "Inserted 100 events" in capsys.readouterr().out
