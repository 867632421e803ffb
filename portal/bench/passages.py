"""Benchmark: passage monitoring and the passage log (issue 7's figures).

``flask --app wsgi bench passages``

Runs on a temporary SQLite database (or ``--database-url``, e.g. an empty PostgreSQL database
that it migrates and leaves with its rows), the configured Redis (only the poll's lock key) and
an in-process simulator at 0 ms. It prints one JSON object:

- ``idle_poll``: a poll with ``--visits`` active visits, the simulator's 4 doors and the two
  default event types and no new events: door/events calls (expected 2);
- ``paged_poll``: N new events of one type add ceil(N / 500) - 1 calls;
- ``bulk``: ``--events`` new events fetched, mapped and inserted: seconds (floor 5 s);
- ``log``: with ``--stored`` passages stored, the log's first page and a filtered page (one door,
  last 24 h) through the real page, best of 5 (floor 150 ms);
- ``latency``: a passage made on the simulator until it is on the open log page, polling every
  ``--poll-seconds`` the way the scheduler does (floor: one interval plus 5 s).
"""

import json
import math
import random
import secrets
import tempfile
import threading
import time
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import insert, select

from portal.bench.common import bench_app_config, bench_simulator
from portal.hikvision.client import HikCentralClient

PAGE_FLOOR_MS = 150.0
BULK_FLOOR_S = 5.0
LATENCY_SLACK_S = 5.0


def _app(server, database_url, tmp, poll_seconds):
    from flask_migrate import upgrade

    from portal import create_app
    from portal.extensions import db

    config = bench_app_config(
        tmp,
        server,
        current_app.config["REDIS_URL"],
        PASSAGE_POLL_SECONDS=poll_seconds,
        HIKCENTRAL_RATE_LIMIT_CALLS=1000,
        WTF_CSRF_ENABLED=False,
    )
    if database_url:
        config["SQLALCHEMY_DATABASE_URI"] = database_url
    app = create_app(config)
    with app.app_context():
        upgrade()
        db.session.remove()
    return app


def _client(server):
    return HikCentralClient(server.url, server.app_key, server.app_secret, timeout=60.0)


def _seed_site(app, sim, server, visits):
    """Doors and levels synced; ``visits`` active visits whose persons exist on the simulator."""
    from portal.extensions import db
    from portal.hikvision.simulator.state import Person
    from portal.models import AccessLevel, Guest, User, Visit, VisitState, utcnow
    from portal.services import sync

    client = _client(server)
    sync.sync_access_levels_and_doors(client)
    client.close()
    host = User(email=f"bench-{secrets.token_hex(4)}@example.test", name="Bench Host")
    host.set_password(secrets.token_urlsafe(16))
    guard = User(email=f"guard-{secrets.token_hex(4)}@example.test", name="Bench Guard")
    guard.role = "security"
    guard.set_password(secrets.token_urlsafe(16))
    db.session.add_all([host, guard])
    level = db.session.scalar(select(AccessLevel).where(AccessLevel.hik_id == "2"))
    now = utcnow().replace(microsecond=0)
    begin, end = now - timedelta(hours=2), now + timedelta(hours=8)
    state = sim.state
    person_ids = []
    with state.lock:
        for n in range(visits):
            person = Person(
                person_id=state.next_person_id(),
                person_code=f"B{n:07d}",
                family_name=f"Guest {n}",
                given_name="Bench",
                org_code="1",
                begin_time=begin.isoformat(),
                end_time=end.isoformat(),
                face=b"\xff\xd8bench",
            )
            state.persons[person.person_id] = person
            state.codes[person.person_code] = person.person_id
            state.levels["2"].members.add(person.person_id)
            person_ids.append(person.person_id)
    db.session.flush()
    guests = [{"full_name": f"Bench Guest {n}", "created_at": now} for n in range(visits)]
    db.session.execute(insert(Guest), guests)
    guest_ids = db.session.scalars(select(Guest.id).order_by(Guest.id)).all()[-visits:]
    db.session.execute(
        insert(Visit),
        [
            {
                "guest_id": guest_id,
                "host_id": host.id,
                "access_level_id": level.id,
                "starts_at": begin,
                "ends_at": end,
                "person_code": f"B{n:07d}",
                "hik_person_id": person_id,
                "state": VisitState.ENROLLED.value,
                "created_at": now,
                "updated_at": now,
                "delivery_failed": 0,
            }
            for n, (guest_id, person_id) in enumerate(zip(guest_ids, person_ids, strict=True))
        ],
    )
    db.session.commit()
    return guard.id, person_ids


