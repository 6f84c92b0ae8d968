"""/schedulers/: every inference scheduler on the endpoint (and Start, Stop or
Delete for the rows ticked), one scheduler's page, and the lifecycle actions
(start, stop, edit, delete), each accepted by `lifecycle` against the
scheduler's live status."""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from scheduler_ui import lookout
from scheduler_ui.lookout.schedule import input_file_name, next_runs
from scheduler_ui.lookout.service import member_shape_name
from scheduler_ui.schedulers import lifecycle
from scheduler_ui.schedulers.access import can_operate, can_read
from scheduler_ui.schedulers.forms import (
    UPDATABLE_MEMBERS,
    ManageTagsForm,
    MemberValidator,
    UpdateSchedulerForm,
    with_another_tag_row,
)
from scheduler_ui.schedulers.lifecycle import CannotRead, Refused
from scheduler_ui.schedulers.models import (
    SETTLED_STATUSES,
    Operation,
    Submission,
    SubmissionEvent,
)
from scheduler_ui.schedulers.submitting import as_create_request

# The listing is asked again after this long: pages stay fresh without a
# ListInferenceSchedulers per page view.
LIST_CACHE_SECONDS = 5
RECENT_EXECUTIONS = 10
RECENT_SUBMISSIONS = 20
RECENT_EVENTS = 15
NEXT_RUNS = 5
# The API does not name a model's components: the example shows where one goes.
EXAMPLE_COMPONENT = "<component>"


# --- The list ---------------------------------------------------------------------

NAME_PREFIX_SHAPE = member_shape_name(
    "ListInferenceSchedulersRequest", "InferenceSchedulerNameBeginsWith"
)
# Rows a page of the list shows, as the history does.
LIST_PAGE_SIZE = 50
# What the list does to the rows ticked, by verb (Edit stays one at a time).
SELECTED_ACTIONS = {
    lifecycle.VERBS[operation]: operation
    for operation in (Operation.START, Operation.STOP, Operation.DELETE)
}


class SchedulerFilterForm(forms.Form):
    """The filters of /schedulers/: the ListInferenceSchedulers request's own."""

    name = forms.CharField(
        label="Name begins with",
        required=False,
        max_length=lookout.shape(NAME_PREFIX_SHAPE)["max"],
        validators=[MemberValidator(NAME_PREFIX_SHAPE)],
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "type": "search"}),
    )
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[
            ("", "Any status"),
            *[(s, s) for s in lookout.enum_values("InferenceSchedulerStatus")],
        ],
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    model = forms.CharField(
        label="Model",
        required=False,
        max_length=lookout.shape("ModelName")["max"],
        validators=[MemberValidator("ModelName")],
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
    )

    def list_params(self) -> dict[str, str]:
        """The ListInferenceSchedulers filters the form asks for."""
        chosen = {
            "InferenceSchedulerNameBeginsWith": self.cleaned_data["name"],
            "Status": self.cleaned_data["status"],
            "ModelName": self.cleaned_data["model"],
        }
        return {member: value for member, value in chosen.items() if value}


class SchedulerNames(forms.MultipleChoiceField):
    """Names ticked on the list: any a scheduler could have (the listing says
    which exist)."""

    def valid_value(self, value: Any) -> bool:
        return lifecycle.is_scheduler_name(str(value))


class SelectedSchedulersForm(forms.Form):
    """The list's Start, Stop and Delete for the rows ticked, at most a page of
    them. A delete is sent once `confirmed`, from its confirmation page."""

    action = forms.ChoiceField(choices=[(verb, verb.capitalize()) for verb in SELECTED_ACTIONS])
    names = SchedulerNames(
        error_messages={"required": "Select the schedulers to start, stop or delete first."}
    )
    confirmed = forms.BooleanField(required=False)

    def clean_names(self) -> list[str]:
        names: list[str] = self.cleaned_data["names"]
        if len(names) > LIST_PAGE_SIZE:
            raise forms.ValidationError(f"Select at most {LIST_PAGE_SIZE} schedulers at a time.")
        return names

    @property
    def operation(self) -> str:
        return SELECTED_ACTIONS[self.cleaned_data["action"]]


