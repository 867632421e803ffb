"""Benchmark: a host registers visits through the real form; one real worker enrolls each.

``flask --app wsgi bench visit --visits 10 --latency-ms 300``

Everything runs on a temporary SQLite database, migrated with Alembic, and the configured Redis;
the simulator runs in this process with the given latency, the worker is a real
``flask --app wsgi worker`` child process. Visits go one at a time: each POST is timed alone,
then the visit is followed to ``enrolled`` and its job to the end, so that nothing queues behind
another visit. The simulator counts the HikCentral calls each visit cost.

The worker listens on the ordinary queues (it takes only the run's jobs when nothing else is
queued there); every job of the run is deleted from Redis at the end, as are the run's limiter
keys. No Redis database is flushed.
"""

import io
import json
import re
import secrets
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from PIL import Image, ImageChops
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.results import Result
from sqlalchemy import select

from portal.bench import processes
from portal.bench.common import bench_app_config, bench_simulator, parse_rate
from portal.bench.faces import portrait
from portal.services.delivery import LOCK_KEY, NEXT_KEY

PHOTO_SIZE = (3000, 4000)  # a 12-megapixel portrait photo, as a phone takes it
# The devices' delivery status: polled after enrollment, not part of it.
DELIVERY_PATHS = frozenset({"/artemis/api/visitor/v1/person/ID/elementDownloadDetail"})
ENROLLMENT_CALLS_ALLOWED = 3
QUEUEING_ALLOWANCE_SECONDS = 1.0
POLL_SECONDS = 0.01
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
VISIT_URL = re.compile(r"/visits/(\d+)$")
FIELD_ERROR = re.compile(r'<p class="field-error" id="([^"]+)-error">([^<]*)</p>')


class BenchError(click.ClickException):
    """The benchmark could not run to the end; the message says where it stopped."""