def _add_events(sim, person_ids, count, *, event_type=196893, start=None):
    """``count`` door events on the simulator (in-process, like a busy site's readers)."""
    from datetime import UTC, datetime

    from portal.hikvision.simulator.state import DoorEvent

    state = sim.state
    start = start or datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    with state.lock:
        doors = list(state.doors.values())
        for n in range(count):
            person = state.persons[person_ids[n % len(person_ids)]]
            door = doors[n % len(doors)]
            state.events.append(
                DoorEvent(
                    event_id=state.next_event_id(),
                    event_time=start + timedelta(milliseconds=n),
                    receive_time=start,
                    event_type=event_type,
                    person_id=person.person_id,
                    person_name=person.name,
                    door=door,
                    in_out=1 if door.direction == "in" else 0,
                )
            )


def _door_calls(control):
    return control.stats()["calls"].get("/artemis/api/acs/v1/door/events", 0)


def _poll(app, server):
    from portal.services import passages

    client = _client(server)
    try:
        with app.app_context():
            return passages.monitor(client, app.extensions["redis"])
    finally:
        client.close()


def _reset_cursor(app, when):
    from portal.services import passages

    with app.app_context():
        passages.set_cursor(when)


def _fill_log(app, stored):
    """``stored`` passages over the last 30 days at the synced doors."""
    from portal.extensions import db
    from portal.models import Door, Passage, Visit, utcnow

    with app.app_context():
        doors = db.session.scalars(select(Door)).all()
        visit_ids = db.session.scalars(select(Visit.id)).all()
        now = utcnow().replace(microsecond=0)
        rng = random.Random(7)
        batch = []
        for n in range(stored):
            door = doors[n % len(doors)]
            batch.append(
                {
                    "hik_event_id": f"fill-{n}",
                    "visit_id": visit_ids[n % len(visit_ids)],
                    "person_id": "0",
                    "door_id": door.id,
                    "door_hik_id": door.hik_id,
                    "direction": "in" if door.direction == "entry" else "out",
                    "kind": "granted" if n % 10 else "refused",
                    "event_type": 196893 if n % 10 else 197151,
                    "manual": False,
                    "occurred_at": now - timedelta(seconds=rng.randrange(30 * 86400)),
                    "received_at": now,
                }
            )
            if len(batch) == 5000:
                db.session.execute(insert(Passage), batch)
                batch = []
        if batch:
            db.session.execute(insert(Passage), batch)
        db.session.commit()
        return doors[0].id


def _timed_get(http, url, tries=5):
    best = None
    for _ in range(tries):
        started = time.perf_counter()
        response = http.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise click.ClickException(f"GET {url} answered {response.status_code}")
        best = elapsed if best is None else min(best, elapsed)
    return round(best, 1)


def _latency(app, server, control, http, person_code, poll_seconds, trials):
    """Seconds from a passage on the simulator to its row on the open log page."""
    from jobs.schedule import scheduler_interval

    lag = scheduler_interval(app.config)
    stop = threading.Event()

    def scheduler():
        # The scheduler's cadence: a poll, then the period plus its worst look-up delay.
        while not stop.is_set():
            _poll(app, server)
            stop.wait(poll_seconds + lag)

    thread = threading.Thread(target=scheduler, daemon=True)
    thread.start()
    seen = []
    try:
        for trial in range(trials):
            time.sleep(random.Random(trial).uniform(0, poll_seconds))
            answer = control.passage(person_code=person_code, door="1", direction="in")
            made = time.perf_counter()
            marker = f'data-event="{answer["eventId"]}"'
            while time.perf_counter() - made < poll_seconds + lag + 30:
                if marker in http.get("/security/passages?fragment=rows").get_data(as_text=True):
                    break
                time.sleep(0.2)
            seen.append(round(time.perf_counter() - made, 2))
    finally:
        stop.set()
        thread.join(timeout=poll_seconds + 60)
    return seen


