"""The back office: submissions, their audit trail and the access log, all read-only;
re-submitting as new, cancelling and CSV export as actions; users, their passwords and
their login lock-outs managed by Administrators."""

from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from scheduler_ui.schedulers.access import OPERATE
from scheduler_ui.schedulers.exports import stream_csv
from scheduler_ui.schedulers.models import (
    AccessEvent,
    AccessKind,
    CannotCancel,
    State,
    Submission,
    SubmissionEvent,
)
from scheduler_ui.schedulers.submitting import dispatch_on_commit

User = get_user_model()

admin.site.site_header = "Lookout Scheduler Console"
admin.site.site_title = "Lookout Scheduler Console admin"

# django-axes keeps these two only when told to, and here it is not: the access
# log is AccessEvent, below. Its failed logins are registered again below, so
# that clearing them is in the access log.
admin.site.unregister(AccessLog)
admin.site.unregister(AccessFailureLog)
admin.site.unregister(AccessAttempt)


class ChangeListRefusingNul(ChangeList):
    """An admin list that refuses a filter holding a NUL character as Django
    refuses any filter it cannot apply (the list again, with "?e=1"):
    PostgreSQL cannot compare text holding one, and the page would be an error."""

    def get_filters_params(self, params: Any = None) -> dict[str, Any]:
        lookup_params: dict[str, Any] = super().get_filters_params(params)
        if any("\x00" in value for values in lookup_params.values() for value in values):
            raise IncorrectLookupParameters("A filter holds a NUL character.")
        return lookup_params


class RefusesNulFilters:
    """For every admin list of the console's: see ChangeListRefusingNul."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ChangeListRefusingNul


class ReadOnlyAdmin(RefusesNulFilters, admin.ModelAdmin[Any]):
    """Records change only through the model's own transitions, never by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


