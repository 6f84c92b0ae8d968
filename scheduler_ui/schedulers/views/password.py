"""/accounts/password/: anyone signed in changes their own password.

The Django admin has this page for staff only; Viewers and Operators need it
too, for the password an Administrator gave them.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters

from scheduler_ui.schedulers.models import AccessEvent, AccessKind


@sensitive_post_parameters()
def change_password(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # LoginRequiredMiddleware lets only users in
    form = PasswordChangeForm(user, request.POST if request.method == "POST" else None)
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
