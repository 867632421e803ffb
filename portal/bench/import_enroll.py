"""Benchmark: a guest list from confirm to all enrolled, through a real RQ worker process.

Everything runs on a temporary SQLite database (a separate app built with overrides) and the
configured Redis; the simulator runs in this process with the given latency and a server-side
rate limit, the worker in a child process (so that its peak memory is its own) with a shared
limiter under a key of its own. The job is moved to a queue of its own before the worker starts,
so that no other worker can take it and this worker takes nothing else.
"""

import io
import multiprocessing
import resource
import secrets
import tempfile
import time
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

from flask import current_app
from rq import Queue, SimpleWorker
from rq.job import Job
from sqlalchemy import func, select

from portal.bench.common import bench_app_config, bench_simulator
from portal.bench.enroll import bench_face

READY_TIMEOUT = 120.0  # the worker process imports the app
POLL_SECONDS = 0.25


def guest_sheet(count) -> tuple[bytes, bytes]:
    """A CSV of ``count`` guests and a ZIP with one small photo each."""
    lines = ["full_name,email,phone,photo"]
    photos = io.BytesIO()
    with zipfile.ZipFile(photos, "w", zipfile.ZIP_STORED) as archive:
        for n in range(count):
            lines.append(f"Bench Guest{n} Import,guest{n}@example.com,+7 900 {n:07d},g{n}.jpg")
            archive.writestr(f"g{n}.jpg", bench_face(n))
    return ("\r\n".join(lines) + "\r\n").encode(), photos.getvalue()


def _worker_process(overrides, queue_name, limiter_name, conn):
    """The child: build the app and a client with the run's limiter, wait for go, work, report."""
    from portal import create_app
    from portal.hikvision.client import HikCentralClient
    from portal.hikvision.ratelimit import SharedRateLimiter

    app = create_app(overrides)
    with app.app_context():
        redis = app.extensions["redis"]
        limiter = SharedRateLimiter(
            redis,
            limiter_name,
            overrides["HIKCENTRAL_RATE_LIMIT_CALLS"],
            overrides["HIKCENTRAL_RATE_LIMIT_WINDOW"],
            max_in_flight=app.config["HIKCENTRAL_MAX_IN_FLIGHT"],
        )
        client = HikCentralClient(
            overrides["HIKCENTRAL_URL"],
            overrides["HIKCENTRAL_APP_KEY"],
            overrides["HIKCENTRAL_APP_SECRET"],
            timeout=30.0,
            limiter=limiter,
        )
        app.extensions["hikcentral"] = client
        import jobs.imports  # noqa: F401  (imported before the clock starts)

        worker = SimpleWorker([Queue(queue_name, connection=redis)], connection=redis)
        conn.send(("ready", worker.name))
        try:
            # Started before the confirm, it takes the job the moment it is queued.
            worker.work(max_jobs=1, logging_level="WARNING")
        finally:
            client.close()
            limiter.delete()
        conn.send({"peak_rss_mb": round(peak_rss_mb(), 1)})


def peak_rss_mb():
    """This process's own peak resident memory in MB.

    Linux carries ``ru_maxrss`` across the exec of a spawned child, so that figure would count the
    parent (a whole test session) too; ``VmHWM`` starts afresh with the new program.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _seed(db, count):
    """An organizer, the simulator's access level "1", an event tomorrow."""
    from portal.models import AccessLevel, Event, Role, User, utcnow

    organizer = User(email="bench@example.test", name="Bench", role=Role.ORGANIZER.value)
    organizer.set_password(secrets.token_urlsafe(12))
    level = AccessLevel(hik_id="1", name="Bench level")
    start = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    event = Event(
        name=f"Bench import of {count}",
        organizer=organizer,
        starts_at=start,
        ends_at=start + timedelta(hours=8),
        access_level=level,
    )
    db.session.add_all([organizer, level, event])
    db.session.commit()
    return organizer, event


def _wait_for_worker(conn, redis, queue_name):
    """Until the child's worker listens on the run's queue."""
    if not conn.poll(READY_TIMEOUT):
        raise RuntimeError("the bench worker process did not start")
    _, name = conn.recv()
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        worker = SimpleWorker.find_by_key(SimpleWorker.redis_worker_namespace_prefix + name, redis)
        if worker is not None and worker.get_state() == "idle":
            return
        time.sleep(0.05)
    raise RuntimeError("the bench worker process did not start listening")


def _private_queue(redis, record, name):
    """Move the just-enqueued job to the run's own queue."""
    job = Job.fetch(record.rq_job_id, connection=redis)
    Queue(job.origin, connection=redis).remove(job.id)
    Queue(name, connection=redis).enqueue_job(job)


