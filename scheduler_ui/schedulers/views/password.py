"""/accounts/password/: anyone signed in changes their own password.

The Django admin has this page for staff only; Viewers and Operators need it
too, for the password an Administrator gave them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import authenticate, update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters

from scheduler_ui.schedulers.models import AccessEvent, AccessKind


class CurrentPasswordAsLoginForm(PasswordChangeForm):
    """Django's form, but the current password is checked as a login is: a wrong
    one is a failed login, in the access log and towards the lock-out, so that
    a session left open is no way to guess the password at leisure."""

    def __init__(self, request: HttpRequest, user: User, *args: Any, **kwargs: Any) -> None:
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self) -> str:
        old_password: str = self.cleaned_data["old_password"]
        # None for a wrong password, and for every password once locked out.
        if authenticate(self.request, username=self.user.get_username(), password=old_password):
            return old_password
        raise ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")


@sensitive_post_parameters()
def change_password(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # LoginRequiredMiddleware lets only users in
    form = CurrentPasswordAsLoginForm(
        request, user, request.POST if request.method == "POST" else None
    )
    if form.is_valid():
        form.save()
        # This session stays signed in; the user's other sessions end, as the
        # new password's hash no longer matches theirs.
        update_session_auth_hash(request, user)
        AccessEvent.record(AccessKind.PASSWORD_CHANGED, request, user)
        messages.success(
            request, "Your password was changed. Your other sessions, if any, are signed out."
        )
        return redirect("overview")
    return render(request, "registration/password_change.html", {"form": form})
