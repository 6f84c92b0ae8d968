from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from scheduler_ui.schedulers.views import history, pages, submissions

urlpatterns = [
    path("", pages.overview, name="overview"),
    path("healthz", pages.healthz, name="healthz"),
    path("schedulers/new/", submissions.new_submission, name="submission_new"),
    path("submissions/<int:pk>/", submissions.submission_detail, name="submission_detail"),
    path("submissions/<int:pk>/status/", submissions.submission_status, name="submission_status"),
    path(
        "submissions/<int:pk>/refresh/", submissions.refresh_submission, name="submission_refresh"
    ),
    path("history/", history.history, name="history"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
