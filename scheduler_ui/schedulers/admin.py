"""The back office: submissions with their read-only audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from scheduler_ui.schedulers.models import Submission, SubmissionEvent


class ReadOnlyEventInline(admin.TabularInline[SubmissionEvent, Submission]):
    model = SubmissionEvent
    fields = ("at", "actor", "kind", "from_state", "to_state", "details")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin[Submission]):
    list_display = (
        "id",
        "scheduler_name",
        "model_name",
        "state",
        "scheduler_status",
        "attempts",
        "created_by",
        "created_at",
    )
    list_filter = ("state", "scheduler_status", "model_name", "created_by", "created_at")
    search_fields = ("scheduler_name", "scheduler_arn", "model_name", "client_token")
    date_hierarchy = "created_at"
    list_select_related = ("created_by",)
    inlines = (ReadOnlyEventInline,)
    fieldsets = (
        ("Request", {"fields": ("scheduler_name", "model_name", "client_token", "request")}),
        (
            "Delivery",
            {
                "fields": (
                    "state",
                    "attempts",
                    "dispatches",
                    "created_by",
                    "created_at",
                    "attempt_started_at",
                    "next_attempt_at",
                    "finished_at",
                )
            },
        ),
        (
            "What AWS answered",
            {
                "fields": (
                    "scheduler_arn",
                    "scheduler_status",
                    "model_quality",
                    "error_code",
                    "error_message",
                )
            },
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Submissions change only through their transitions, never by hand.
        return [field.name for field in Submission._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SubmissionEvent)
class SubmissionEventAdmin(admin.ModelAdmin[SubmissionEvent]):
    list_display = ("at", "submission", "actor", "kind", "from_state", "to_state")
    list_filter = ("kind", "to_state", "actor", "at")
    search_fields = ("submission__scheduler_name", "submission__scheduler_arn")
    date_hierarchy = "at"
    list_select_related = ("submission", "actor")
    readonly_fields = ("submission", "at", "actor", "kind", "from_state", "to_state", "details")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
