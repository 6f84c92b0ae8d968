"""The console's URLs plus /bench/baseline/: one INSERT and a redirect, the
yardstick the form POST is measured against behind the same server."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path
from django.views.decorators.http import require_POST

from scheduler_ui.urls import urlpatterns as console_urlpatterns


@require_POST
def baseline(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_baseline (at) VALUES (now())")
    return HttpResponseRedirect("/")


urlpatterns = [*console_urlpatterns, path("bench/baseline/", baseline)]
