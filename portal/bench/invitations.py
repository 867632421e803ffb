"""Benchmark: an event's invitations in one job, counted on a real local SMTP server; and the
guest's page: its answer time and the photo check of a 12-megapixel phone photo.

``flask --app wsgi bench invitations --invitations 500 --mail-rate 100``

Everything runs on a temporary SQLite database and the configured Redis; the SMTP server is the
portal's own sink (aiosmtpd) started in this process, empty, so every message it counts is this
run's. The job is moved to a queue of its own and run by a SimpleWorker in this process, so no
other worker takes it. The simulator is started only because an app needs a HikCentral URL: the
bench makes no HikCentral call.
"""

import json
import re
import statistics
import tempfile
import time
import uuid

import click
from flask import current_app, has_app_context
from flask.cli import ScriptInfo
from rq import Queue, SimpleWorker

from portal.bench.common import bench_app_config, bench_event, bench_simulator
from portal.bench.visit import phone_photo

LINK = re.compile(r"https?://\S+/g/\S+")
PAGE_SAMPLES = 20
PHOTO_SAMPLES = 5


def _seed(db, count):
    """An organizer, an event tomorrow and ``count`` guests without a photo."""
    from portal.models import Guest, Visit, VisitState

    organizer, event = bench_event(db, "Bench invitations", location="Main hall")
    for n in range(count):
        guest = Guest(full_name=f"Bench Guest{n}", email=f"guest{n}@example.com")
        db.session.add(
            Visit(
                guest=guest,
                host=organizer,
                event=event,
                access_level=event.access_level,
                starts_at=event.starts_at,
                ends_at=event.ends_at,
                state=VisitState.PENDING.value,
            )
        )
    db.session.commit()
    return organizer, event


def _run_private(redis, record):
    """Run the job on a queue of its own with a SimpleWorker in this process."""
    from portal.bench.import_enroll import _private_queue

    name = f"bench-invitations-{uuid.uuid4().hex[:8]}"
    _private_queue(redis, record, name)
    queue = Queue(name, connection=redis)
    try:
        SimpleWorker([queue], connection=redis).work(burst=True, logging_level="WARNING")
    finally:
        queue.delete(delete_jobs=True)


def _links(messages):
    links = []
    for message in messages:
        text = message.get_body(("plain",)).get_content()
        links.extend(LINK.findall(text))
    return links


def _page_times(app, links):
    """Milliseconds each GET of a guest's page took (in-process, the server's own time)."""
    client = app.test_client()
    times = []
    for link in links[:PAGE_SAMPLES]:
        path = "/g/" + link.rsplit("/g/", 1)[1]
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise click.ClickException(f"the guest's page answered {response.status_code}")
    return times


def _photo_check_times():
    """Milliseconds of the full photo check (decode, face check, re-encode) of 12 MP photos."""
    from portal.services.photos import normalize_photo

    times = []
    for seed in range(PHOTO_SAMPLES):
        photo = phone_photo(seed)
        started = time.perf_counter()
        normalize_photo(photo, face_check=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


def run_invitations(count, mail_rate, *, redis_url):
    """Invite ``count`` guests of one event in one job; the figures."""
    from portal import create_app
    from portal.extensions import db
    from portal.mailsink import start_sink
    from portal.models import JobRecord
    from portal.services import invitations

    sink = start_sink()
    try:
        with bench_simulator(0) as (server, _control), tempfile.TemporaryDirectory() as tmp:
            config = bench_app_config(
                tmp,
                server,
                redis_url,
                MAIL_SERVER=sink.hostname,
                MAIL_PORT=sink.port,
                MAIL_RATE=mail_rate,
                PUBLIC_URL="http://bench.example.com",
            )
            app = create_app(config)
            with app.app_context():
                db.create_all()
                organizer, event = _seed(db, count)
                started = time.perf_counter()
                record = invitations.invite_event_guests(event, by=organizer)
                _run_private(app.extensions["redis"], record)
                seconds = time.perf_counter() - started
                db.session.expire_all()
                job = db.session.get(JobRecord, record.id)
                job_figures = {
                    "job_state": job.state,
                    "progress": [job.progress_done, job.progress_total, job.progress_failed],
                }
                messages = list(sink.handler.messages)
                links = _links(messages)
                page_ms = _page_times(app, links)
                db.session.remove()
                db.engine.dispose()
    finally:
        sink.stop()
    photo_ms = _photo_check_times()
    floor = (count - 1) / mail_rate if mail_rate else 0.0
    return {
        "bench": "invitations",
        "invitations": count,
        "mail_rate": mail_rate,
        "messages": len(messages),
        "distinct_links": len(set(links)),
        "distinct_recipients": len({m["To"] for m in messages}),
        "with_text_and_html": sum(
            1 for m in messages if m.get_body(("plain",)) and m.get_body(("html",))
        ),
        **job_figures,
        "seconds": round(seconds, 3),
        "pacing_floor_seconds": round(floor, 3),
        "messages_per_second": round(len(messages) / seconds, 1) if seconds else None,
        "guest_page_ms_median": round(statistics.median(page_ms), 1),
        "guest_page_ms_max": round(max(page_ms), 1),
        "photo_check_12mp_ms_median": round(statistics.median(photo_ms), 1),
        "photo_check_12mp_ms_max": round(max(photo_ms), 1),
    }


@click.command("invitations")
@click.option("--invitations", "count", default=500, show_default=True, type=click.IntRange(1))
@click.option(
    "--mail-rate",
    default=100.0,
    show_default=True,
    type=click.FloatRange(0),
    help="MAIL_RATE for the run: messages per second (0: unpaced).",
)
def invitations_(count, mail_rate):
    """Invite an event's guests in one job to a local SMTP server; prints one JSON object."""
    click.echo(json.dumps(run_invitations(count, mail_rate, redis_url=_redis_url())))


def _redis_url():
    if has_app_context():
        return current_app.config["REDIS_URL"]
    return click.get_current_context().ensure_object(ScriptInfo).load_app().config["REDIS_URL"]
