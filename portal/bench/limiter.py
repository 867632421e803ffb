"""Benchmark: several processes share one Redis rate limiter; is the limit kept and used?

``flask --app wsgi bench limiter --processes 4 --calls 10 --window 1 --seconds 5``
"""

import bisect
import json
import subprocess
import sys
import time
import uuid

import click
import redis
from flask import current_app

from portal.hikvision.ratelimit import SharedRateLimiter

PROBE = "portal.hikvision.limiter_probe"
# Every process gets ready (imports, connects) before the clock starts.
READY_TIMEOUT = 60.0


def max_in_any_window(stamps, window):
    """The most timestamps that fall within any half-open interval ``[t, t + window)``."""
    ordered = sorted(stamps)
    return max(
        (bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered)), default=0
    )


def run(redis_url, *, processes=4, calls=10, window=1.0, seconds=5.0, name=None):
    """Run ``processes`` processes against one limiter and measure what they got."""
    name = name or f"gatehouse:bench:limiter:{uuid.uuid4().hex}"
    argv = [sys.executable, "-m", PROBE, redis_url, name, str(calls), str(window), str(seconds)]
    probes = [
        subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    try:
        for probe in probes:
            if probe.stdout.readline().strip() != "ready":
                raise RuntimeError("a limiter probe process failed to start")
        go_at = time.time()
        for probe in probes:
            probe.stdin.write(f"{go_at}\n")
            probe.stdin.flush()
        per_process = []
        for probe in probes:
            out, _ = probe.communicate(timeout=seconds + READY_TIMEOUT)
            per_process.append(json.loads(out))
    finally:
        for probe in probes:
            if probe.poll() is None:
                probe.kill()
                probe.wait(timeout=5)
        SharedRateLimiter(redis.Redis.from_url(redis_url), name, calls, window).delete()
    stamps = [stamp for process in per_process for stamp in process]
    allowed = calls * seconds / window
    return {
        "processes": processes,
        "limit": calls,
        "window_seconds": window,
        "acquisitions": len(stamps),
        "per_process": [len(process) for process in per_process],
        "max_in_any_window": max_in_any_window(stamps, window),
        "utilisation": round(len(stamps) / allowed, 4),
        "seconds": seconds,
    }


@click.command("limiter")
@click.option("--processes", default=4, show_default=True, help="Processes sharing the limiter.")
@click.option("--calls", default=10, show_default=True, help="Calls allowed per window.")
@click.option("--window", default=1.0, show_default=True, help="Window in seconds.")
@click.option("--seconds", default=5.0, show_default=True, help="How long to run.")
def limiter(processes, calls, window, seconds):
    """Processes sharing one Redis rate limiter: the most calls in any window, and utilisation."""
    if processes < 1 or calls < 1 or window <= 0 or seconds <= 0:
        raise click.BadParameter("processes, calls, window and seconds must be positive")
    result = run(
        current_app.config["REDIS_URL"],
        processes=processes,
        calls=calls,
        window=window,
        seconds=seconds,
    )
    click.echo(json.dumps(result))
