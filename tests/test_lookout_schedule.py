"""Run times and input file names that a scheduler's configuration implies."""

from __future__ import annotations

import datetime

import pytest

from scheduler_ui.lookout.schedule import frequency, input_file_name, next_runs

UTC = datetime.UTC


def at(hour: int, minute: int, second: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 11, 27, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "minutes"), [("PT5M", 5), ("PT10M", 10), ("PT15M", 15), ("PT30M", 30), ("PT1H", 60)]
)
def test_every_upload_frequency_has_its_length(value, minutes):
    assert frequency(value) == datetime.timedelta(minutes=minutes)


def test_an_unknown_frequency_is_refused():
    with pytest.raises(ValueError, match="PT2M"):
        frequency("PT2M")


def test_the_documented_example_wakes_at_nine_fifteen():
    # Every ten minutes with a five-minute delay: at 09:08 the next check is at 09:15.
    assert next_runs("PT10M", 5, at(9, 8), count=3) == [at(9, 15), at(9, 25), at(9, 35)]


def test_a_run_still_ahead_in_the_current_interval_comes_first():
    assert next_runs("PT10M", 5, at(9, 12), count=1) == [at(9, 15)]


def test_a_run_exactly_now_is_not_next():
    assert next_runs("PT5M", 0, at(9, 10), count=1) == [at(9, 15)]


def test_hourly_runs_with_a_delay():
    assert next_runs("PT1H", 10, at(23, 30), count=2) == [
        at(23, 30) + datetime.timedelta(minutes=40),
        at(23, 30) + datetime.timedelta(minutes=100),
    ]


def test_input_file_name_uses_prefix_delimiter_and_timestamp_format():
    request = {
        "DataInputConfiguration": {
            "S3InputConfiguration": {"Bucket": "plant-input", "Prefix": "pumps/"},
            "InferenceInputNameConfiguration": {
                "TimestampFormat": "yyyy-MM-dd-HH-mm-ss",
                "ComponentTimestampDelimiter": "-",
            },
        }
    }

    name = input_file_name("Pump1", request, at(9, 10))

    assert name == "s3://plant-input/pumps/Pump1-2026-11-27-09-10-00.csv"


def test_input_file_name_is_in_the_inputs_time_zone():
    request = {
        "DataInputConfiguration": {
            "S3InputConfiguration": {"Bucket": "plant-input"},
            "InputTimeZoneOffset": "+05:30",
        }
    }

    assert (
        input_file_name("Pump1", request, at(9, 10)) == "s3://plant-input/Pump1_20261127144000.csv"
    )


def test_epoch_timestamps_are_seconds_since_1970():
    request = {
        "DataInputConfiguration": {
            "S3InputConfiguration": {"Bucket": "b-1"},
            "InferenceInputNameConfiguration": {"TimestampFormat": "EPOCH"},
        }
    }

    assert input_file_name("P", request, at(0, 0)) == "s3://b-1/P_1795737600.csv"