SUBMISSION_CSV_HEADER = (
    "id",
    "scheduler_name",
    "model_name",
    "state",
    "scheduler_status",
    "scheduler_arn",
    "model_quality",
    "attempts",
    "created_by",
    "created_at",
    "finished_at",
    "error_code",
    "error_message",
    "cloned_from",
    "client_token",
    "request",
)


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "scheduler_name",
        "model_name",
        "state",
        "scheduler_status",
        "attempts",
        "created_by",
        "created_at",
        "duration",
    )
    list_filter = ("state", "scheduler_status", "model_name", "created_by", "created_at")
    search_fields = ("scheduler_name", "scheduler_arn", "model_name", "client_token")
    date_hierarchy = "created_at"
    list_select_related = ("created_by",)
    inlines = (ReadOnlyEventInline,)
    actions = ("resubmit_as_new", "cancel", "export_csv")
    fieldsets = (
        (
            "Request",
            {
                "fields": (
                    "scheduler_name",
                    "model_name",
                    "client_token",
                    "request",
                    "cloned_from_link",
                    "scheduler_history_link",
                )
            },
        ),
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
                    "duration",
                    "events_link",
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
    readonly_fields = ("duration", "cloned_from_link", "scheduler_history_link", "events_link")

    @admin.display(description="Duration")
    def duration(self, submission: Submission) -> str:
        """From submitted to finished (succeeded or failed); a dash while in progress."""
        if submission.finished_at is None:
            return "—"
        seconds = (submission.finished_at - submission.created_at).total_seconds()
        return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"

    @admin.display(description="Cloned from")
    def cloned_from_link(self, submission: Submission) -> str:
        if submission.cloned_from_id is None:
            return "—"
        url = reverse("admin:schedulers_submission_change", args=[submission.cloned_from_id])
        return format_html('<a href="{}">#{}</a>', url, submission.cloned_from_id)

    @admin.display(description="Scheduler history")
    def scheduler_history_link(self, submission: Submission) -> str:
        url = reverse("scheduler_history", args=[submission.scheduler_name])
        return format_html(
            '<a href="{}">Every request named {}</a>', url, submission.scheduler_name
        )

    @admin.display(description="Events")
    def events_link(self, submission: Submission) -> str:
        url = reverse("admin:schedulers_submissionevent_changelist")
        count = submission.events.count()
        return format_html(
            '<a href="{}?submission__id__exact={}">{} event{}</a>',
            url,
            submission.pk,
            count,
            pluralize(count),
        )

    @admin.action(
        description="Re-submit as new (same request, new ClientToken)", permissions=["resubmit"]
    )
    def resubmit_as_new(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        clones = []
        for original in queryset.order_by("id"):
            clone = original.clone(request.user)
            dispatch_on_commit(clone)
            clones.append(f"#{clone.pk} from #{original.pk}")
        self.message_user(
            request, f"Re-submitted {len(clones)} as new: {', '.join(clones)}.", messages.SUCCESS
        )

    def has_resubmit_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(OPERATE)

    @admin.action(description="Cancel (those nothing is sending)", permissions=["cancel"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        """Submission.cancel for each, as on its page; a step cancelled with the
        one before it in the same selection counts as cancelled."""
        states = dict(queryset.values_list("pk", "state"))
        cancelled, too_late = [], []
        for pk, state in sorted(states.items()):
            if state == State.CANCELLED:
                continue
            try:
                Submission.cancel(pk, request.user)
            except CannotCancel:
                if not Submission.objects.filter(pk=pk, state=State.CANCELLED).exists():
                    too_late.append(f"#{pk}")
                    continue
            cancelled.append(f"#{pk}")
        if cancelled:
            self.message_user(
                request, f"Cancelled {len(cancelled)}: {', '.join(cancelled)}.", messages.SUCCESS
            )
        if too_late:
            self.message_user(
                request,
                f"Not cancelled, being sent or finished: {', '.join(too_late)}.",
                messages.WARNING,
            )

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(OPERATE)

    @admin.action(description="Export as CSV", permissions=["view"])
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[Submission]
    ) -> StreamingHttpResponse:
        rows = (
            [
                s.pk,
                s.scheduler_name,
                s.model_name,
                s.state,
                s.scheduler_status,
                s.scheduler_arn,
                s.model_quality,
                s.attempts,
                s.created_by.get_username() if s.created_by else "",
                s.created_at,
                s.finished_at,
                s.error_code,
                s.error_message,
                s.cloned_from_id,
                s.client_token,
                s.request,
            ]
            for s in queryset.select_related("created_by").order_by("id").iterator(chunk_size=2000)
        )
        return stream_csv("submissions.csv", SUBMISSION_CSV_HEADER, rows)


@admin.register(SubmissionEvent)
class SubmissionEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "submission_link", "actor_label", "kind", "from_state", "to_state")
    list_filter = ("kind", "to_state", "actor", "submission__model_name", "at")
    search_fields = ("submission__scheduler_name", "submission__scheduler_arn")
    date_hierarchy = "at"
    list_select_related = ("submission", "actor")
    # The event table grows without bound: don't count all of it on every page.
    show_full_result_count = False
    fields = ("submission_link", "at", "actor", "kind", "from_state", "to_state", "details")
    readonly_fields = fields

    @admin.display(description="Submission", ordering="submission")
    def submission_link(self, event: SubmissionEvent) -> str:
        url = reverse("admin:schedulers_submission_change", args=[event.submission_id])
        return format_html('<a href="{}">{}</a>', url, event.submission)

    @admin.display(description="Who")
    def actor_label(self, event: SubmissionEvent) -> str:
        return event.actor_label


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "username", "user", "ip_address", "by")
    list_filter = ("kind", "at")
    search_fields = ("username", "ip_address")
    date_hierarchy = "at"
    list_select_related = ("user", "by")
    show_full_result_count = False
    readonly_fields = ("at", "kind", "user", "username", "ip_address", "by")


@admin.register(AccessAttempt)
class FailedLoginsAdmin(RefusesNulFilters, AccessAttemptAdmin):  # type: ignore[misc]  # axes is untyped
    """django-axes' failed logins, by name and address. Clearing an entry (the
    action, or deleting it) lifts a lock-out at once; the access log records each."""

    actions = (*AccessAttemptAdmin.actions, "clear_failed_logins")

    @admin.action(description="Clear failed logins (lifts a lock-out)", permissions=["delete"])
    def clear_failed_logins(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        attempts = list(queryset)
        self.delete_queryset(request, queryset)
        who = ", ".join(sorted(f"{a.username} from {a.ip_address}" for a in attempts))
        self.message_user(request, f"Cleared the failed logins of {who}: they may sign in now.")

    def delete_model(self, request: HttpRequest, obj: AccessAttempt) -> None:
        record_cleared_failures(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        record_cleared_failures(request, list(queryset))
        super().delete_queryset(request, queryset)


def record_cleared_failures(request: HttpRequest, attempts: list[AccessAttempt]) -> None:
    users = User.objects.in_bulk([a.username for a in attempts], field_name="username")
    for attempt in attempts:
        AccessEvent.record(
            AccessKind.FAILURES_CLEARED,
            request,
            users.get(attempt.username),
            username=attempt.username or "",
            by=request.user,
            ip_address=attempt.ip_address,
        )


admin.site.unregister(User)


class RoleFilter(admin.RelatedFieldListFilter):
    """The users list's filter by group, called what a group is here: a role."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.title = "role"
        self.empty_value_display = SafeString("No role")  # a constant: nothing to escape


@admin.register(User)
class ConsoleUserAdmin(RefusesNulFilters, UserAdmin):  # type: ignore[type-arg]
    """Administrators manage people and their roles, but cannot make anyone
    superuser, hand out single permissions, or touch a superuser's account.
    Staff status follows the Administrator role, so the list shows roles instead."""

    list_display = ("username", "email", "roles", "is_active", "last_login")
    list_filter = (("groups", RoleFilter), "is_active", "is_superuser")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Roles")
    def roles(self, user: Any) -> str:
        roles = sorted(group.name for group in user.groups.all())
        if user.is_superuser:
            roles.insert(0, "Superuser")
        return ", ".join(roles) or "None"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        readonly = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return readonly
        return (*readonly, "is_staff", "is_superuser", "user_permissions")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        """Django's page for setting someone's password; a password set is in the
        access log, with who set it when it was not the user."""
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:  # saved
            user = self.get_object(request, unquote(id))
            by = request.user if request.user != user else None
            AccessEvent.record(AccessKind.PASSWORD_CHANGED, request, user, by=by)
        return response


admin.site.unregister(Group)


@admin.register(Group)
class ConsoleGroupAdmin(RefusesNulFilters, GroupAdmin):
    """Django's roles page (a role is a group), its list refusing a NUL as the others do."""
