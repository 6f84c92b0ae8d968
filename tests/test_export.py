"""python manage.py export_schedulers: every scheduler's configuration as
DescribeInferenceScheduler returns it, and the whole history, as one JSON
document. Against a local endpoint over HTTP."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command

from scheduler_ui.schedulers.models import EventKind, State, Submission
from scheduler_ui.schedulers.submitting import submit_to_lookout
from tests.factories import make_submission, request_dict


def run(*args: str) -> tuple[str, str]:
    """What the command wrote to standard output and to standard error."""
    out, err = io.StringIO(), io.StringIO()
    call_command("export_schedulers", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def export() -> tuple[dict[str, Any], str]:
    """The document written to standard output, and what went to standard error."""
    out, err = run()
    return json.loads(out), err


@pytest.fixture
def history(lookout, operator):
    """Two schedulers made through the console, one made outside it, and one
    submission the endpoint refused."""
    made = []
    for name, model in [("pump-line", "pump-model"), ("fan-line", "fan-model")]:
        submission = make_submission(operator, InferenceSchedulerName=name, ModelName=model)
        submit_to_lookout(submission.pk)
        made.append(submission)
    lookout.client.create_inference_scheduler(
        **request_dict(InferenceSchedulerName="by-hand", ModelName="turbine-model")
    )
    refused = make_submission(operator, InferenceSchedulerName="taken", ModelName="pump-model")
    submit_to_lookout(refused.pk)
    return [Submission.objects.get(pk=s.pk) for s in (*made, refused)]


def test_it_exports_every_scheduler_as_described(lookout, history):
    document, _ = export()

    by_name = {s["InferenceSchedulerName"]: s for s in document["schedulers"]}
    assert set(by_name) == {"pump-line", "fan-line", "by-hand"}
    described = lookout.client.describe_inference_scheduler(InferenceSchedulerName="pump-line")
    assert by_name["pump-line"]["InferenceSchedulerArn"] == described["InferenceSchedulerArn"]
    assert by_name["pump-line"]["DataOutputConfiguration"] == described["DataOutputConfiguration"]
    assert by_name["pump-line"]["CreatedAt"] == described["CreatedAt"].isoformat()
    assert "ResponseMetadata" not in by_name["pump-line"]
    assert document["schedulers_complete"] is True
    assert document["endpoint_errors"] == []
    assert document["endpoint"] == lookout.endpoint.url


def test_it_exports_every_submission_with_its_request_outcome_and_events(history, operator):
    document, _ = export()

    exported = document["submissions"]
    assert [s["id"] for s in exported] == sorted(s.pk for s in history)
    pump, _, refused = exported
    assert pump["request"] == history[0].request
    assert (pump["state"], pump["scheduler_arn"]) == (State.SUCCEEDED, history[0].scheduler_arn)
    assert pump["created_by"] == operator.username
    assert (refused["state"], refused["error_code"]) == (State.FAILED, "ConflictException")
    assert [e["kind"] for e in pump["events"]] == [
        EventKind.SUBMITTED,
        EventKind.ATTEMPT,
        EventKind.SUCCEEDED,
    ]
    assert pump["events"][0]["actor"] == operator.username
    assert pump["events"][1]["actor"] is None  # the worker


def test_each_submission_keeps_its_own_events_however_they_interleave(lookout):
    first, second = (
        make_submission(InferenceSchedulerName="a"),
        make_submission(InferenceSchedulerName="b", ModelName="fan-model"),
    )
    for submission in (second, first):
        submit_to_lookout(submission.pk)
    first.refresh_from_db()
    first.record_status("STOPPED")

    document, _ = export()

    exported = {
        s["scheduler_name"]: [e["kind"] for e in s["events"]] for s in document["submissions"]
    }
    assert exported == {
        "a": [
            EventKind.SUBMITTED,
            EventKind.ATTEMPT,
            EventKind.SUCCEEDED,
            EventKind.STATUS_CHANGED,
        ],
        "b": [EventKind.SUBMITTED, EventKind.ATTEMPT, EventKind.SUCCEEDED],
    }
    assert sum(len(s["events"]) for s in document["submissions"]) == 7


def test_it_writes_to_the_file_given_and_says_what_it_wrote(history, tmp_path):
    path = tmp_path / "export.json"

    out, said = run("--output", str(path))

    document = json.loads(path.read_text(encoding="utf-8"))
    assert out == ""
    assert len(document["schedulers"]) == 3
    assert len(document["submissions"]) == 3
    assert f"Exported 3 schedulers and 3 submissions with 9 events to {path}." in said


def test_when_the_endpoint_cannot_be_reached_it_still_exports_the_history_and_says_so(
    history, settings
):
    # Nothing listens there. A URL no other test uses: the product keeps one client
    # per endpoint, holding the credentials it found when it was made.
    settings.LOOKOUT_ENDPOINT_URL = "http://127.0.0.1:9/export"

    document, said = export()

    assert document["schedulers"] == []
    assert document["schedulers_complete"] is False
    [error] = document["endpoint_errors"]
    assert error.startswith("ListInferenceSchedulers: EndpointConnectionError")
    assert len(document["submissions"]) == 3
    assert f"Not exported: {error}" in said
    assert "the history is exported in full" in said


def test_an_empty_console_exports_an_empty_document(lookout):
    document, _ = export()

    assert (document["schedulers"], document["submissions"]) == ([], [])