def _wait(conn, proc, db, record_id, timeout, started):
    """Wait for the worker's report, noting when progress first moved (seconds from start)."""
    from portal.models import JobRecord

    first_progress = None
    while time.perf_counter() - started < timeout:
        if conn.poll(POLL_SECONDS):
            return conn.recv(), first_progress
        if not proc.is_alive():
            raise RuntimeError("the bench worker process died")
        if first_progress is None:
            db.session.expire_all()
            record = db.session.get(JobRecord, record_id)
            if record is not None and record.progress_done > 0:
                first_progress = time.perf_counter() - started
    raise RuntimeError("the import was not enrolled in time")


def _outcome(db, guest_import_id):
    from portal.models import Visit

    rows = db.session.execute(
        select(Visit.state, func.count())
        .where(Visit.import_id == guest_import_id)
        .group_by(Visit.state)
    ).all()
    return dict(rows)


def run_import_enrollment(guests, latency_ms=300.0, rate=(10, 1.0), *, redis_url=None) -> dict:
    """Stage + confirm an import of ``guests`` and enroll it in a worker process; the figures."""
    from portal import create_app
    from portal.extensions import db
    from portal.models import JobRecord, utcnow
    from portal.services import imports

    calls_allowed, window = rate
    redis_url = redis_url or current_app.config["REDIS_URL"]
    run = uuid.uuid4().hex[:8]
    proc = None
    with bench_simulator(latency_ms, (calls_allowed, window)) as (server, control):
        try:
            with tempfile.TemporaryDirectory(prefix="gatehouse-bench-import-") as tmp:
                overrides = bench_app_config(
                    tmp, server, redis_url, rate, IMPORT_FILES_DIR=str(Path(tmp) / "imports")
                )
                app = create_app(overrides)
                with app.app_context():
                    db.create_all()
                    organizer, event = _seed(db, guests)
                    sheet, photos = guest_sheet(guests)
                    started = time.perf_counter()
                    guest_import = imports.store_upload(
                        event,
                        organizer,
                        (io.BytesIO(sheet), "guests.csv"),
                        (io.BytesIO(photos), "p.zip"),
                    )
                    imports.stage_import(guest_import)  # what its job does, timed here
                    stage_seconds = time.perf_counter() - started
                    del sheet, photos

                    context = multiprocessing.get_context("spawn")
                    conn, child_conn = context.Pipe()
                    queue_name = f"bench-import-{run}"
                    proc = context.Process(
                        target=_worker_process,
                        args=(overrides, queue_name, f"gatehouse:bench:import:{run}", child_conn),
                        daemon=True,
                    )
                    proc.start()
                    _wait_for_worker(conn, app.extensions["redis"], queue_name)

                    before = control.stats()
                    started, started_at = time.perf_counter(), utcnow()
                    record = imports.confirm_import(guest_import, organizer)
                    confirm_seconds = time.perf_counter() - started
                    _private_queue(app.extensions["redis"], record, queue_name)
                    timeout = max(600.0, guests * 3.0 * window / calls_allowed)
                    report, first_progress = _wait(conn, proc, db, record.id, timeout, started)
                    after = control.stats()
                    proc.join(timeout=10)
                    db.session.expire_all()
                    states = _outcome(db, guest_import.id)
                    job = db.session.get(JobRecord, record.id)
                    job_state, job_error = job.state, job.error
                    # Confirm -> all enrolled: the job records when it ended.
                    ended_at = job.ended_at or utcnow()
                    seconds = (ended_at - started_at).total_seconds()
                    job_seconds = (
                        (ended_at - job.started_at).total_seconds() if job.started_at else None
                    )
                    db.session.remove()
                    db.engine.dispose()
        finally:
            if proc is not None and proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)

    calls = sum(after["calls"].values()) - sum(before["calls"].values())
    floor = calls * window / calls_allowed
    return {
        "bench": "import",
        "part": "enroll",
        "guests": guests,
        "latency_ms": latency_ms,
        "rate": f"{calls_allowed}/{window:g}",
        "calls": calls,
        "calls_per_guest": round(calls / guests, 3),
        "seconds": round(seconds, 3),
        "floor_seconds": round(floor, 3),
        "ratio": round(seconds / floor, 3) if floor else None,
        "limit_seconds": round(1.3 * floor + 2, 3),
        "http_429": after["rate_limited"] - before["rate_limited"],
        "enrolled": states.get("enrolled", 0),
        "failed": states.get("failed", 0),
        "job_state": job_state,
        "job_error": job_error,
        "confirm_seconds": round(confirm_seconds, 3),
        "job_seconds": round(job_seconds, 3) if job_seconds is not None else None,
        "first_progress_seconds": round(first_progress, 3) if first_progress else None,
        "stage_seconds": round(stage_seconds, 3),
        "worker_peak_rss_mb": report["peak_rss_mb"],
    }
