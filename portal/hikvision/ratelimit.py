"""A rate limiter shared by every worker process through Redis.

Rate: GCRA with reservations, in one Lua script on Redis's clock. Each caller reserves the next
slot time and sleeps until it; slots are spaced ``window * (1 + safety) / calls`` apart, a burst
of at most ``burst`` may go at once after a quiet spell, and no ``calls + 1`` slots ever fall
within ``window * (1 + safety)``. The safety margin absorbs wake-up and network jitter, so a
server enforcing ``calls`` per ``window`` (sliding window or token bucket) never refuses us.

In flight: a sorted set of leases that expire, so a crashed process frees its slot after
``lease_seconds``; a waiter blocks on a release list (BLPOP) instead of polling tightly.
"""

import logging
import time
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit

from redis.exceptions import RedisError

from portal.hikvision.errors import RateLimitTimeout

log = logging.getLogger(__name__)

# KEYS: tat, recent slots (zset). ARGV: interval, burst tolerance, calls, window, max wait,
# member. Returns {granted 0/1, seconds to wait until the slot}.
RATE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local calls = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local max_wait = tonumber(ARGV[5])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local slot = math.max(now, tat - tolerance)
local oldest = redis.call('ZRANGE', KEYS[2], -calls, -calls, 'WITHSCORES')
if #oldest == 2 then slot = math.max(slot, tonumber(oldest[2]) + window) end
local wait = slot - now
if wait > max_wait then return {0, string.format('%.6f', wait)} end
local new_tat = math.max(tat, slot) + interval
local ttl = math.ceil((new_tat - now + window) * 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX', ttl)
redis.call('ZADD', KEYS[2], string.format('%.6f', slot), ARGV[6])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(calls + 1))
redis.call('PEXPIRE', KEYS[2], ttl)
return {1, string.format('%.6f', wait)}
"""

# KEYS: tat. ARGV: seconds, burst tolerance. Pushes the next slot ``seconds`` into the future.
PAUSE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
local until_ = math.max(tat, now + tonumber(ARGV[1]) + tonumber(ARGV[2]))
local ttl = math.ceil((until_ - now) * 1000) + 60000
redis.call('SET', KEYS[1], string.format('%.6f', until_), 'PX', ttl)
return string.format('%.6f', until_ - now)
"""

# KEYS: leases (zset of member -> expiry). ARGV: max in flight, lease seconds, member.
LEASE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.6f', now))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], string.format('%.6f', now + tonumber(ARGV[2])), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000) + 1000)
  return 1
end
return 0
"""

# KEYS: leases, released list. ARGV: member, max in flight.
RELEASE_SCRIPT = """
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if removed == 1 then
  redis.call('LPUSH', KEYS[2], '1')
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
  redis.call('PEXPIRE', KEYS[2], 60000)
