"""The overview and the liveness check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from scheduler_ui.schedulers.access import READ
from scheduler_ui.schedulers.models import State, Submission

RECENT = 50


def overview(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perms(READ):
        # Where everyone lands after logging in: say why there is nothing to see.
        return render(request, "schedulers/no_role.html", status=403)
    recent = Submission.objects.select_related("created_by")[:RECENT]
    found = dict(Submission.objects.order_by().values_list("state").annotate(Count("id")))
    state_counts = [(state, found.get(state.value, 0)) for state in State]
    stuck = Submission.needing_dispatch(timezone.now()).count()
    return render(
        request,
        "schedulers/overview.html",
        {"submissions": recent, "state_counts": state_counts, "stuck": stuck},
    )


@login_not_required
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
