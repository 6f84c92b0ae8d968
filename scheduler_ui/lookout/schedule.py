"""When an inference scheduler runs and which input files it looks for.

From the API documentation of DataDelayOffsetInMinutes: a scheduler set to
run every ten minutes with a five-minute delay wakes, at 09:08, at 09:15: the
next multiple of the upload frequency plus the delay.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from scheduler_ui.lookout.service import enum_values

# Python's strftime spelling of the TimestampFormat values the API documents.
_STRFTIME = {"yyyy-MM-dd-HH-mm-ss": "%Y-%m-%d-%H-%M-%S", "yyyyMMddHHmmss": "%Y%m%d%H%M%S"}


def frequency(value: str) -> datetime.timedelta:
    """The length of a DataUploadFrequency value such as PT10M or PT1H."""
    if value not in enum_values("DataUploadFrequency"):
        raise ValueError(f"unknown DataUploadFrequency {value!r}")
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?", value)
    assert match is not None  # every enum value has this form
    hours, minutes = (int(part or 0) for part in match.groups())
    return datetime.timedelta(hours=hours, minutes=minutes)


def next_runs(
    upload_frequency: str, delay_minutes: int, now: datetime.datetime, count: int = 5
) -> list[datetime.datetime]:
    """The next `count` times the scheduler wakes after `now` (UTC-aware)."""
    step = frequency(upload_frequency)
    delay = datetime.timedelta(minutes=delay_minutes)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    # Runs sit at midnight + k·step + delay; find the first one after now.
    k = (now - midnight - delay) // step + 1
    return [midnight + (k + i) * step + delay for i in range(count)]


def input_file_name(component: str, request: dict[str, Any], at: datetime.datetime) -> str:
    """An S3 URI of an input file the scheduler will look for, for one component,
    given the request's bucket, prefix, time zone, timestamp format and delimiter."""
    config = request.get("DataInputConfiguration", {})
    s3 = config.get("S3InputConfiguration", {})
    naming = config.get("InferenceInputNameConfiguration", {})
    local = at.astimezone(_time_zone(config.get("InputTimeZoneOffset", "+00:00")))
    timestamp_format = naming.get("TimestampFormat", "yyyyMMddHHmmss")
    if timestamp_format == "EPOCH":
        stamp = str(int(at.timestamp()))
    else:
        stamp = local.strftime(_STRFTIME.get(timestamp_format, "%Y%m%d%H%M%S"))
    delimiter = naming.get("ComponentTimestampDelimiter", "_")
    bucket = s3.get("Bucket", "<bucket>")
    return f"s3://{bucket}/{s3.get('Prefix', '')}{component}{delimiter}{stamp}.csv"


def _time_zone(offset: str) -> datetime.timezone:
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = (int(part) for part in offset[1:].split(":"))
    return datetime.timezone(sign * datetime.timedelta(hours=hours, minutes=minutes))
