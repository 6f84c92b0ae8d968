"""The global rate limit: a token bucket in Redis that every worker draws from."""

from __future__ import annotations

import pytest
import redis

from scheduler_ui.schedulers import ratelimit, submitting
from scheduler_ui.schedulers.models import State
from scheduler_ui.schedulers.ratelimit import TokenBucket
from tests.factories import make_submission
from tests.services import free_port

# One call per 100 s: nothing refills while a test runs.
SLOW = 0.01


@pytest.fixture
def client(redis_url):
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def limit_calls(settings, redis_url):
    """Turn the limit on for this process, counted in the test's Redis."""

    def limit(calls_per_second):
        settings.LOOKOUT_CALLS_PER_SECOND = calls_per_second
        settings.LOOKOUT_RATE_LIMIT_REDIS_URL = redis_url

    return limit


@pytest.mark.redis
def test_a_full_bucket_lets_a_seconds_worth_of_calls_through_at_once(client):
    bucket = TokenBucket(client, "calls", rate=5)

    waits = [bucket.take() for _ in range(6)]

    assert waits[:5] == [0, 0, 0, 0, 0]
    assert waits[5] > 0


@pytest.mark.redis
def test_the_caller_after_the_last_token_is_told_to_wait_for_the_next(client):
    bucket = TokenBucket(client, "calls", rate=SLOW)

    assert bucket.take() == 0
    assert 99 < bucket.take() <= 100


@pytest.mark.redis
def test_waiting_callers_are_served_in_turn(client):
    bucket = TokenBucket(client, "calls", rate=SLOW)
    bucket.take()

    second, third = bucket.take(), bucket.take()

    assert 99 < second <= 100
    assert 199 < third <= 200


@pytest.mark.redis
def test_every_client_draws_from_the_same_bucket(redis_url):
    one = TokenBucket(redis.Redis.from_url(redis_url), "calls", rate=SLOW)
    other = TokenBucket(redis.Redis.from_url(redis_url), "calls", rate=SLOW)

    assert one.take() == 0
    assert other.take() > 0


@pytest.mark.redis
def test_a_bucket_left_alone_goes_away_once_it_would_be_full_again(client):
    TokenBucket(client, "calls", rate=1).take()

    assert 0 < client.ttl("calls") <= 2


@pytest.mark.redis
def test_creating_a_scheduler_takes_a_token(lookout, limit_calls, client):
    limit_calls(SLOW)
    submission = make_submission()

    submitting.submit_to_lookout(submission.pk)

    assert TokenBucket(client, ratelimit.KEY, rate=SLOW).take() > 0


@pytest.mark.redis
def test_following_a_status_takes_a_token(lookout, limit_calls, client):
    submission = make_submission()
    submitting.submit_to_lookout(submission.pk)
    limit_calls(SLOW)

    submitting.refresh_status(submission.pk)

    assert TokenBucket(client, ratelimit.KEY, rate=SLOW).take() > 0


def test_calls_go_ahead_when_the_limits_redis_is_unreachable(lookout, settings):
    settings.LOOKOUT_CALLS_PER_SECOND = SLOW
    settings.LOOKOUT_RATE_LIMIT_REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    submission = make_submission()

    submitting.submit_to_lookout(submission.pk)

    submission.refresh_from_db()
    assert submission.state == State.SUCCEEDED