def phone_photo(seed=0, size=PHOTO_SIZE) -> bytes:
    """A JPEG like a phone's: 12 MP, smooth shading, a face and sensor noise."""
    width, height = size
    gradient = Image.linear_gradient("L")
    base = Image.merge(
        "RGB",
        [gradient.rotate(angle).resize(size) for angle in (seed % 360, 90, 45)],
    )
    blotches = Image.merge(
        "RGB",
        [
            Image.effect_noise((width // 40, height // 40), 90).resize(
                size, Image.Resampling.BICUBIC
            )
            for _ in range(3)
        ],
    )
    image = Image.blend(base, blotches, 0.5)
    face = portrait((width * 4 // 5, height * 3 // 5), (seed * 37 % 256, 120, 100))
    image.paste(face, ((width - face.width) // 2, height // 5))
    noise = Image.effect_noise(size, 3).convert("RGB")
    image = ImageChops.add(image, noise, scale=1.0, offset=-128)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def summary(values, digits=3):
    """Median, 95th percentile (nearest rank) and maximum."""
    ordered = sorted(values)
    p95 = ordered[max(0, -(-95 * len(ordered) // 100) - 1)]
    return {
        "median": round(statistics.median(ordered), digits),
        "p95": round(p95, digits),
        "max": round(ordered[-1], digits),
    }


def prepare(app):
    """Migrate, copy access levels from the simulator, create a host; (email, password, level)."""
    from flask_migrate import upgrade

    from portal.extensions import db
    from portal.hikvision import client_for
    from portal.models import Role
    from portal.services import accounts, visits
    from portal.services.sync import sync_access_levels_and_doors

    with app.app_context():
        upgrade()
        sync_access_levels_and_doors(client_for(app))
        level = visits.active_access_levels()[0]
        email, password = "bench.host@example.com", secrets.token_urlsafe(18)
        accounts.create_user(email=email, name="Bench Host", role=Role.HOST, password=password)
        level_id = level.id
        db.session.remove()
    return email, password, level_id


def csrf_from(response, url):
    match = CSRF_FIELD.search(response.get_data(as_text=True))
    if not match:
        raise BenchError(f"no CSRF token on {url} (status {response.status_code})")
    return match.group(1)


def log_in(client, email, password):
    """Log in through the log-in form, as a person would."""
    token = csrf_from(client.get("/login"), "/login")
    answer = client.post("/login", data={"csrf_token": token, "email": email, "password": password})
    if answer.status_code != 302:
        raise BenchError(f"the log-in form answered {answer.status_code}, not a redirect")


def visit_form(n, token, level_id, photo, zone):
    """The new-visit form of guest ``n``: from now for two hours, with the photo."""
    start = datetime.now(zone).replace(second=0, microsecond=0)
    end = start + timedelta(hours=2)
    return {
        "csrf_token": token,
        "full_name": f"Bench Guest {n}",
        "email": f"guest{n}@example.com",
        "phone": f"+7 900 {n:07d}",
        "company": "Bench Ltd",
        "purpose": "Benchmark visit",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": end.strftime("%Y-%m-%dT%H:%M"),
        "access_level": str(level_id),
        "photo": (io.BytesIO(photo), f"IMG_{n:04d}.jpg", "image/jpeg"),
    }


def submit(client, n, level_id, photo, zone):
    """POST the new-visit form; (visit id, seconds the POST took)."""
    token = csrf_from(client.get("/visits/new"), "/visits/new")
    form = visit_form(n, token, level_id, photo, zone)
    started = time.perf_counter()
    answer = client.post("/visits/new", data=form, content_type="multipart/form-data")
    seconds = time.perf_counter() - started
    match = VISIT_URL.search(answer.headers.get("Location", ""))
    if answer.status_code != 302 or not match:
        errors = "; ".join(
            f"{field}: {text}" for field, text in FIELD_ERROR.findall(answer.get_data(as_text=True))
        )
        raise BenchError(f"visit {n}: the form answered {answer.status_code} ({errors or '-'})")
    return int(match.group(1)), seconds, started


def wait_for(app, visit_id, timeout, log_path):
    """Seconds (from now) until the visit is enrolled; then wait for its job to end."""
    from portal.extensions import db
    from portal.models import JobRecord, JobState, Visit

    enrolled_at = None
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        with app.app_context():
            state = db.session.scalar(select(Visit.state).where(Visit.id == visit_id))
            if enrolled_at is None and state == "enrolled":
                enrolled_at = time.perf_counter()
            job_states = db.session.scalars(
                select(JobRecord.state).where(
                    JobRecord.subject_type == "visit", JobRecord.subject_id == visit_id
                )
            ).all()
            db.session.remove()
        if state not in ("pending", "enrolling", "enrolled"):
            raise BenchError(f"visit {visit_id} became {state}: {processes.tail(log_path)}")
        if enrolled_at is not None and job_states and set(job_states) <= {JobState.FINISHED}:
            return enrolled_at
        time.sleep(POLL_SECONDS)
    log = processes.tail(log_path)
    raise BenchError(f"visit {visit_id} was not enrolled in {timeout:g} s: {log}")


def forget_jobs(app, redis):
    """Delete every RQ job of the run from Redis (queued ones leave their queue too)."""
    from portal.extensions import db
    from portal.models import JobRecord

    with app.app_context():
        ids = db.session.scalars(select(JobRecord.rq_job_id)).all()
        db.session.remove()
    # The deferred delivery checks are system jobs without a record; when the worker stops,
    # one may be anywhere between scheduled, queued, started and finished.
    for name in ("high", "default", "low"):
        queue = Queue(name, connection=redis)
        ids += queue.get_job_ids()
        for registry in (
            queue.scheduled_job_registry,
            queue.started_job_registry,
            queue.finished_job_registry,
            queue.failed_job_registry,
            queue.deferred_job_registry,
            queue.canceled_job_registry,
        ):
            ids += registry.get_job_ids()
    for job_id in ids:
        try:
            job = Job.fetch(job_id, connection=redis)
        except NoSuchJobError:
            continue
        Result.delete_all(job)
        job.delete()
    redis.delete(NEXT_KEY, LOCK_KEY)


def forget_limiter(app):
    """Close the bench's HikCentral client and delete the run's limiter keys."""
    from portal.hikvision.ratelimit import SharedRateLimiter, limiter_name

    client = app.extensions.pop("hikcentral", None)
    if client is not None:
        client.close()
    name = limiter_name(app.config["HIKCENTRAL_URL"])
    SharedRateLimiter(app.extensions["redis"], name, 1, 1.0).delete()


def run_visit_bench(visits, latency_ms=300.0, rate=None, *, redis_url, delivery_polls=1):
    """Register ``visits`` visits through the form, one at a time, enrolled by one worker."""
    from portal import create_app

    budget = 3 * latency_ms / 1000 + QUEUEING_ALLOWANCE_SECONDS
    submits, enrolled, per_visit = [], [], []
    with bench_simulator(latency_ms, rate) as (server, control):
        with tempfile.TemporaryDirectory(prefix="gatehouse-bench-visit-") as tmp:
            config = bench_app_config(tmp, server, redis_url, rate)
            app = create_app(config)
            redis = app.extensions["redis"]
            log_path = Path(tmp) / "worker.log"
            worker = None
            try:
                email, password, level_id = prepare(app)
                photo = phone_photo()
                # Delivery is checked later by a deferred job, at most this many times.
                env = processes.environment(config, DELIVERY_CHECKS=max(1, delivery_polls))
                worker = processes.start_worker(env, log_path, redis)
                client = app.test_client()
                log_in(client, email, password)
                for n in range(visits):
                    before = control.stats()
                    visit_id, seconds, started = submit(
                        client, n, level_id, photo, app.config["TIMEZONE"]
                    )
                    enrolled_at = wait_for(app, visit_id, max(30.0, 10 * budget), log_path)
                    submits.append(seconds * 1000)
                    enrolled.append(enrolled_at - started)
                    per_visit.append(processes.calls_between(before, control.stats()))
            finally:
                if worker is not None:
                    processes.stop(worker)
                forget_jobs(app, redis)
                forget_limiter(app)
                with app.app_context():
                    from portal.extensions import db

                    db.engine.dispose()

    all_calls = [sum(calls.values()) for calls in per_visit]
    enrollment_calls = [
        sum(n for path, n in calls.items() if path not in DELIVERY_PATHS) for calls in per_visit
    ]
    return {
        "bench": "visit",
        "visits": visits,
        "latency_ms": latency_ms,
        "rate": f"{rate[0]}/{rate[1]:g}" if rate else None,
        "submit_ms": summary(submits, 1),
        "submit_budget_ms": 100,
        "enrolled_seconds": summary(enrolled),
        "enrolled_budget_seconds": round(budget, 3),
        "enrollment_calls_per_guest": {
            "max": max(enrollment_calls),
            "mean": round(statistics.mean(enrollment_calls), 3),
        },
        "enrollment_calls_allowed": ENROLLMENT_CALLS_ALLOWED,
        "all_calls_per_guest": {
            "max": max(all_calls),
            "mean": round(statistics.mean(all_calls), 3),
        },
        "calls_by_path": _totals(per_visit),
        "delivery_polls": delivery_polls,
        "photo_bytes_uploaded": len(photo),
    }


def _totals(per_visit):
    totals = {}
    for calls in per_visit:
        for path, count in calls.items():
            totals[path] = totals.get(path, 0) + count
    return dict(sorted(totals.items()))


@click.command("visit")
@click.option("--visits", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--latency-ms", default=300.0, show_default=True, type=click.FloatRange(0, 10_000))
@click.option("--rate", default=None, help="A server-side limit CALLS/SECONDS (none by default).")
@click.option(
    "--delivery-polls",
    default=1,
    show_default=True,
    type=click.IntRange(0, 10),
    help="Delivery status polls after each enrollment.",
)
@with_appcontext
def visit(visits, latency_ms, rate, delivery_polls):
    """Visits registered through the form and enrolled by a worker; prints one JSON object."""
    result = run_visit_bench(
        visits,
        latency_ms,
        parse_rate(rate) if rate else None,
        redis_url=current_app.config["REDIS_URL"],
        delivery_polls=delivery_polls,
    )
    click.echo(json.dumps(result))