@dataclass(frozen=True)
class Row:
    """One scheduler on the endpoint, with the console's record of it, if any."""

    summary: dict[str, Any]
    record: Submission | None
    busy: Submission | None  # a request still under way
    # A request for it finished after the listing was read, which may not show it.
    newer_than_listing: bool = False

    @property
    def status(self) -> str:
        return str(self.summary.get("Status", ""))

    @property
    def actions(self) -> frozenset[str]:
        return frozenset() if self.busy else lifecycle.offered(self.status)

    @property
    def imported(self) -> bool:
        return self.record is None or self.record.operation == Operation.IMPORTED

    @property
    def changing(self) -> bool:
        """Whether the row is about to change: a request under way or just done,
        or a status on its way to another (PENDING, STOPPING)."""
        return (
            self.busy is not None or self.newer_than_listing or self.status not in SETTLED_STATUSES
        )


def listing(params: dict[str, str]) -> tuple[list[dict[str, Any]], datetime.datetime]:
    """Every scheduler ListInferenceSchedulers returns for these filters (all its
    pages), kept a few seconds, and when it was asked for."""
    where = [settings.LOOKOUT_ENDPOINT_URL, settings.AWS_REGION, sorted(params.items())]
    key = "schedulers:" + hashlib.sha256(json.dumps(where).encode()).hexdigest()
    found: tuple[list[dict[str, Any]], datetime.datetime] | None = cache.get(key)
    if found is None:
        asked_at = timezone.now()
        found = (lifecycle.list_schedulers(**params), asked_at)
        cache.set(key, found, LIST_CACHE_SECONDS)
    return found


