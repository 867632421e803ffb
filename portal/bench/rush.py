"""Benchmark: the morning rush, many visitors registered at once, enrolled by real workers.

``flask --app wsgi bench rush --visits 40 --workers 1 --latency-ms 50 --rate 10/1``

The simulator runs in this process with the given latency and a server-side rate limit; the
workers are real ``flask --app wsgi worker`` processes on a temporary SQLite database and the
configured Redis. All registrations are sent at once from a pool of threads (each one commits
its visit and enqueues its job, as the new-visit page does). The figures: seconds from the
first registration until every visit is ``enrolled`` against the floor (enrollment calls ÷
rate), enrollment calls (add, grant, re-apply) per guest, and delivery checks per guest once
the deferred checks have run.
"""

import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from portal.bench import processes
from portal.bench.common import bench_app_config, bench_simulator, parse_rate
from portal.bench.enroll import bench_face
from portal.bench.visit import forget_jobs, forget_limiter, prepare

POLL_SECONDS = 0.05
SENDERS = 8  # threads that send the registrations


def _register(app, host_email, level_id, n):
    from portal.extensions import db
    from portal.models import User, utcnow
    from portal.services.visits import register_visit

    with app.app_context():
        host = db.session.scalar(select(User).where(User.email == host_email))
        start = utcnow()
        visit = register_visit(
            host,
            full_name=f"Rush Guest {n}",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            access_level=level_id,
            photo=bench_face(n),
        )
        visit_id = visit.id
        db.session.remove()
    return visit_id


def _states(app):
    from portal.extensions import db
    from portal.models import Visit

    with app.app_context():
        rows = db.session.execute(select(Visit.state, func.count()).group_by(Visit.state)).all()
        delivery = db.session.execute(
            select(Visit.delivery, func.count()).group_by(Visit.delivery)
        ).all()
        db.session.remove()
    return dict(rows), dict(delivery)


def _job_outcomes(app):
    from portal.extensions import db
    from portal.models import JobRecord

    with app.app_context():
        results = db.session.scalars(
            select(JobRecord.result).where(JobRecord.kind == "enroll_visit")
        ).all()
        db.session.remove()
    outcomes = {}
    for result in results:
        outcome = (result or {}).get("outcome", "none")
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def _wait(predicate, timeout, what, procs):
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if predicate():
            return time.perf_counter()
        for proc in procs:
            if proc.poll() is not None:
                raise click.ClickException(f"a worker died: {processes.tail(proc.log_path)}")
        time.sleep(POLL_SECONDS)
    logs = "\n".join(processes.tail(proc.log_path) for proc in procs)
    raise click.ClickException(f"{what} did not happen in {timeout:g} s:\n{logs}")


def run_rush(visits, workers=1, latency_ms=50.0, rate=(10, 1.0), *, redis_url, own_db=True):
    """Register ``visits`` visits at once and follow them to enrolled; returns the figures.

    With ``own_db`` the run claims an empty Redis database (workers there take only its jobs)
    and empties it at the end; tests pass a database they claimed already.
    """
    claimed = None
    if own_db:
        redis_url, claimed = processes.claim_redis_database(redis_url)
    try:
        return _rush(visits, workers, latency_ms, rate, redis_url)
    finally:
        if claimed is not None:
            claimed.flushdb()


def _rush(visits, workers, latency_ms, rate, redis_url):
    from portal import create_app

    calls_allowed, window = rate
    procs = []
    with bench_simulator(latency_ms, rate) as (server, control):
        with tempfile.TemporaryDirectory(prefix="gatehouse-bench-rush-") as tmp:
            config = bench_app_config(tmp, server, redis_url, rate)
            app = create_app(config)
            connection = app.extensions["redis"]
            try:
                email, _, level_id = prepare(app)
                env = processes.environment(config)
                for n in range(workers):
                    log = Path(tmp) / f"worker{n}.log"
                    procs.append(processes.start_worker(env, log, connection))
                before = control.stats()
                started = time.perf_counter()
                with ThreadPoolExecutor(SENDERS) as pool:
                    ids = list(
                        pool.map(lambda n: _register(app, email, level_id, n), range(visits))
                    )
                sent = time.perf_counter() - started
                timeout = max(120.0, visits * 5 * window / calls_allowed)
                ended = _wait(
                    lambda: _states(app)[0].get("enrolled", 0) == len(ids),
                    timeout,
                    "every visit enrolled",
                    procs,
                )
                enrolled_calls = processes.calls_between(before, control.stats())
                # The deferred delivery checks follow a few seconds later.
                _wait(
                    lambda: not _states(app)[1].get("pending"),
                    60.0,
                    "every delivery settled",
                    procs,
                )
                calls = processes.calls_between(before, control.stats())
                states, delivery = _states(app)
                outcomes = _job_outcomes(app)
                rate_limited = control.stats()["rate_limited"] - before["rate_limited"]
            finally:
                for proc in procs:
                    processes.stop(proc)
                forget_jobs(app, connection)
                forget_limiter(app)
                with app.app_context():
                    from portal.extensions import db

                    db.engine.dispose()

    enrollment = sum(enrolled_calls.get(path, 0) for path in processes.ENROLLMENT_PATHS)
    floor = enrollment * window / calls_allowed
    seconds = ended - started
    checks = calls.get(processes.DELIVERY_PATH, 0)
    return {
        "bench": "rush",
        "visits": visits,
        "workers": workers,
        "latency_ms": latency_ms,
        "rate": f"{calls_allowed}/{window:g}",
        "registration_seconds": round(sent, 3),
        "seconds": round(seconds, 3),
        "floor_seconds": round(floor, 3),
        "limit_seconds": round(1.3 * floor + 3, 3),
        "within_limit": seconds <= 1.3 * floor + 3,
        "enrollment_calls": enrollment,
        "enrollment_calls_per_guest": round(enrollment / visits, 3),
        "enrollment_calls_allowed": 1.2,
        "delivery_checks_per_guest": round(checks / visits, 3),
        "delivery_checks_allowed": 1,
        "calls_by_path": dict(sorted(calls.items())),
        "http_429": rate_limited,
        "states": states,
        "delivery": {str(k): v for k, v in delivery.items()},
        "jobs": outcomes,
    }


@click.command("rush")
@click.option("--visits", default=40, show_default=True, type=click.IntRange(1, 2000))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 16))
@click.option("--latency-ms", default=50.0, show_default=True, type=click.FloatRange(0, 10_000))
@click.option("--rate", default="10/1", show_default=True, help="Calls allowed: CALLS/SECONDS.")
@with_appcontext
def rush(visits, workers, latency_ms, rate):
    """Many registrations at once, enrolled by real workers; prints one JSON object."""
    result = run_rush(
        visits, workers, latency_ms, parse_rate(rate), redis_url=current_app.config["REDIS_URL"]
    )
    click.echo(json.dumps(result))
