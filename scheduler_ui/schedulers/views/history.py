"""/history/: every event across the team, newest first."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from scheduler_ui.schedulers.models import SubmissionEvent

PAGE_SIZE = 50


def history(request: HttpRequest) -> HttpResponse:
    events = SubmissionEvent.objects.select_related("submission", "actor").order_by("-at", "-id")
    return render(request, "schedulers/history.html", {"events": events[:PAGE_SIZE]})
