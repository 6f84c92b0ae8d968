"""Creating a submission and following it."""

from __future__ import annotations

import json
import pprint
import time
from typing import NamedTuple

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from scheduler_ui.lookout.service import in_model_order
from scheduler_ui.schedulers import account, lifecycle
from scheduler_ui.schedulers.access import can_operate, can_read
from scheduler_ui.schedulers.forms import (
    REQUEST,
    CreateSchedulerForm,
    form_from_request,
    with_another_tag_row,
)
from scheduler_ui.schedulers.models import CannotCancel, Submission
from scheduler_ui.schedulers.submitting import dispatch_on_commit, request_refresh


@can_operate
def new_submission(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and "add_tag" not in request.POST:
        form = CreateSchedulerForm(request.POST)
        if form.is_valid():
            submission = Submission.accept(form.to_request(), request.user)
            dispatch_on_commit(submission)
            messages.success(request, f"Submitted {submission.scheduler_name}; it is queued.")
            return redirect(submission)
    elif request.method == "POST":
        form = CreateSchedulerForm(with_another_tag_row(request.POST))
        form.scheduler.errors.clear()
    elif "from" in request.GET:
        # Clone: the form filled in from an earlier submission's request.
        source = request.GET["from"]
        # An id too long to be one (int() refuses past 4,300 digits) names nothing.
        pk = int(source) if source.isdecimal() and len(source) <= 19 else 0
        original = get_object_or_404(Submission, pk=pk)
        form = form_from_request(original.request)
        messages.info(
            request,
            f"Filled in from submission #{original.pk}; a new client token is made on submit.",
        )
    elif "scheduler" in request.GET:
        # Clone a scheduler on the endpoint: the form filled in from its configuration.
        name = request.GET["scheduler"]
        if not lifecycle.is_scheduler_name(name):
            raise Http404("No inference scheduler can have that name.")
        try:
            form = form_from_request(lifecycle.create_request(name))
        except lifecycle.CannotRead as error:
            if error.not_found:
                raise Http404("There is no inference scheduler of that name.") from error
            messages.error(
                request, f"Could not read {name} from Lookout for Equipment ({error.code})."
            )
            form = CreateSchedulerForm()
        else:
            messages.info(
                request, f"Filled in from the scheduler {name}: give the copy its own name."
            )
    else:
        form = CreateSchedulerForm()
    return render(
        request,
        "schedulers/new.html",
        {
            "form": form,
            "model_names": account.ready_models(),
            "warnings": account_warnings(form) if form.scheduler.is_bound else [],
        },
    )


def account_warnings(form: CreateSchedulerForm) -> list[str]:
    """What the account already holds that the request would run into, for the
    name and model as typed (when each is valid on its own)."""
    data = getattr(form.scheduler, "cleaned_data", {})
    return account.warnings(
        data.get("inference_scheduler_name") or "", data.get("model_name") or ""
    )


class Problem(NamedTuple):
    """One reason the form cannot be sent, and the field to fix (its id), if any."""

    label: str
    field_id: str
    message: str


# Shown in the preview in place of a token: a random one would not be the one sent.
CLIENT_TOKEN_PLACEHOLDER = "<generated on submit>"


@require_POST
@can_operate
def submission_preview(request: HttpRequest) -> HttpResponse:
    """The request the form would send, or what stops it; validated exactly as
    new_submission does, but nothing is recorded."""
    form = CreateSchedulerForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "schedulers/_preview.html",
            {"problems": form_problems(form), "warnings": account_warnings(form)},
        )
    preview = dict(form.to_request())
    if not form.scheduler.cleaned_data["client_token"]:
        preview["ClientToken"] = CLIENT_TOKEN_PLACEHOLDER
    preview = in_model_order(REQUEST, preview)
    return render(
        request,
        "schedulers/_preview.html",
        {
            "request_json": json.dumps(preview, indent=2),
            "boto3_call": boto3_call(preview),
            "warnings": account_warnings(form),
        },
    )


def form_problems(form: CreateSchedulerForm) -> list[Problem]:
    """Every error of the form and its tag rows, named after the field it is on."""
    problems = [Problem("", "", str(m)) for m in form.scheduler.non_field_errors()]
    for name, errors in form.scheduler.errors.items():
        if name != NON_FIELD_ERRORS:
            field = form.scheduler[name]
            problems += [Problem(str(field.label), field.auto_id, str(m)) for m in errors]
    problems += [Problem("Tags", "", str(m)) for m in form.tags.non_form_errors()]
    for number, tag in enumerate(form.tags.forms, start=1):
        for name, errors in tag.errors.items():
            field = tag[name]
            label = f"Tag {number} {str(field.label).lower()}"
            problems += [Problem(label, field.auto_id, str(m)) for m in errors]
    return problems


# After *Refresh now* a settled submission's page follows it this long, so that
# the status a worker reads shows without a reload.
CHECKING_SECONDS = 20


def checking_until(request: HttpRequest) -> int | None:
    """When a page sent by *Refresh now* stops following the submission
    (`?checking=`, in seconds since the epoch), if that is still ahead and no
    further than a refresh sets it."""
    value = request.GET.get("checking", "")
    if not value.isdecimal() or len(value) > 12:
        return None
    until, now = int(value), time.time()
    return until if now < until <= now + CHECKING_SECONDS else None


@can_read
def submission_detail(request: HttpRequest, pk: int) -> HttpResponse:
    submission = get_object_or_404(Submission.objects.select_related("created_by"), pk=pk)
    return render(
        request,
        "schedulers/submission.html",
        {
            "submission": submission,
            "events": submission.events.select_related("actor"),
            "checking": checking_until(request),
        },
    )


@can_read
def submission_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The live part of the submission page, polled by htmx while work is in
    flight, or for a while after *Refresh now*."""
    submission = get_object_or_404(Submission, pk=pk)
    return render(
        request,
        "schedulers/_submission_status.html",
        {
            "submission": submission,
            "events": submission.events.select_related("actor"),
            "checking": checking_until(request),
        },
    )


@require_POST
@can_operate
def refresh_submission(request: HttpRequest, pk: int) -> HttpResponse:
    submission = get_object_or_404(Submission, pk=pk)
    if not request_refresh(submission):
        messages.warning(
            request, "The task queue is unavailable; the status is checked again soon."
        )
        return redirect(submission)
    messages.info(request, "Asked AWS for the scheduler's status.")
    checking = int(time.time()) + CHECKING_SECONDS
    return redirect(f"{submission.get_absolute_url()}?checking={checking}")


@require_POST
@can_operate
def cancel_submission(request: HttpRequest, pk: int) -> HttpResponse:
    submission = get_object_or_404(Submission, pk=pk)
    try:
        Submission.cancel(submission.pk, request.user)
    except CannotCancel as error:
        messages.error(request, f"Submission #{submission.pk} cannot be cancelled now. {error}")
    else:
        messages.success(request, f"Cancelled submission #{submission.pk}; nothing more is sent.")
    return redirect(submission)


def boto3_call(request: dict[str, object]) -> str:
    """The request as Python a person can paste: one keyword argument a line."""
    arguments = []
    for name, value in request.items():
        prefix = f"    {name}="
        text = pprint.pformat(value, width=88 - len(prefix), sort_dicts=False)
        arguments.append(prefix + text.replace("\n", "\n" + " " * len(prefix)) + ",\n")
    return (
        "import boto3\n\n"
        'client = boto3.client("lookoutequipment")\n'
        f"response = client.create_inference_scheduler(\n{''.join(arguments)})\n"
    )
