"""Every page the console serves, for the tests that must visit them all (XSS,
inline content, CSRF, object access). Read from scheduler_ui/urls.py and the
admin's registry, so a new page is covered without touching the tests."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import URLPattern, reverse

from scheduler_ui.schedulers.models import Submission
from scheduler_ui.urls import urlpatterns

# The console's own named pages (the admin is included separately).
CONSOLE_PAGES: dict[str, URLPattern] = {
    pattern.name: pattern
    for pattern in urlpatterns
    if isinstance(pattern, URLPattern) and pattern.name is not None
}


def takes_submission(name: str) -> bool:
    """Whether a page is about one submission (its URL holds the submission's id)."""
    return "pk" in CONSOLE_PAGES[name].pattern.converters


def console_url(name: str, submission: Submission | None = None, pk: int | None = None) -> str:
    """The URL of a console page, its arguments taken from `submission` (or `pk`)."""
    arguments: dict[str, object] = {}
    for argument in CONSOLE_PAGES[name].pattern.converters:
        if argument == "pk":
            arguments[argument] = pk if pk is not None else _needed(submission, name).pk
        elif argument == "name":
            arguments[argument] = _needed(submission, name).scheduler_name
        else:
            raise AssertionError(
                f"{name} takes <{argument}>: teach tests/pages.py how to fill it in"
            )
    return reverse(name, kwargs=arguments)


def _needed(submission: Submission | None, name: str) -> Submission:
    assert submission is not None, f"{name} needs a submission"
    return submission


def admin_urls() -> list[str]:
    """The admin's index, and for every registered model its list and, for its
    first object, its change and history pages."""
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.append(reverse(f"{prefix}_changelist"))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            urls.append(reverse(f"{prefix}_change", args=[first.pk]))
            urls.append(reverse(f"{prefix}_history", args=[first.pk]))
    return urls


def page_text(response: HttpResponse | StreamingHttpResponse) -> str:
    """A response's body as text, streamed (the CSV export) or not."""
    return response.getvalue().decode()
