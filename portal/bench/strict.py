"""Benchmark: enrollment against the strict simulator profile, with a job forced to retry.

A few visits registered one by one and a guest list go through the real services and a burst
RQ worker in this process (a temporary SQLite database, the configured Redis, queues of the
run's own). Before each part, the first person add is carried out but its answer lost, and the
lookup that follows fails five times: the job is retried and must adopt the person rather than
add it again, which the strict server would refuse as "personCode parameter error". The figures:
every guest enrolled, each exactly once on the server, and how many adds and lookups it took.
"""

import io
import json
import secrets
import tempfile
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.results import Result

from portal.bench import processes
from portal.bench.common import bench_app_config, bench_simulator
from portal.bench.enroll import bench_face
from portal.bench.import_enroll import guest_sheet
from portal.hikvision import operations as ops

# The first add is done but its answer lost; then the lookup fails as often as the client tries.
LOST_ADD_SCRIPT = ["lost"] + ["http_500"] * 5


def _seed(db):
    from portal.models import AccessLevel, Event, Role, User, utcnow

    host = User(email="strict-bench@example.test", name="Bench", role=Role.ORGANIZER.value)
    host.set_password(secrets.token_urlsafe(12))
    level = AccessLevel(hik_id="1", name="Bench level")
    start = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    event = Event(
        name="Strict bench", organizer=host, starts_at=start, ends_at=start + timedelta(hours=8),
        access_level=level,
    )  # fmt: skip
    db.session.add_all([host, level, event])
    db.session.commit()
    return host, level, event


def _work(redis, name):
    """Every job of the run's queue, retries included, in this process."""
    SimpleWorker([Queue(name, connection=redis)], connection=redis).work(
        burst=True, logging_level="WARNING"
    )


def _to_private_queue(redis, record, name):
    """Move a just-enqueued job to the run's own queue (its retries follow it there)."""
    job = Job.fetch(record.rq_job_id, connection=redis)
    Queue(job.origin, connection=redis).remove(job.id)
    Queue(name, connection=redis).enqueue_job(job)


def _retries_used(redis, records):
    """How many times RQ retried the run's jobs (the jobs are deleted once counted)."""
    used = 0
    for record in records:
        job = Job.fetch(record.rq_job_id, connection=redis)
        if job.retry_intervals and job.retries_left is not None:
            used += len(job.retry_intervals) - job.retries_left
        Result.delete_all(job)
        job.delete()
    return used


def run_strict(singles=3, guests=50, latency_ms=50.0, *, redis_url=None):
    """Register ``singles`` visits and import ``guests`` against the strict simulator."""
    from portal import create_app
    from portal.extensions import db
    from portal.hikvision.client import HikCentralClient
    from portal.models import JobRecord, Visit
    from portal.services import imports, visits

    redis_url = redis_url or current_app.config["REDIS_URL"]
    run = uuid.uuid4().hex[:8]
    with bench_simulator(latency_ms, None, "strict") as (server, control):
        with tempfile.TemporaryDirectory(prefix="gatehouse-bench-strict-") as tmp:
            overrides = bench_app_config(
                tmp, server, redis_url,
                IMPORT_FILES_DIR=str(Path(tmp) / "imports"),
                JOB_RETRY_INTERVALS=[0, 0, 0],
                DELIVERY_CHECKS=1,
                # One person call at a time, so the scripted faults hit the first guest.
                HIKCENTRAL_MAX_IN_FLIGHT=1,
            )  # fmt: skip
            app = create_app(overrides)
            with app.app_context():
                db.create_all()
                redis = app.extensions["redis"]
                app.extensions["hikcentral"] = HikCentralClient(
                    server.url, server.app_key, server.app_secret, backoff_base=0.05,
                    face_max_side=app.config["HIKCENTRAL_FACE_MAX_SIDE"],
                )  # fmt: skip
                queue = f"strict-bench-{run}"
                try:
                    host, level, event = _seed(db)
                    aimed = [ops.PERSON_ADD, ops.PERSON_BY_CODE]
                    started = time.perf_counter()

                    control.configure(fault_paths=aimed, fault_script=LOST_ADD_SCRIPT)
                    for n in range(singles):
                        visit = visits.register_visit(
                            host, full_name=f"Single Guest{n}", starts_at=event.starts_at,
                            ends_at=event.ends_at, access_level=level, photo=bench_face(n),
                        )  # fmt: skip
                        _to_private_queue(redis, visits.latest_job(visit), queue)
                    _work(redis, queue)

                    control.configure(fault_script=LOST_ADD_SCRIPT)
                    sheet, photos = guest_sheet(guests)
                    staged = imports.store_upload(
                        event, host, (io.BytesIO(sheet), "g.csv"), (io.BytesIO(photos), "p.zip")
                    )
                    imports.stage_import(staged)
                    _to_private_queue(redis, imports.confirm_import(staged, host), queue)
                    _work(redis, queue)
                    seconds = time.perf_counter() - started

                    db.session.expire_all()
                    all_visits = db.session.query(Visit).all()
                    records = db.session.query(JobRecord).all()
                    states = Counter(v.state for v in all_visits)
                    retries = _retries_used(redis, records)
                finally:
                    Queue(queue, connection=redis).delete(delete_jobs=True)
                    processes.forget_deferred(redis)
                    app.extensions["hikcentral"].close()
                    db.session.remove()
                    db.engine.dispose()
        state, stats = control.state(), control.stats()

    on_server = Counter(p["person_code"] for p in state["persons"])
    codes = [v.person_code for v in all_visits]
    calls = stats["calls"]
    return {
        "bench": "strict",
        "profile": "strict",
        "singles": singles,
        "guests": guests,
        "latency_ms": latency_ms,
        "visits": len(all_visits),
        "enrolled": states.get("enrolled", 0),
        "failed": states.get("failed", 0),
        "persons_on_server": len(state["persons"]),
        "guests_on_server_exactly_once": sum(on_server[c] == 1 for c in codes),
        "job_retries": retries,
        "faults": stats["faults_by_kind"],
        "adds": calls.get(ops.PERSON_ADD, 0),
        "lookups": calls.get(ops.PERSON_BY_CODE, 0),
        "calls_per_guest": round(sum(calls.values()) / max(1, len(codes)), 3),
        "seconds": round(seconds, 3),
    }


@click.command("strict")
@click.option("--singles", default=3, show_default=True, type=click.IntRange(1, 100))
@click.option("--guests", default=50, show_default=True, type=click.IntRange(1, 5000))
@click.option("--latency-ms", default=50.0, show_default=True, type=click.FloatRange(0, 5000))
@with_appcontext
def strict(singles, guests, latency_ms):
    """Registrations and an import against the strict profile, a job forced to retry."""
    click.echo(json.dumps(run_strict(singles, guests, latency_ms)))
