from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from scheduler_ui.schedulers.views import (
    bulk,
    history,
    pages,
    schedulers,
    settings_page,
    submissions,
)

urlpatterns = [
    path("", pages.overview, name="overview"),
    path("healthz", pages.healthz, name="healthz"),
    path("schedulers/new/", submissions.new_submission, name="submission_new"),
    path("schedulers/new/preview/", submissions.submission_preview, name="submission_preview"),
    path("schedulers/bulk/", bulk.bulk_upload, name="bulk_upload"),
    path("schedulers/bulk/submit/", bulk.bulk_submit, name="bulk_submit"),
    # After new/ and bulk/, which win: a scheduler named new or bulk has no page here.
    path("schedulers/", schedulers.scheduler_list, name="scheduler_list"),
    path("schedulers/<str:name>/", schedulers.scheduler_detail, name="scheduler_detail"),
    path("schedulers/<str:name>/start/", schedulers.scheduler_start, name="scheduler_start"),
    path("schedulers/<str:name>/stop/", schedulers.scheduler_stop, name="scheduler_stop"),
    path("schedulers/<str:name>/edit/", schedulers.scheduler_edit, name="scheduler_edit"),
    path("schedulers/<str:name>/delete/", schedulers.scheduler_delete, name="scheduler_delete"),
    path("submissions/<int:pk>/", submissions.submission_detail, name="submission_detail"),
    path("submissions/<int:pk>/status/", submissions.submission_status, name="submission_status"),
    path(
        "submissions/<int:pk>/refresh/", submissions.refresh_submission, name="submission_refresh"
    ),
    path("history/", history.history, name="history"),
    path("history/export.csv", history.history_export, name="history_export"),
    path("history/schedulers/<str:name>/", history.scheduler_history, name="scheduler_history"),
    path("settings/", settings_page.settings_page, name="settings"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
