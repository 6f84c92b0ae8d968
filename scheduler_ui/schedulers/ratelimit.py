"""A global limit on calls to AWS: LOOKOUT_CALLS_PER_SECOND across every worker.

The limit is a token bucket in Redis, taken from by one Lua script, so every
process on every host draws from the same bucket and the check and the take
are one step. The bucket holds one second's worth of calls (at least one) and
refills continuously; it is timed by Redis's own clock, so hosts need not agree
on the time. A caller that finds it empty still takes the next token and is
told how long to wait for it: waiting callers are served in turn, and nobody
polls.

Where the bucket lives: LOOKOUT_RATE_LIMIT_REDIS_URL, by default the broker when
the broker is Redis. With the embedded SQLite broker and no Redis named there is
no limit. When Redis cannot be reached the call goes ahead unlimited: AWS's own
throttling is retried anyway, and a missing limiter must not stop the work.
"""

from __future__ import annotations

import logging
import time
from functools import cache

import redis
from django.conf import settings

log = logging.getLogger(__name__)

KEY = "lookout-scheduler-console:aws-calls"

# KEYS[1]: the bucket (a hash of tokens and when they were counted);
# ARGV: tokens per second, capacity. Returns the seconds to wait, as a string
# (Redis would truncate a Lua number to an integer).
_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or capacity
local at = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate) - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
-- A bucket left alone refills completely; then it is the same as no key at all.
redis.call('EXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1)
if tokens >= 0 then
  return '0'
end
return tostring(-tokens / rate)
"""


class TokenBucket:
    """`rate` tokens a second, at most `capacity` saved up, shared by all who use `key`."""

    def __init__(self, client: redis.Redis, key: str, rate: float) -> None:
        self.key = key
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._take = client.register_script(_TAKE)

    def take(self) -> float:
        """Take a token; return how many seconds to wait before using it (0: now)."""
        return float(self._take(keys=[self.key], args=[self.rate, self.capacity]))


def wait_for_a_call() -> None:
    """Return when the global limit allows one more call to AWS."""
    bucket = _configured_bucket()
    if bucket is None:
        return
    try:
        delay = bucket.take()
    except redis.RedisError as error:
        log.warning("the rate limit is unavailable, calling AWS without it: %s", error)
        return
    if delay > 0:
        time.sleep(delay)


def _configured_bucket() -> TokenBucket | None:
    rate = settings.LOOKOUT_CALLS_PER_SECOND
    url = settings.LOOKOUT_RATE_LIMIT_REDIS_URL
    if rate <= 0 or not url:
        return None
    return _bucket(url, rate)


@cache
def _bucket(url: str, rate: float) -> TokenBucket:
    # Short timeouts: an unreachable Redis costs a call a second at most.
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    return TokenBucket(client, KEY, rate)
