"""{% history_row event %}: one event as a row of the history table.

Drawn in Python rather than in a template: a page holds fifty rows, and the
template language spent about half of the page's time on them.
"""

from __future__ import annotations

from django import template
from django.template.defaultfilters import date
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from scheduler_ui.schedulers.models import SubmissionEvent

register = template.Library()

ROW = (
    "<tr>"
    '<td class="text-nowrap"><time datetime="{}">{}</time></td>'
    "<td>{}</td>"
    "<td>{}</td>"
    '<td class="text-nowrap"><a href="{}">{}</a></td>'
    '<td><a href="{}">#{}</a></td>'
    '<td class="small">{}</td>'
    '<td class="small history-details">{}</td>'
    "</tr>"
)
DETAIL = '<span class="me-2"><span class="text-body-secondary">{}:</span> {}</span>'


@register.simple_tag
def history_row(event: SubmissionEvent) -> SafeString:
    submission = event.submission
    moved = ""
    if event.from_state != event.to_state:
        moved = f"{event.get_from_state_display() or '—'} → {event.get_to_state_display()}"
    # Spaced, so that a line breaks between two pairs rather than inside a name.
    details = format_html_join(
        " ", DETAIL, ((key, value) for key, value in event.details.items() if value != "")
    )
    return format_html(
        ROW,
        date(event.at, "c"),
        date(event.at, "Y-m-d H:i:s T"),
        event.actor_label,
        event.get_kind_display(),
        reverse("scheduler_history", args=[submission.scheduler_name]),
        submission.scheduler_name,
        submission.get_absolute_url(),
        event.submission_id,
        moved,
        details,
    )
