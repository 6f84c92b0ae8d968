"""/schedulers/bulk/: many schedulers from one JSON or CSV file. Every row is
checked and shown first; then the valid rows are submitted, each as a
submission of its own."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from scheduler_ui.schedulers.bulk import MAX_BYTES, MAX_ROWS
from scheduler_ui.schedulers.models import EventKind, State, Submission
from scheduler_ui.schedulers.views.bulk import SESSION_KEY
from tests.factories import ROLE_ARN, make_submission, request_dict
from tests.services import point_celery_at, schedulers_on, wait_until

UPLOAD = reverse("bulk_upload")
SUBMIT = reverse("bulk_submit")


@pytest.fixture(autouse=True)
def empty_cache():
    """What one test's endpoint answered must not show in another's."""
    cache.clear()


def upload(client, filename: str, content: str | bytes):
    data = content.encode() if isinstance(content, str) else content
    return client.post(UPLOAD, {"file": SimpleUploadedFile(filename, data)})


def upload_json(client, rows):
    return upload(client, "schedulers.json", json.dumps(rows))


def submit(client, response):
    return client.post(SUBMIT, {"upload": response.context["upload"]})


def good(name: str, **overrides):
    """A valid request without a ClientToken, as people would write one."""
    request = request_dict(
        **{"InferenceSchedulerName": name, "ModelName": f"{name}-model", **overrides}
    )
    del request["ClientToken"]
    return request


def checked(response):
    """The table: (row, scheduler name, [(member path, message), ...]) for each row."""
    return [
        (row.number, row.scheduler_name, [(e.path, e.message) for e in row.errors])
        for row in response.context["rows"]
    ]


MIXED = [
    good("pump-1"),
    good(
        "pump-2",
        RoleArn=None,
        DataOutputConfiguration={"S3OutputConfiguration": {"Bucket": "Bad_Bucket"}},
    ),
    good("pump-3"),
    "not a request",
]

CSV_HEADER = (
    "InferenceSchedulerName,ModelName,DataUploadFrequency,DataDelayOffsetInMinutes,"
    "DataInputConfiguration.S3InputConfiguration.Bucket,"
    "DataInputConfiguration.S3InputConfiguration.Prefix,"
    "DataOutputConfiguration.S3OutputConfiguration.Bucket,RoleArn,Tags"
)
CSV_MIXED = "\n".join(
    [
        CSV_HEADER,
        f"pump-1,pump-model,PT10M,5,plant-input,pumps/,plant-output,{ROLE_ARN},team=reliability;site=plant-7",
        f"pump-2,fan-model,PT7M,five,plant-input,,plant-output,{ROLE_ARN},",
        "",
        f"pump-3,turbine-model,PT1H,,,,plant-output,{ROLE_ARN},",
    ]
)


# --- Checking ------------------------------------------------------------------------


def test_a_json_upload_shows_each_row_valid_or_its_errors_by_member(operator_client):
    response = upload_json(operator_client, MIXED)

    assert response.status_code == 200
    assert checked(response) == [
        (1, "pump-1", []),
        (
            2,
            "pump-2",
            [
                ("RoleArn", "This member is required."),
                (
                    "DataOutputConfiguration.S3OutputConfiguration.Bucket",
                    "Must match the pattern ^[a-z0-9][\\.\\-a-z0-9]{1,61}[a-z0-9]$",
                ),
            ],
        ),
        (3, "pump-3", []),
        (4, "", [("", "Must be an object, not a string.")]),
    ]
    assert "<code>RoleArn</code>: This member is required." in response.text
    assert "Submit the 2 valid rows" in response.text


def test_a_csv_upload_reads_members_by_their_paths(operator_client):
    response = upload(operator_client, "schedulers.csv", CSV_MIXED)

    first = dict(response.context["rows"][0].request)
    del first["ClientToken"]
    assert first == {
        "InferenceSchedulerName": "pump-1",
        "ModelName": "pump-model",
        "DataUploadFrequency": "PT10M",
        "DataDelayOffsetInMinutes": 5,
        "DataInputConfiguration": {
            "S3InputConfiguration": {"Bucket": "plant-input", "Prefix": "pumps/"}
        },
        "DataOutputConfiguration": {"S3OutputConfiguration": {"Bucket": "plant-output"}},
        "RoleArn": ROLE_ARN,
        "Tags": [{"Key": "team", "Value": "reliability"}, {"Key": "site", "Value": "plant-7"}],
    }


def test_a_csv_upload_shows_errors_by_member_and_rows_as_the_spreadsheet_numbers_them(
    operator_client,
):
    response = upload(operator_client, "schedulers.csv", CSV_MIXED)

    assert checked(response) == [
        (2, "pump-1", []),
        (
            3,
            "pump-2",
            [
                ("DataUploadFrequency", "Must be one of: PT5M, PT10M, PT15M, PT30M, PT1H."),
                ("DataDelayOffsetInMinutes", "Must be a whole number, not a string."),
            ],
        ),
        (5, "pump-3", []),
    ]


def test_empty_cells_are_members_left_out(operator_client):
    response = upload(operator_client, "schedulers.csv", CSV_MIXED)

    third = response.context["rows"][2].request
    assert "DataDelayOffsetInMinutes" not in third
    assert "Tags" not in third
    assert third["DataInputConfiguration"] == {}


def test_wrong_types_are_errors_at_their_members(operator_client):
    row = good("pump-1", DataDelayOffsetInMinutes="5", Tags={"team": "x"}, RoleArn=7)

    response = upload_json(operator_client, [row])

    assert checked(response) == [
        (
            1,
            "pump-1",
            [
                ("RoleArn", "Must be a string, not a whole number."),
                ("DataDelayOffsetInMinutes", "Must be a whole number, not a string."),
                ("Tags", "Must be a list, not an object."),
            ],
        )
    ]


def test_text_no_submission_can_hold_is_an_error_at_its_member(operator_client):
    # The service model's patterns let both through; PostgreSQL stores neither.
    row = {**good("pump-1", RoleArn=f"{ROLE_ARN}\ud800"), "ClientToken": "token\x00"}

    response = upload_json(operator_client, [row])

    assert checked(response) == [
        (
            1,
            "pump-1",
            [
                ("RoleArn", "Must be Unicode text: it holds half of a surrogate pair."),
                ("ClientToken", "Null characters are not allowed."),
            ],
        )
    ]


def test_each_row_without_a_client_token_gets_one_of_its_own(operator_client):
    rows = [good("pump-1"), {**good("pump-2"), "ClientToken": "my-token-2"}, good("pump-3")]

    response = upload_json(operator_client, rows)

    tokens = [row.request["ClientToken"] for row in response.context["rows"]]
    assert tokens[1] == "my-token-2"
    assert len(set(tokens)) == 3


def test_a_client_token_already_used_is_an_error_of_its_row(operator_client):
    make_submission(ClientToken="used-token")
    rows = [
        {**good("pump-1"), "ClientToken": "used-token"},
        {**good("pump-2"), "ClientToken": "twice"},
        {**good("pump-3"), "ClientToken": "twice"},
    ]

    response = upload_json(operator_client, rows)

    assert checked(response) == [
        (
            1,
            "pump-1",
            [("ClientToken", "This client token was already used by another submission.")],
        ),
        (2, "pump-2", []),
        (3, "pump-3", [("ClientToken", "Row 2 already uses this client token.")]),
    ]


def test_rows_are_warned_about_what_the_account_and_the_file_already_hold(operator_client, lookout):
    lookout.client.create_inference_scheduler(
        **request_dict(InferenceSchedulerName="pump-1", ModelName="fan-model")
    )
    rows = [good("pump-1"), good("pump-2", ModelName="pump-1-model"), good("pump-2")]

    response = upload_json(operator_client, rows)

    assert [row.warnings for row in response.context["rows"]] == [
        ["A scheduler named pump-1 already exists (status RUNNING)."],
        ["Row 1 is for the same model."],
        ["Row 2 has the same scheduler name."],
    ]
    assert [row.valid for row in response.context["rows"]] == [True, True, True]


def test_what_the_file_holds_is_shown_as_text(operator_client):
    hostile = "<script>alert(1)</script>"
    rows = [good(hostile), {hostile: 1, **good("pump-2")}]

    response = upload_json(operator_client, rows)

    assert hostile not in response.text
    assert escape(hostile) in response.text


def test_nothing_is_submitted_before_confirming(operator_client):
    upload_json(operator_client, MIXED)

    assert not Submission.objects.exists()


# --- Submitting ----------------------------------------------------------------------


def test_submitting_creates_exactly_the_valid_rows_each_with_its_event(
    operator_client, operator, django_capture_on_commit_callbacks
):
    response = upload_json(operator_client, MIXED)

    with django_capture_on_commit_callbacks() as dispatched:
        submitted = submit(operator_client, response)

    assert submitted.status_code == 302
    assert submitted.url == reverse("overview")
    submissions = Submission.objects.order_by("pk")
    assert [s.scheduler_name for s in submissions] == ["pump-1", "pump-3"]
    rows = response.context["rows"]
    assert [s.request for s in submissions] == [rows[0].request, rows[2].request]
    for submission in submissions:
        [event] = submission.events.all()
        assert (event.kind, event.to_state, event.actor) == (
            EventKind.SUBMITTED,
            State.QUEUED,
            operator,
        )
    assert len(dispatched) == 1  # one hand-over of both, once committed


def test_submitting_says_how_many_were_submitted(operator_client):
    response = upload_json(operator_client, MIXED)

    page = operator_client.post(SUBMIT, {"upload": response.context["upload"]}, follow=True)

    assert "Submitted 2 schedulers from the file" in page.text


def test_a_csv_upload_submits_its_valid_rows(operator_client):
    response = upload(operator_client, "schedulers.csv", CSV_MIXED)

    submit(operator_client, response)

    stored = {s.scheduler_name: s.request for s in Submission.objects.all()}
    assert set(stored) == {"pump-1", "pump-3"}
    assert stored["pump-1"]["DataDelayOffsetInMinutes"] == 5


def test_every_row_is_checked_again_when_submitted(operator_client):
    rows = [{**good("pump-1"), "ClientToken": "t-1"}, {**good("pump-2"), "ClientToken": "t-2"}]
    response = upload_json(operator_client, rows)
    taken = make_submission(ClientToken="t-2", InferenceSchedulerName="meanwhile")

    page = operator_client.post(SUBMIT, {"upload": response.context["upload"]}, follow=True)

    assert list(
        Submission.objects.exclude(pk=taken.pk).values_list("scheduler_name", flat=True)
    ) == ["pump-1"]
    assert "Not submitted, as they are no longer valid: row 2." in page.text


def test_what_is_submitted_is_what_the_server_read_not_what_the_browser_sends(operator_client):
    response = upload_json(operator_client, [good("pump-1")])

    operator_client.post(
        SUBMIT,
        {"upload": response.context["upload"], "rows": json.dumps([good("forged")])},
    )

    assert list(Submission.objects.values_list("scheduler_name", flat=True)) == ["pump-1"]


def test_an_upload_replaced_by_a_newer_one_is_not_submitted(operator_client):
    first = upload_json(operator_client, [good("pump-1")])
    upload_json(operator_client, [good("pump-2")])

    page = operator_client.post(SUBMIT, {"upload": first.context["upload"]}, follow=True)

    assert not Submission.objects.exists()
    assert "Upload the file again" in page.text


def test_submitting_twice_submits_once(operator_client):
    response = upload_json(operator_client, [good("pump-1")])

    submit(operator_client, response)
    submit(operator_client, response)

    assert Submission.objects.count() == 1


def test_it_refuses_to_submit_when_no_row_is_valid(operator_client):
    response = upload_json(operator_client, [good("pump-1", RoleArn="no")])

    forced = operator_client.post(SUBMIT, {"upload": response.context["upload"]}, follow=True)

    assert response.context["valid_count"] == 0
    assert 'data-testid="bulk-nothing-valid"' in response.text
    assert 'data-testid="bulk-submit"' not in response.text
    assert SESSION_KEY not in operator_client.session
    assert not Submission.objects.exists()
    assert forced.redirect_chain[-1][0] == UPLOAD


# --- Hostile files -------------------------------------------------------------------

TOO_MANY = json.dumps([good(f"pump-{n}") for n in range(MAX_ROWS + 1)])


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("s.csv", b"InferenceSchedulerName\n\xff\xfe\x00pump", "The file is not UTF-8 text"),
        ("s.json", b"[" + b" " * MAX_BYTES + b"]", "The file is larger than 1024 KiB"),
        ("s.json", TOO_MANY, f"The file holds {MAX_ROWS + 1} schedulers; at most {MAX_ROWS}"),
        ("s.json", json.dumps(good("pump-1")), "The file must hold a JSON list"),
        ("s.json", '[{"ModelName": ', "The file is not valid JSON"),
        ("s.json", "[NaN]", "The file is not valid JSON"),
        ("s.json", "[" * 100_000, "The file is not valid JSON"),
        ("s.json", "[" + "9" * 5000 + "]", "The file is not valid JSON"),
        ("s.json", "[]", "The file holds no schedulers."),
        ("s.csv", CSV_HEADER + "\n", "The file holds no schedulers."),
        ("s.csv", "ModelName,Colour,Size\npump-model,red,3", "Unknown columns Colour, Size."),
        ("s.csv", "ModelName,ModelName\na,b", "Repeated column: ModelName."),
        ("s.csv", "ModelName,\npump-model,x", "Column 2 has no name but holds values."),
        ("s.csv", "ModelName\npump-model,x", "Row 2 has more cells than the header"),
        ("s.csv", 'ModelName\n"' + "x" * 200_000, "The file is not valid CSV"),
        ("s.txt", "[]", "Upload a .json or a .csv file."),
        ("s.json", b"", "The submitted file is empty."),
    ],
    ids=[
        "not-utf8",
        "too-big",
        "too-many-rows",
        "not-a-list",
        "broken-json",
        "nan",
        "deep-nesting",
        "huge-number",
        "empty-list",
        "header-only",
        "unknown-columns",
        "repeated-column",
        "unnamed-column",
        "extra-cells",
        "huge-cell",
        "other-extension",
        "empty-file",
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_the_reason(
    operator_client, filename, content, message
):
    response = upload(operator_client, filename, content)

    assert response.status_code == 200
    assert message in response.context["form"].errors["file"][0]
    assert "rows" not in response.context
    assert SESSION_KEY not in operator_client.session


def test_a_deeply_nested_row_is_an_error_of_its_row(operator_client):
    # Deep, yet readable however deep the stack the parser starts from (a test
    # runner's, a web thread's) before Python's recursion limit of 1,000.
    nested = '{"Surprise": ' * 500 + "1" + "}" * 500

    response = upload(operator_client, "s.json", f"[{nested}]")

    [(_, _, errors)] = checked(response)
    assert ("Surprise", "Unknown member.") in errors


def test_a_spreadsheets_byte_order_mark_and_empty_columns_are_fine(operator_client):
    content = "\ufeff" + CSV_HEADER + ",,\n" + CSV_MIXED.split("\n")[1] + ",,\n"

    response = upload(operator_client, "s.csv", content)

    assert checked(response) == [(2, "pump-1", [])]


def test_the_limits_are_said_on_the_page(operator_client):
    response = operator_client.get(UPLOAD)

    assert f"Up to {MAX_ROWS} schedulers and 1024 KiB." in response.text
    assert "<code>DataInputConfiguration.S3InputConfiguration.Bucket</code>" in response.text


# --- Who may, and where it is found --------------------------------------------------


def test_a_viewer_may_neither_upload_nor_submit(viewer_client):
    assert viewer_client.get(UPLOAD).status_code == 403
    assert upload_json(viewer_client, [good("pump-1")]).status_code == 403
    assert viewer_client.post(SUBMIT, {"upload": "x"}).status_code == 403
    assert not Submission.objects.exists()


def test_submitting_takes_only_posts(operator_client):
    assert operator_client.get(SUBMIT).status_code == 405


@pytest.mark.parametrize("page", ["overview", "submission_new"])
def test_the_overview_and_the_form_link_to_bulk_create(operator_client, page):
    response = operator_client.get(reverse(page))

    assert f'href="{UPLOAD}"' in response.text


def test_a_viewer_is_not_offered_bulk_create(viewer_client):
    assert f'href="{UPLOAD}"' not in viewer_client.get(reverse("overview")).text


# --- End to end ----------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_valid_rows_become_schedulers_through_a_real_worker(
    operator_client, configure_lookout, start_worker, redis_url, monkeypatch
):
    endpoint = configure_lookout()
    point_celery_at(redis_url, monkeypatch)
    start_worker(redis_url, endpoint.url, beat=False)
    rows = [
        good("pump-1", ModelName="pump-model"),
        good("fan-1", ModelName="fan-model", RoleArn="not-a-role"),
        good("turbine-1", ModelName="turbine-model"),
    ]

    submit(operator_client, upload_json(operator_client, rows))

    wait_until(
        lambda: Submission.objects.filter(state=State.SUCCEEDED).count() == 2,
        timeout=60,
        what="the worker to create both valid rows' schedulers",
    )
    assert set(schedulers_on(endpoint)) == {"pump-1", "turbine-1"}
    for submission in Submission.objects.all():
        assert [e.kind for e in submission.events.all()][:3] == [
            EventKind.SUBMITTED,
            EventKind.ATTEMPT,
            EventKind.SUCCEEDED,
        ]


def test_with_the_broker_down_every_row_waits_for_the_sweeper(
    operator_client, monkeypatch, django_capture_on_commit_callbacks
):
    point_celery_at("redis://127.0.0.1:1/0", monkeypatch)
    rows = [request_dict(InferenceSchedulerName=f"pump-{i}") for i in range(5)]
    response = upload_json(operator_client, rows)

    with django_capture_on_commit_callbacks(execute=True):
        submit(operator_client, response)

    assert Submission.objects.count() == 5
    assert not Submission.objects.filter(dispatched_at__isnull=False).exists()
