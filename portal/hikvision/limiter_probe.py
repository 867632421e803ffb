"""A process that takes rate slots for a while and prints when it got them.

The limiter benchmark runs several at once: ``python -m portal.hikvision.limiter_probe
REDIS_URL NAME CALLS WINDOW SECONDS``. It prints ``ready``, reads the start time (epoch
seconds) from stdin, takes slots until start + SECONDS and prints their times as one JSON list.
"""

import json
import sys
import time

import redis

from portal.hikvision.ratelimit import SharedRateLimiter


def probe(redis_url, name, calls, window, seconds, stdin=sys.stdin, stdout=sys.stdout):
    """Take rate slots from start (read from ``stdin``) for ``seconds``; print their times."""
    conn = redis.Redis.from_url(redis_url)
    limiter = SharedRateLimiter(
        conn, name, calls, window, max_in_flight=None, max_wait=seconds + 2 * window
    )
    conn.ping()
    print("ready", file=stdout, flush=True)
    line = stdin.readline()
    stamps = []
    if line.strip():
        end = float(line) + seconds
        while True:
            limiter.acquire()
            now = time.time()
            if now >= end:
                break
            stamps.append(now)
    print(json.dumps(stamps), file=stdout, flush=True)
    conn.close()


if __name__ == "__main__":
    url, key, calls_, window_, seconds_ = sys.argv[1:6]
    probe(url, key, int(calls_), float(window_), float(seconds_))
