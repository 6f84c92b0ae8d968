"""/schedulers/bulk/: many schedulers from one uploaded file, every row checked
and shown before anything is sent, then each sent as a submission of its own."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from scheduler_ui.schedulers import bulk
from scheduler_ui.schedulers.access import can_operate
from scheduler_ui.schedulers.models import Submission
from scheduler_ui.schedulers.submitting import dispatch_all_on_commit

# The valid rows of the last upload wait here for "Submit": what is submitted is
# what the server read and checked, never what the browser sends back.
SESSION_KEY = "bulk_upload"


@can_operate
def bulk_upload(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request, bulk.BulkUploadForm())
    form = bulk.BulkUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form)
    valid = [row for row in form.rows if row.valid]
    upload = secrets.token_urlsafe(16)
    if valid:
        request.session[SESSION_KEY] = {
            "upload": upload,
            "rows": [[row.number, row.request] for row in valid],
        }
    else:
        request.session.pop(SESSION_KEY, None)
    return _page(
        request,
        bulk.BulkUploadForm(),
        rows=form.rows,
        valid_count=len(valid),
        upload=upload,
        filename=form.cleaned_data["file"].name,
    )


def _page(request: HttpRequest, form: bulk.BulkUploadForm, **context: object) -> HttpResponse:
    return render(
        request,
        "schedulers/bulk.html",
        {"form": form, "columns": bulk.csv_columns(), "max_rows": bulk.MAX_ROWS, **context},
    )


@require_POST
@can_operate
def bulk_submit(request: HttpRequest) -> HttpResponse:
    """Submit the valid rows of the last upload, each checked again first (a
    client token may have been used since)."""
    waiting = request.session.get(SESSION_KEY)
    if not waiting or waiting.get("upload") != request.POST.get("upload"):
        messages.error(
            request,
            "That upload is not waiting to be submitted any more (it was submitted, or another"
            " file was uploaded since). Upload the file again.",
        )
        return redirect("bulk_upload")
    # Taken out first, so that a second click submits nothing twice.
    del request.session[SESSION_KEY]
    rows = bulk.check([(number, row) for number, row in waiting["rows"]])
    accepted: list[Submission] = []
    refused = [row.number for row in rows if not row.valid]
    # One transaction a row (Submission.accept's own): each row is recorded on
    # its own, and one that fails at the last moment holds back no other.
    for row in rows:
        if not row.valid:
            continue
        try:
            submission = Submission.accept(row.request, request.user)
        except IntegrityError:  # its client token was used a moment ago
            refused.append(row.number)
            continue
        accepted.append(submission)
    dispatch_all_on_commit(accepted)
    submitted = len(accepted)
    if refused:
        messages.warning(
            request,
            f"Not submitted, as they are no longer valid: row{'s' if len(refused) > 1 else ''}"
            f" {', '.join(map(str, sorted(refused)))}.",
        )
    if not submitted:
        messages.error(request, "Nothing was submitted. Fix the file and upload it again.")
        return redirect("bulk_upload")
    messages.success(
        request,
        f"Submitted {submitted} scheduler{'s' if submitted > 1 else ''} from the file; each is"
        " queued and followed like any other submission.",
    )
    return redirect("overview")