end
return removed
"""

# A waiter for an in-flight slot re-checks at least this often (expired leases free no list).
LEASE_POLL_SECONDS = 0.25


def limiter_name(base_url):
    """The Redis key prefix of the limiter shared by every client of one server."""
    parts = urlsplit(str(base_url).lower())
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"gatehouse:hikcentral:limit:{parts.hostname}:{port}"


class SharedRateLimiter:
    """At most ``calls`` per ``window_seconds`` and ``max_in_flight`` at once, across processes."""

    def __init__(
        self,
        redis,
        name,
        calls,
        window_seconds,
        *,
        max_in_flight=10,
        max_wait=30.0,
        burst=None,
        safety=0.05,
        lease_seconds=60.0,
        sleep=time.sleep,
        clock=time.monotonic,
    ):
        if calls < 1 or window_seconds <= 0:
            raise ValueError("calls and window_seconds must be positive")
        self.redis = redis
        self.name = name
        self.calls = int(calls)
        self.window_seconds = float(window_seconds)
        self.max_in_flight = max_in_flight
        self.max_wait = float(max_wait)
        self.burst = max(1, min(self.calls, burst or max(1, self.calls // 5)))
        self.safety = safety
        self.lease_seconds = float(lease_seconds)
        self._sleep = sleep
        self._clock = clock
        self.keys = {part: f"{name}:{part}" for part in ("tat", "recent", "leases", "released")}
        self._rate = redis.register_script(RATE_SCRIPT)
        self._pause = redis.register_script(PAUSE_SCRIPT)
        self._lease = redis.register_script(LEASE_SCRIPT)
        self._release = redis.register_script(RELEASE_SCRIPT)

    def __repr__(self):
        return (
            f"SharedRateLimiter(name={self.name!r}, calls={self.calls}, "
            f"window_seconds={self.window_seconds}, max_in_flight={self.max_in_flight})"
        )

    @property
    def spaced_window(self):
        """The window (with its safety margin) within which at most ``calls`` slots fall."""
        return self.window_seconds * (1 + self.safety)

    @property
    def _tolerance(self):
        # GCRA's burst tolerance: how far ahead of the theoretical arrival time a slot may be.
        return (self.burst - 1) * self.spaced_window / self.calls

    def acquire(self):
        """Wait for a rate slot (not an in-flight one); return the seconds waited."""
        started = self._clock()
        self._wait_for_rate(started + self.max_wait)
        return self._clock() - started

    @contextmanager
    def slot(self):
        """Hold an in-flight lease and a rate slot for one call; yields the seconds waited."""
        started = self._clock()
        deadline = started + self.max_wait
        lease = self._take_lease(deadline)
        try:
            self._wait_for_rate(deadline)
            yield self._clock() - started
        finally:
            if lease is not None:
                self._give_back(lease)

    def pause(self, seconds=None):
        """Hold every process's next call back for ``seconds`` (default one window)."""
        seconds = self.window_seconds if seconds is None else seconds
        args = [f"{seconds:.6f}", f"{self._tolerance:.6f}"]
        return float(self._pause(keys=[self.keys["tat"]], args=args))

    def in_flight(self):
        """How many leases are held now (expired ones included until the next take)."""
        return self.redis.zcard(self.keys["leases"])

    def delete(self):
        """Remove every key of this limiter (benchmarks and tests use their own names)."""
        self.redis.delete(*self.keys.values())

    def _wait_for_rate(self, deadline):
        remaining = max(0.0, deadline - self._clock())
        granted, wait = self._rate(
            keys=[self.keys["tat"], self.keys["recent"]],
            args=[
                f"{self.spaced_window / self.calls:.6f}",
                f"{self._tolerance:.6f}",
                self.calls,
                f"{self.spaced_window:.6f}",
                f"{remaining:.6f}",
                uuid.uuid4().hex,
            ],
        )
        wait = float(wait)
        if not int(granted):
            raise RateLimitTimeout(
                f"no HikCentral rate-limit slot within {self.max_wait:g}s "
                f"(the next is {wait:.1f}s away)"
            )
        if wait > 0:
            self._sleep(wait)

    def _take_lease(self, deadline):
        if not self.max_in_flight:
            return None
        member = uuid.uuid4().hex
        args = [self.max_in_flight, f"{self.lease_seconds:.3f}", member]
        while True:
            if int(self._lease(keys=[self.keys["leases"]], args=args)):
                return member
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise RateLimitTimeout(
                    f"{self.max_in_flight} HikCentral calls stayed in flight for {self.max_wait:g}s"
                )
            timeout = max(0.01, min(remaining, LEASE_POLL_SECONDS))
            self.redis.blpop([self.keys["released"]], timeout=timeout)

    def _give_back(self, member):
        try:
            self._release(
                keys=[self.keys["leases"], self.keys["released"]],
                args=[member, self.max_in_flight],
            )
        except RedisError as exc:
            # The lease expires by itself; the call's own outcome matters more.
            log.warning("could not release a HikCentral in-flight lease: %s", exc)
