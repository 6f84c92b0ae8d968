from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path, register_converter
from django.views.generic import RedirectView

from scheduler_ui.schedulers.views import (
    bulk,
    history,
    pages,
    password,
    schedulers,
    settings_page,
    submissions,
)


class SchedulerName:
    """A scheduler's name in a URL. The names of pages under /schedulers/ are
    valid scheduler names too: a scheduler so named is written with a leading
    "~", which no scheduler name contains, so its page is not the form's."""

    regex = "[^/]+"
    pages = frozenset({"new", "bulk"})

    def to_python(self, value: str) -> str:
        name = value.removeprefix("~")
        return name if name in self.pages else value

    def to_url(self, value: str) -> str:
        return f"~{value}" if value in self.pages else value


register_converter(SchedulerName, "scheduler")

handler403 = "scheduler_ui.schedulers.access.permission_denied"

urlpatterns = [
    path("", pages.overview, name="overview"),
    path("healthz", pages.healthz, name="healthz"),
    path("schedulers/new/", submissions.new_submission, name="submission_new"),
    path("schedulers/new/preview/", submissions.submission_preview, name="submission_preview"),
    path("schedulers/bulk/", bulk.bulk_upload, name="bulk_upload"),
    path("schedulers/bulk/submit/", bulk.bulk_submit, name="bulk_submit"),
    # After new/ and bulk/, which win: a scheduler so named is at ~new/ (SchedulerName).
    path("schedulers/", schedulers.scheduler_list, name="scheduler_list"),
    path("schedulers/<scheduler:name>/", schedulers.scheduler_detail, name="scheduler_detail"),
    path("schedulers/<scheduler:name>/start/", schedulers.scheduler_start, name="scheduler_start"),
    path("schedulers/<scheduler:name>/stop/", schedulers.scheduler_stop, name="scheduler_stop"),
    path("schedulers/<scheduler:name>/edit/", schedulers.scheduler_edit, name="scheduler_edit"),
    path(
        "schedulers/<scheduler:name>/delete/", schedulers.scheduler_delete, name="scheduler_delete"
    ),
    path("schedulers/<scheduler:name>/tags/", schedulers.scheduler_tags, name="scheduler_tags"),
    path("submissions/<int:pk>/", submissions.submission_detail, name="submission_detail"),
    path("submissions/<int:pk>/status/", submissions.submission_status, name="submission_status"),
    path(
        "submissions/<int:pk>/refresh/", submissions.refresh_submission, name="submission_refresh"
    ),
    path("submissions/<int:pk>/cancel/", submissions.cancel_submission, name="submission_cancel"),
    path("history/", history.history, name="history"),
    path("history/export.csv", history.history_export, name="history_export"),
    path("history/schedulers/<str:name>/", history.scheduler_history, name="scheduler_history"),
    path("settings/", settings_page.settings_page, name="settings"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", password.change_password, name="password_change"),
    # The admin's own "Change password" link leads to the console's page, which
    # every user has and the access log hears of.
    path("admin/password_change/", RedirectView.as_view(pattern_name="password_change")),
    path("admin/", admin.site.urls),
]
