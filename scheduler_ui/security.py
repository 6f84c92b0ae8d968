"""What settings.py plugs in for security: the Content-Security-Policy header
(Django 5.2 has none built in), the refusal of a header holding a NUL, and the
client address that failed logins are counted against."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse

# No inline scripts or styles anywhere, the admin included: every script and
# stylesheet is a file under /static/. Bootstrap's CSS draws some icons as
# data: URLs, hence img-src data:.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


def content_security_policy(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Middleware: send CONTENT_SECURITY_POLICY with every response, in debug too."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response

    return middleware


def refuse_nul_in_headers(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Middleware: answer 400 to a request with a NUL in a header, as gunicorn does
    before Django sees it. Django's development server (make run) lets one through,
    and django-axes stores the User-Agent and Accept of a failed login, which
    PostgreSQL refuses with an error page."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if any("\x00" in value for key, value in request.META.items() if key.startswith("HTTP_")):
            raise BadRequest("A request header holds a NUL character.")
        return get_response(request)

    return middleware


def client_ip(request: HttpRequest) -> str | None:
    """The address a login attempt comes from (django-axes counts failures per
    username and address).

    Behind the one TLS proxy of DJANGO_BEHIND_PROXY, that is the last address of
    X-Forwarded-For, the one the proxy added: the ones before it are whatever the
    client chose to send. Anything that is not an IP address counts as the
    connection's own address.
    """
    remote = request.META.get("REMOTE_ADDR")
    if not settings.BEHIND_PROXY:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(forwarded))
    except ValueError:
        return remote