@require_http_methods(["GET", "HEAD", "POST"])
@can_read
def scheduler_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return act_on_selected(request)
    filters = SchedulerFilterForm(request.GET)
    summaries: list[dict[str, Any]] = []
    listed_at = timezone.now()
    error = None
    if filters.is_valid():
        try:
            summaries, listed_at = listing(filters.list_params())
        except CannotRead as cannot:
            if request.headers.get("HX-Request"):
                return out_of_touch(request, cannot)
            error = cannot
    # By name, so that a page holds the same schedulers from one visit to the next.
    summaries = sorted(summaries, key=lambda summary: summary["InferenceSchedulerName"])
    # A page number out of range or no number at all shows the nearest page.
    page = Paginator(summaries, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    names = [summary["InferenceSchedulerName"] for summary in page]
    records, busy = Submission.records(names), lifecycle.under_way(names)
    done_since = lifecycle.finished_since(names, listed_at)
    rows = [
        Row(summary, records.get(name), busy.get(name), name in done_since)
        for summary, name in zip(page, names, strict=True)
    ]
    other_filters = request.GET.copy()
    other_filters.pop("page", None)
    return render(
        request,
        "schedulers/scheduler_list.html",
        {
            "filters": filters,
            "filtered": bool(other_filters),
            "page": page,
            "rows": rows,
            # The rows follow themselves while any of them is changing, as the
            # overview does while work is in progress.
            "following": any(row.changing for row in rows),
            "other_filters": other_filters.urlencode(),
            "error": error,
        },
    )


def out_of_touch(request: HttpRequest, error: CannotRead) -> HttpResponse:
    """The answer to a page following itself (htmx) when Lookout for Equipment
    did not answer: an error, which htmx does not swap in, so the page stays as
    it was and the next turn tries again; console.js shows the notice meanwhile."""
    return render(request, "notices/out_of_touch.html", {"error": error}, status=503)


@can_operate
def act_on_selected(request: HttpRequest) -> HttpResponse:
    """Start, stop or delete the rows ticked, as the Django admin's actions do:
    each is checked on its own, a delete after a confirmation page, and the same
    page of the list says what was done."""
    form = SelectedSchedulersForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(request.get_full_path())
    verb = form.cleaned_data["action"]
    if form.operation == Operation.DELETE and not form.cleaned_data["confirmed"]:
        return confirm_delete_selected(request, form.cleaned_data["names"])
    try:
        accepted, refused = lifecycle.accept_each(
            form.operation, form.cleaned_data["names"], request.user
        )
    except Refused as error:
        messages.error(request, str(error))
        return redirect(request.get_full_path())
    names = ", ".join(submission.scheduler_name for submission in accepted)
    if len(accepted) == 1:
        messages.success(request, f"Asked to {verb} {names}; the request is queued.")
    elif accepted:
        messages.success(
            request,
            f"Asked to {verb} {len(accepted)} schedulers ({names}); the requests are queued.",
        )
    for reason in refused:
        messages.error(request, reason)
    return redirect(request.get_full_path())


def confirm_delete_selected(request: HttpRequest, names: list[str]) -> HttpResponse:
    """The page that asks before the selected schedulers are deleted, as the
    Django admin's "Delete selected" does: those that may be deleted now, and
    why the others may not. Only the former are sent on."""
    try:
        allowed, refused = lifecycle.check_each(Operation.DELETE, names)
    except Refused as error:
        messages.error(request, str(error))
        return redirect(request.get_full_path())
    if not allowed:
        for reason in refused:
            messages.error(request, reason)
        return redirect(request.get_full_path())
    return render(
        request,
        "schedulers/scheduler_delete_selected.html",
        {"allowed": allowed, "refused": refused, "back": request.get_full_path()},
    )


# --- One scheduler ------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One member of the configuration, as a dotted path, and the action that
    may change it ("Edit", "Manage tags"), if any."""

    path: str
    value: str
    changed_with: str


def configuration_members(configuration: dict[str, Any]) -> list[Member]:
    """The configuration (a create request) as one row per leaf member."""
    rows: list[Member] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else key)
        else:
            if isinstance(node, list):  # the tags
                node = ", ".join(f"{tag['Key']}={tag['Value']}" for tag in node)
            rows.append(Member(path, str(node), changed_with(path.split(".")[0])))

    walk(configuration, "")
    return rows


def changed_with(member: str) -> str:
    """The action that may change a top-level member of the configuration, or ""."""
    if member in UPDATABLE_MEMBERS:
        return "Edit"
    return "Manage tags" if member == "Tags" else ""


@dataclass(frozen=True)
class Run:
    """A time the scheduler will wake, and an input file it will look for then."""

    at: datetime.datetime
    data_end: datetime.datetime
    example_file: str


def upcoming_runs(described: dict[str, Any], now: datetime.datetime) -> list[Run]:
    """The next times the frequency and offset imply; each run reads the upload
    interval that ended DataDelayOffsetInMinutes before it."""
    delay = int(described.get("DataDelayOffsetInMinutes") or 0)
    try:
        runs = next_runs(str(described.get("DataUploadFrequency")), delay, now, count=NEXT_RUNS)
    except ValueError:  # a frequency this console does not know
        return []
    result = []
    for at in runs:
        data_end = at - datetime.timedelta(minutes=delay)
        result.append(Run(at, data_end, input_file_name(EXAMPLE_COMPONENT, described, data_end)))
    return result


def _checked(name: str) -> str:
    if not lifecycle.is_scheduler_name(name):
        raise Http404("No inference scheduler can have that name.")
    return name


@require_safe
@can_read
def scheduler_detail(request: HttpRequest, name: str) -> HttpResponse:
    _checked(name)
    submissions = Submission.objects.filter(scheduler_name=name).select_related(
        "created_by", "waits_for"
    )[:RECENT_SUBMISSIONS]
    events = (
        SubmissionEvent.objects.filter(submission__scheduler_name=name)
        .select_related("actor")
        .order_by("-at", "-id")[:RECENT_EVENTS]
    )
    context: dict[str, Any] = {"name": name, "submissions": submissions, "events": events}
    try:
        described = lifecycle.describe(name)
    except CannotRead as error:
        follow_up = bool(request.headers.get("HX-Request"))
        if follow_up and not error.not_found:
            return out_of_touch(request, error)
        context["error"] = error
        response = render(
            request,
            "schedulers/scheduler_detail.html",
            context,
            status=404 if error.not_found else 200,
        )
        if follow_up:
            # Deleted while the page followed it: the whole page says so.
            response["HX-Refresh"] = "true"
        return response
    context.update(described=described, status=str(described["Status"]))
    context["busy"] = lifecycle.under_way([name]).get(name)
    context["actions"] = frozenset() if context["busy"] else lifecycle.offered(context["status"])
    # The status and the actions follow themselves while they are changing, as
    # the list's rows do.
    context["following"] = context["busy"] is not None or context["status"] not in SETTLED_STATUSES
    context["described_json"] = json.dumps(described, indent=2, default=str)
    tags: list[Any] = []
    try:
        arn = described["InferenceSchedulerArn"]
        tags = lifecycle.read("ListTagsForResource", ResourceArn=arn).get("Tags", [])
    except CannotRead as error:
        context["tags_error"] = error
    context["configuration"] = as_create_request(described, tags)
    context["members"] = configuration_members(context["configuration"])
    try:
        executions = lifecycle.read(
            "ListInferenceExecutions", InferenceSchedulerName=name, MaxResults=RECENT_EXECUTIONS
        )
        context["executions"] = executions.get("InferenceExecutionSummaries", [])
    except CannotRead as error:
        context["executions_error"] = error
    context["runs"] = upcoming_runs(described, timezone.now())
    return render(request, "schedulers/scheduler_detail.html", context)


# --- Actions --------------------------------------------------------------------------

ACCEPTED: dict[str, str] = {
    Operation.START: "Asked to start {name}; the request is queued.",
    Operation.STOP: "Asked to stop {name}; the request is queued.",
    Operation.UPDATE: "Asked to update {name}; the request is queued.",
    Operation.DELETE: "Asked to delete {name}; the request is queued.",
}


def _act(
    request: HttpRequest,
    name: str,
    operation: str,
    payload: dict[str, Any] | None = None,
    restart: bool = False,
) -> HttpResponse:
    """Accept an action (lifecycle checks the live status) and land on its
    submission, or go back to the scheduler's page saying why not."""
    try:
        submission = lifecycle.accept(operation, name, request.user, payload, restart=restart)
    except Refused as refused:
        messages.error(request, str(refused))
        return redirect("scheduler_detail", name)
    if submission.waits_for_id is not None:
        messages.success(
            request,
            f"{name} will be stopped, updated and started again: three steps, each sent "
            "when the one before has finished.",
        )
    else:
        messages.success(request, ACCEPTED[operation].format(name=name))
    return redirect(submission)


@require_POST
@can_operate
def scheduler_start(request: HttpRequest, name: str) -> HttpResponse:
    return _act(request, _checked(name), Operation.START)


@require_POST
@can_operate
def scheduler_stop(request: HttpRequest, name: str) -> HttpResponse:
    return _act(request, _checked(name), Operation.STOP)


def _live_or_back(request: HttpRequest, name: str, operation: str) -> dict[str, Any] | None:
    """The scheduler now, if its status allows the action; otherwise None, with
    a message saying why."""
    try:
        described = lifecycle.describe(name)
    except CannotRead as error:
        messages.error(request, f"Could not read {name} from Lookout for Equipment ({error.code}).")
        return None
    status = str(described["Status"])
    if lifecycle.VERBS[operation] not in lifecycle.offered(status):
        messages.error(request, lifecycle.refusal(operation, name, status))
        return None
    return described


@can_operate
def scheduler_edit(request: HttpRequest, name: str) -> HttpResponse:
    _checked(name)
    described = _live_or_back(request, name, Operation.UPDATE)
    if described is None:
        return redirect("scheduler_detail", name)
    form = UpdateSchedulerForm(described, request.POST if request.method == "POST" else None)
    if form.is_valid():
        restart = bool(form.cleaned_data.get("confirm_restart"))
        return _act(request, name, Operation.UPDATE, form.request, restart=restart)
    members = configuration_members(as_create_request(described, []))
    fixed = [member for member in members if member.changed_with != "Edit"]
    return render(
        request,
        "schedulers/scheduler_edit.html",
        {"name": name, "form": form, "described": described, "fixed": fixed},
    )


@can_operate
def scheduler_delete(request: HttpRequest, name: str) -> HttpResponse:
    _checked(name)
    if request.method == "POST":
        return _act(request, name, Operation.DELETE)
    described = _live_or_back(request, name, Operation.DELETE)
    if described is None:
        return redirect("scheduler_detail", name)
    return render(
        request, "schedulers/scheduler_delete.html", {"name": name, "described": described}
    )


@can_operate
def scheduler_tags(request: HttpRequest, name: str) -> HttpResponse:
    """Manage tags, as in the AWS console: the scheduler's tags as rows to edit;
    saving sends what changed (lifecycle.accept_tags reads them again then)."""
    _checked(name)
    refused = ""
    if request.method != "POST":
        try:
            current = lifecycle.current_tags(lifecycle.describe(name)["InferenceSchedulerArn"])
        except CannotRead as error:
            messages.error(
                request, f"Could not read {name} from Lookout for Equipment ({error.code})."
            )
            return redirect("scheduler_detail", name)
        form = ManageTagsForm(current=current)
    elif "add_tag" in request.POST:
        form = ManageTagsForm(with_another_tag_row(request.POST))
    else:
        form = ManageTagsForm(request.POST)
        if form.is_valid():
            try:
                submission = lifecycle.accept_tags(name, request.user, form.wanted())
            except Refused as error:
                refused = str(error)
            else:
                messages.success(request, f"Asked to change the tags of {name}; it is queued.")
                return redirect(submission)
    return render(
        request,
        "schedulers/scheduler_tags.html",
        {"name": name, "form": form, "refused": refused},
    )
