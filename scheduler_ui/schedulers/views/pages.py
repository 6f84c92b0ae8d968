"""The overview and the liveness check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from scheduler_ui.schedulers.access import READ
from scheduler_ui.schedulers.models import TERMINAL_STATES, PeriodicRun, State, Submission

RECENT = 50
# The overview's last count, and what `?state=stuck` lists: accepted work that
# no worker holds and the sweeper is due to send again.
STUCK = "stuck"


def overview(request: HttpRequest) -> HttpResponse:
    """Every state's count, each a link to the overview narrowed to that state
    (`?state=failed`, or `?state=stuck` for the sweeper's), and the most recent
    submissions of what is shown."""
    if not request.user.has_perms(READ):
        if request.headers.get("HX-Request"):  # the overview following itself
            raise PermissionDenied
        # Where everyone lands after logging in: say why there is nothing to see.
        return render(request, "schedulers/no_role.html", status=403)
    now = timezone.now()
    found = dict(Submission.objects.order_by().values_list("state").annotate(Count("id")))
    stuck = Submission.needing_dispatch(now).count()
    shown = request.GET.get("state", "")
    if not shown:
        submissions, shown_label, total = Submission.objects.all(), "", sum(found.values())
    elif shown == STUCK:
        submissions, shown_label, total = (
            Submission.needing_dispatch(now),
            "Waiting for the sweeper",
            stuck,
        )
    elif shown in State.values:
        submissions, shown_label, total = (
            Submission.objects.filter(state=shown),
            State(shown).label,
            found.get(shown, 0),
        )
    else:
        raise Http404("No submission can be in that state.")
    periodic = PeriodicRun.schedule(now)
    in_progress = any(n for state, n in found.items() if state not in TERMINAL_STATES)
    return render(
        request,
        "schedulers/overview.html",
        {
            "state_counts": [(state, found.get(state.value, 0)) for state in State],
            "stuck": stuck,
            "stuck_value": STUCK,
            "shown": shown,
            "shown_label": shown_label,
            "submissions": submissions.select_related("created_by")[:RECENT],
            "total": total,
            "in_progress": in_progress,
            # Work waits, and no periodic task has finished on time: beat or
            # every worker is down (or no worker reads their queues).
            "stalled": in_progress and all(p.overdue for p in periodic),
            "last_heard": max((p.finished_at for p in periodic if p.finished_at), default=None),
        },
    )


@login_not_required
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