@click.command("passages")
@click.option("--visits", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--events", default=10_000, show_default=True, type=click.IntRange(1, 200_000))
@click.option("--paged-events", default=1234, show_default=True, type=click.IntRange(1, 50_000))
@click.option("--stored", default=100_000, show_default=True, type=click.IntRange(0, 2_000_000))
@click.option("--poll-seconds", default=5, show_default=True, type=click.IntRange(1, 300))
@click.option("--trials", default=3, show_default=True, type=click.IntRange(0, 50))
@click.option("--database-url", default=None, help="An empty database to use instead of SQLite.")
@with_appcontext
def passages(visits, events, paged_events, stored, poll_seconds, trials, database_url):
    """Passage monitoring and the passage log; prints one JSON object."""
    from portal.extensions import db
    from portal.models import User, utcnow

    with tempfile.TemporaryDirectory() as tmp, bench_simulator(0) as (server, control):
        app = _app(server, database_url, tmp, poll_seconds)
        sim = server.app.extensions["simulator"]
        with app.app_context():
            guard_id, person_ids = _seed_site(app, sim, server, visits)
        _reset_cursor(app, utcnow() - timedelta(minutes=5))
        result = {"visits": visits, "doors": len(sim.state.doors)}

        before = _door_calls(control)
        idle = _poll(app, server)
        result["idle_poll"] = {"calls": _door_calls(control) - before, "expected": 2}

        _add_events(sim, person_ids, paged_events, event_type=197151)
        before = _door_calls(control)
        paged = _poll(app, server)
        extra = math.ceil(paged_events / 500) - 1
        result["paged_poll"] = {
            "events": paged_events,
            "calls": _door_calls(control) - before,
            "expected": 2 + extra,
            "stored": paged["stored"],
            "status": paged["status"],
        }

        _add_events(sim, person_ids, events)
        started = time.perf_counter()
        bulk = _poll(app, server)
        seconds = time.perf_counter() - started
        result["bulk"] = {
            "status": bulk["status"],
            "events": events,
            "stored": bulk["stored"],
            "calls": bulk["calls"],
            "seconds": round(seconds, 3),
            "floor_seconds": BULK_FLOOR_S,
            "ok": seconds < BULK_FLOOR_S and bulk["stored"] == events,
        }

        door_id = _fill_log(app, stored) if stored else None
        with app.app_context():
            guard_key = db.session.get(User, guard_id).get_id()  # id and session generation
        http = app.test_client()
        with http.session_transaction() as session:
            session["_user_id"] = guard_key
            session["_fresh"] = True
        since = (utcnow() - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M")
        first_ms = _timed_get(http, "/security/passages")
        filtered_ms = _timed_get(http, f"/security/passages?door={door_id}&since={since}")
        with app.app_context():
            total = db.session.scalar(select(db.func.count()).select_from(_passage_table()))
        result["log"] = {
            "passages": total,
            "database": app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0],
            "first_page_ms": first_ms,
            "filtered_page_ms": filtered_ms,
            "floor_ms": PAGE_FLOOR_MS,
            "ok": max(first_ms, filtered_ms) < PAGE_FLOOR_MS,
        }

        seen = _latency(app, server, control, http, "B0000000", poll_seconds, trials)
        result["latency"] = {
            "poll_seconds": poll_seconds,
            "seconds": seen,
            "max_seconds": max(seen) if seen else None,
            "floor_seconds": poll_seconds + LATENCY_SLACK_S,
            "ok": bool(seen) and max(seen) <= poll_seconds + LATENCY_SLACK_S,
        }
        result["idle_poll"]["ok"] = result["idle_poll"]["calls"] == 2
        result["paged_poll"]["ok"] = (
            result["paged_poll"]["calls"] == result["paged_poll"]["expected"]
        )
        result["idle_poll"]["status"] = idle["status"]
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    click.echo(json.dumps(result))


def _passage_table():
    from portal.models import Passage

    return Passage.__table__
