"""Creating a submission and following it."""

from __future__ import annotations

import json
import pprint

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from scheduler_ui.schedulers.forms import CreateSchedulerForm
from scheduler_ui.schedulers.models import Submission
from scheduler_ui.schedulers.submitting import dispatch_on_commit
from scheduler_ui.schedulers.tasks import refresh_status


@permission_required("schedulers.add_submission", raise_exception=True)
def new_submission(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and "add_tag" not in request.POST:
        form = CreateSchedulerForm(request.POST)
        if form.is_valid():
            submission = Submission.accept(form.to_request(), request.user)
            dispatch_on_commit(submission)
            messages.success(request, f"Submitted {submission.scheduler_name}; it is queued.")
            return redirect(submission)
    elif request.method == "POST":
        # "Add a tag" without JavaScript: the same form again with one more tag row.
        data = request.POST.copy()
        data["tags-TOTAL_FORMS"] = str(int(data.get("tags-TOTAL_FORMS") or 0) + 1)
        form = CreateSchedulerForm(data)
        form.scheduler.errors.clear()
    else:
        form = CreateSchedulerForm()
    return render(request, "schedulers/new.html", {"form": form})


def submission_detail(request: HttpRequest, pk: int) -> HttpResponse:
    submission = get_object_or_404(Submission.objects.select_related("created_by"), pk=pk)
    return render(
        request,
        "schedulers/submission.html",
        {
            "submission": submission,
            "events": submission.events.select_related("actor"),
            "request_json": json.dumps(submission.request, indent=2),
            "boto3_call": boto3_call(submission.request),
        },
    )


def submission_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The live part of the submission page, polled by htmx while work is in flight."""
    submission = get_object_or_404(Submission, pk=pk)
    return render(
        request,
        "schedulers/_submission_status.html",
        {"submission": submission, "events": submission.events.select_related("actor")},
    )


@require_POST
@permission_required("schedulers.add_submission", raise_exception=True)
def refresh_submission(request: HttpRequest, pk: int) -> HttpResponse:
    submission = get_object_or_404(Submission, pk=pk)
    refresh_status.delay(submission.pk)
    messages.info(request, "Asked AWS for the scheduler's status.")
    return redirect(submission)


def boto3_call(request: dict[str, object]) -> str:
    arguments = pprint.pformat(request, indent=4, width=88, sort_dicts=False)
    return (
        "import boto3\n\n"
        'client = boto3.client("lookoutequipment")\n'
        f"response = client.create_inference_scheduler(**{arguments})\n"
    )
