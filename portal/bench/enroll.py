"""Benchmark: enrolling N guests batch-first versus one guest at a time, against the simulator.

Both paths run in the same process against one in-process simulator with the given latency and a
server-side rate limit; the client's shared limiter (Redis, a key of its own, deleted afterwards)
allows the same rate. Calls and HTTP 429 answers are counted by the simulator itself.
"""

import io
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from PIL import Image

from portal.bench.common import bench_simulator, parse_rate
from portal.hikvision import operations as ops
from portal.hikvision.client import HikCentralClient
from portal.hikvision.ratelimit import SharedRateLimiter

FACE_SIZE = (240, 300)  # above the 200 px short side a face needs, a few KB as JPEG


def bench_face(n):
    """A small distinct JPEG per guest (>= 200 px, well under 200 KB)."""
    image = Image.new("RGB", FACE_SIZE, ((n * 37) % 256, (n * 91) % 256, (n * 53) % 256))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def guest_specs(prefix, count, *, with_face):
    begin = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    return [
        ops.PersonSpec(
            person_code=f"{prefix}{n:05d}",
            given_name="Bench",
            family_name=f"Guest {n}",
            begin=begin,
            end=begin + timedelta(hours=8),
            face=bench_face(n) if with_face else None,
        )
        for n in range(count)
    ]


def run_batch(client, specs, level):
    """ensure_persons for everyone, one grant, one re-apply; returns the failed count."""
    results = ops.ensure_persons(client, specs)
    ids = [r.person_id for r in results if r.ok]
    granted = ops.grant(client, level, ids)
    ops.reapply(client, [r.person_id for r in granted if r.ok])
    return sum(not r.ok for r in results) + sum(not r.ok for r in granted)


def run_one_by_one(client, specs, level):
    """Per guest in turn: add without face, face update, grant, re-apply (the old way)."""
    failed = 0
    for spec in specs:
        [added] = ops.ensure_persons(client, [spec], max_workers=1)
        if not added.ok:
            failed += 1
            continue
        face = ops.set_face(client, added.person_id, bench_face(int(spec.person_code[-5:])))
        [granted] = ops.grant(client, level, [added.person_id])
        ops.reapply(client, [added.person_id])
        failed += int(not (face.ok and granted.ok))
    return failed


def measure(control, rate, guests, work):
    """Run ``work()`` and report calls, time and 429s as the simulator counted them."""
    calls_allowed, window = rate
    before = control.stats()
    started = time.perf_counter()
    failed = work()
    seconds = time.perf_counter() - started
    after = control.stats()
    calls = sum(after["calls"].values()) - sum(before["calls"].values())
    floor = calls * window / calls_allowed
    return {
        "calls": calls,
        "seconds": round(seconds, 3),
        "floor_seconds": round(floor, 3),
        "ratio": round(seconds / floor, 3) if floor else None,
        "calls_per_guest": round(calls / guests, 3),
        "http_429": after["rate_limited"] - before["rate_limited"],
        "failed": failed,
    }


@click.command("enroll")
@click.option("--guests", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--latency-ms", default=300.0, show_default=True, type=click.FloatRange(0, 10_000))
@click.option("--rate", default="10/1", show_default=True, help="CALLS/SECONDS, both sides.")
@click.option(
    "--profile", type=click.Choice(["friendly", "strict"]), default="friendly", show_default=True
)
@with_appcontext
def enroll(guests, latency_ms, rate, profile):
    """Batch-first enrollment versus one guest at a time; prints one JSON object."""
    calls, window = parse_rate(rate)
    run = uuid.uuid4().hex[:8]
    with bench_simulator(latency_ms, (calls, window), profile) as (server, control):
        batch, one = compare(server, control, guests, (calls, window), run)
    result = {
        "guests": guests,
        "latency_ms": latency_ms,
        "rate": rate,
        "profile": profile,
        "batch": batch,
        "one_by_one": one,
        "speedup": round(one["seconds"] / batch["seconds"], 2) if batch["seconds"] else None,
    }
    click.echo(json.dumps(result))


def compare(server, control, guests, rate, run):
    """Both paths, batch-first then one at a time, on the same simulator: (batch, one)."""
    calls, window = rate
    limiter = SharedRateLimiter(
        current_app.extensions["redis"], f"gatehouse:bench:enroll:{run}", calls, window
    )
    client = HikCentralClient(
        server.url, server.app_key, server.app_secret, limiter=limiter, timeout=30.0
    )
    try:
        level = ops.list_access_levels(client)[0].hik_id
        # Safe codes (A-Z/0-9, at most 10 characters) that a strict server accepts too.
        batch_specs = guest_specs(f"BB{run[:3].upper()}", guests, with_face=True)
        single_specs = guest_specs(f"BS{run[:3].upper()}", guests, with_face=False)
        batch = measure(
            control, (calls, window), guests, lambda: run_batch(client, batch_specs, level)
        )
        one = measure(
            control, (calls, window), guests, lambda: run_one_by_one(client, single_specs, level)
        )
    finally:
        client.close()
        limiter.delete()
    return batch, one
