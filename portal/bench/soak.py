"""Benchmark: a soak under faults, with a worker killed and Redis flushed in the middle.

``flask --app wsgi bench soak`` (``--short`` for the CI form: fewer guests, same faults)

The simulator answers a share of calls with faults (429, 500, code 5, dropped connections,
timeouts); two real worker processes and the scheduler run against a temporary SQLite database
and a Redis database the run claims for itself (it is flushed in the middle and emptied at the
end). A guest list is imported while single registrations arrive over time; once the import is
under way one worker is killed with SIGKILL (a fresh one is started, as a supervisor would) and
later Redis is flushed. The run ends when no visit is waiting any more. It reports whether every
guest is enrolled exactly once on the simulator, visits left in a transient state, jobs whose
record still says queued or running, and the kills, faults, retries and repairs.
"""

import io
import json
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from portal.bench import processes
from portal.bench.common import bench_app_config, bench_event, bench_simulator, parse_rate
from portal.bench.import_enroll import guest_sheet
from portal.bench.visit import forget_limiter, prepare

POLL_SECONDS = 0.5
FULL = {"guests": 200, "singles": 100, "spread": 60.0, "timeout": 900.0}
SHORT = {"guests": 40, "singles": 20, "spread": 15.0, "timeout": 150.0}
# Short periods so that recovery shows within the run (production: see portal/config.py).
CHILD_SETTINGS = {
    "WORKER_HEARTBEAT_SECONDS": 2,
    "WORKER_MAINTENANCE_SECONDS": 5,
    "RECONCILE_SECONDS": 5,
    "RECONCILE_STUCK_SECONDS": 15,
    "DRIFT_REPAIR_SECONDS": 10,
    "DELIVERY_CHECK_DELAYS": "2,5,10",
    "REAPPLY_RETRY_DELAYS": "3,10",
    "JOB_RETRY_INTERVALS": "1,2,4,8,15,30",
    "HIKCENTRAL_TIMEOUT": 2,
    "HIKCENTRAL_RATE_LIMIT_MAX_WAIT": 10,
}
WAITING = ("pending", "enrolling")


def _seed_event(app, level_id):
    """An organizer and an event tomorrow on the synced access level: their ids."""
    from portal.extensions import db
    from portal.models import AccessLevel

    with app.app_context():
        organizer, event = bench_event(db, "Soak", db.session.get(AccessLevel, level_id))
        ids = organizer.id, event.id
        db.session.remove()
    return ids


def _import(app, organizer_id, event_id, guests):
    from portal.extensions import db
    from portal.models import Event, User
    from portal.services import imports

    sheet, photos = guest_sheet(guests)
    with app.app_context():
        organizer, event = db.session.get(User, organizer_id), db.session.get(Event, event_id)
        staged = imports.store_upload(
            event, organizer, (io.BytesIO(sheet), "guests.csv"), (io.BytesIO(photos), "p.zip")
        )
        imports.stage_import(staged)  # in this process: the soak is about enrollment
        imports.confirm_import(staged, organizer)
        db.session.remove()


def _singles(app, email, level_id, count, spread, errors):
    """Register ``count`` visits one after another over ``spread`` seconds (a thread)."""
    from portal.bench.rush import _register

    pause = spread / max(count, 1)
    for n in range(count):
        try:
            _register(app, email, level_id, 10_000 + n)
        except Exception as exc:  # noqa: BLE001 - the report says what went wrong
            errors.append(type(exc).__name__)
        time.sleep(pause)


def _counts(app):
    from portal.extensions import db
    from portal.models import Visit

    with app.app_context():
        rows = dict(
            db.session.execute(select(Visit.state, func.count()).group_by(Visit.state)).all()
        )
        db.session.remove()
    return rows


def _import_progress(app):
    from portal.extensions import db
    from portal.models import Visit

    with app.app_context():
        done = db.session.scalar(
            select(func.count()).where(Visit.import_id.is_not(None), Visit.state == "enrolled")
        )
        db.session.remove()
    return done or 0


class _Processes:
    """The workers and the scheduler; a worker that exits is started again (as systemd does)."""

    def __init__(self, env, tmp, connection, workers):
        self.env, self.tmp, self.connection = env, Path(tmp), connection
        self.started = 0
        self.restarts = 0
        self.workers = [self._worker() for _ in range(workers)]
        self.scheduler = processes.start(["scheduler"], env, self.tmp / "scheduler.log")

    def _worker(self):
        self.started += 1
        log = self.tmp / f"worker{self.started}.log"
        return processes.start_worker(self.env, log, self.connection)

    def kill_one(self):
        victim = self.workers.pop(0)
        left = processes.children(victim.pid)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        # Its RQ scheduler process dies with the host in real life; here it would linger.
        processes.end_children(left)
        victim.log.close()
        self.workers.append(self._worker())
        return victim.pid

    def supervise(self):
        for n, proc in enumerate(self.workers):
            if proc.poll() is not None:
                proc.log.close()
                self.restarts += 1
                self.workers[n] = self._worker()

    def stop(self):
        for proc in [*self.workers, self.scheduler]:
            processes.stop(proc)


def _outcome(app, control):
    from portal.extensions import db
    from portal.models import OPEN_JOB_STATES, DriftRepair, JobRecord, Visit

    with app.app_context():
        visits = db.session.execute(select(Visit.person_code, Visit.state)).all()
        records = db.session.execute(select(JobRecord.state, JobRecord.result)).all()
        repairs = db.session.scalar(select(func.count()).select_from(DriftRepair))
        db.session.remove()
    on_sim = {}
    for person in control.state()["persons"]:
        on_sim[person["person_code"]] = on_sim.get(person["person_code"], 0) + 1
    enrolled = [code for code, state in visits if state in ("enrolled", "on_site")]
    retries = sum(max(0, (result or {}).get("attempts", 1) - 1) for _, result in records)
    return {
        "visits": len(visits),
        "enrolled": len(enrolled),
        "enrolled_once_on_hikcentral": sum(on_sim.get(code) == 1 for code in enrolled),
        "duplicate_persons": sum(count - 1 for count in on_sim.values() if count > 1),
        "missing_persons": sum(code not in on_sim for code in enrolled),
        "transient_visits": sum(state in WAITING for _, state in visits),
        "jobs": len(records),
        "jobs_still_open": sum(state in OPEN_JOB_STATES for state, _ in records),
        "job_retries": retries,
        "drift_repairs": repairs,
    }


def run_soak(*, guests, singles, spread, timeout, workers=2, latency_ms=20.0, rate=(20, 1.0),
             fault_rate=0.25, redis_url, own_db=True):  # fmt: skip
    """Run the soak and return its report (see the module docstring)."""
    claimed = None
    if own_db:
        redis_url, claimed = processes.claim_redis_database(redis_url)
    try:
        return _soak(guests, singles, spread, timeout, workers, latency_ms, rate, fault_rate,
                     redis_url)  # fmt: skip
    finally:
        if claimed is not None:
            claimed.flushdb()


def _soak(guests, singles, spread, timeout, workers, latency_ms, rate, fault_rate, redis_url):
    from portal import create_app

    events = []
    with bench_simulator(latency_ms, rate) as (server, control):
        with tempfile.TemporaryDirectory(prefix="gatehouse-bench-soak-") as tmp:
            config = bench_app_config(
                tmp, server, redis_url, rate, IMPORT_FILES_DIR=str(Path(tmp) / "imports")
            )
            app = create_app(config)
            connection = app.extensions["redis"]
            email, _, level_id = prepare(app)
            organizer_id, event_id = _seed_event(app, level_id)
            # The workers allow themselves more than the server does: some calls meet a 429.
            env = processes.environment(
                config, **CHILD_SETTINGS, HIKCENTRAL_RATE_LIMIT_CALLS=int(rate[0] * 1.5) + 1
            )
            procs = _Processes(env, tmp, connection, workers)
            errors = []
            started = time.perf_counter()
            try:
                control.configure(fault_rate=fault_rate, fault_seed=7, slow_seconds=3.0)
                _import(app, organizer_id, event_id, guests)
                sender = threading.Thread(
                    target=_singles, args=(app, email, level_id, singles, spread, errors)
                )
                sender.start()
                events += _disturb(app, procs, connection, guests, started)
                sender.join()
                finished = _wait_until_settled(app, procs, timeout, started)
                events += _lose_persons(app, procs, started, timeout)
                control.configure(fault_rate=0.0)
                stats = control.stats()
                report = _outcome(app, control)
            finally:
                procs.stop()
                forget_limiter(app)
                with app.app_context():
                    from portal.extensions import db

                    db.engine.dispose()
    return {
        "bench": "soak",
        "guests_imported": guests,
        "single_registrations": singles,
        "workers": workers,
        "latency_ms": latency_ms,
        "rate": f"{rate[0]}/{rate[1]:g}",
        "fault_rate": fault_rate,
        "seconds": round(finished - started, 1),
        "settled": finished - started < timeout,
        # A worker killed during the import: everything enrolled this long after the kill.
        "settled_seconds_after_kill": round(finished - started - events[0]["at"], 1),
        "events": events,
        "worker_restarts": procs.restarts,
        "faults": stats.get("faults_by_kind", stats.get("faults")),
        "http_429": stats.get("rate_limited"),
        "registration_errors": errors,
        **report,
        "ok": (
            report["enrolled"] == report["visits"] == report["enrolled_once_on_hikcentral"]
            and report["duplicate_persons"] == 0
            and report["transient_visits"] == 0
            and report["jobs_still_open"] == 0
        ),
    }


def _disturb(app, procs, connection, guests, started):
    """Kill a worker once the import is under way, then flush Redis a little later."""
    events = []
    deadline = time.perf_counter() + 120
    while _import_progress(app) < min(10, guests // 4) and time.perf_counter() < deadline:
        procs.supervise()
        time.sleep(POLL_SECONDS)
    pid = procs.kill_one()
    events.append({"at": round(time.perf_counter() - started, 1), "event": "SIGKILL", "pid": pid})
    time.sleep(5)
    connection.flushdb()
    connection.set(processes.CLAIM_KEY, os.getpid())
    events.append({"at": round(time.perf_counter() - started, 1), "event": "redis flushed"})
    return events


def _open_records(app):
    from portal.extensions import db
    from portal.models import OPEN_JOB_STATES, JobRecord

    with app.app_context():
        count = db.session.scalar(select(func.count()).where(JobRecord.state.in_(OPEN_JOB_STATES)))
        db.session.remove()
    return count


def _wait_until_settled(app, procs, timeout, started):
    """Until no visit waits and every job record is closed; returns when (or at the timeout)."""
    while time.perf_counter() - started < timeout:
        procs.supervise()
        counts = _counts(app)
        if counts and not any(counts.get(state) for state in WAITING) and not _open_records(app):
            return time.perf_counter()
        time.sleep(POLL_SECONDS)
    return time.perf_counter()


LOST = 3  # persons deleted on the server by hand, for drift repair to find
# Drift repair's own time to find them (it runs every 10 s here, through a 25% fault rate), so
# a slow settling on a loaded machine does not eat into it.
REPAIR_WAIT_SECONDS = 90


def _lose_persons(app, procs, started, timeout):
    """Delete a few enrolled persons on HikCentral by hand; wait for drift repair to notice."""
    from portal.extensions import db
    from portal.hikvision import client_for
    from portal.hikvision import operations as ops
    from portal.models import DriftRepair, Visit

    with app.app_context():
        ids = db.session.scalars(
            select(Visit.hik_person_id).where(Visit.state == "enrolled").limit(LOST)
        ).all()
        client = client_for(app)
        pending = list(ids)
        while pending and time.perf_counter() - started < timeout:
            pending = [r.key for r in ops.delete_persons(client, pending) if not r.ok]
        db.session.remove()
    at = round(time.perf_counter() - started, 1)
    deadline = time.perf_counter() + REPAIR_WAIT_SECONDS
    while time.perf_counter() < deadline:
        procs.supervise()
        with app.app_context():
            repaired = db.session.scalar(select(func.count()).select_from(DriftRepair))
            db.session.remove()
        if repaired >= len(ids):
            break
        time.sleep(POLL_SECONDS)
    return [{"at": at, "event": f"{len(ids)} persons deleted on HikCentral by hand"}]


@click.command("soak")
@click.option("--short", is_flag=True, help="The CI form: fewer guests, the same faults.")
@click.option("--guests", type=click.IntRange(1, 5000), help="Guests in the imported list.")
@click.option("--singles", type=click.IntRange(0, 5000), help="Single registrations.")
@click.option("--latency-ms", default=20.0, show_default=True, type=click.FloatRange(0, 5000))
@click.option("--rate", default="20/1", show_default=True, help="Calls allowed: CALLS/SECONDS.")
@click.option("--fault-rate", default=0.25, show_default=True, type=click.FloatRange(0, 0.9))
@with_appcontext
def soak(short, guests, singles, latency_ms, rate, fault_rate):
    """Faults, a killed worker and a flushed Redis; prints one JSON object."""
    form = dict(SHORT if short else FULL)
    form["guests"] = guests or form["guests"]
    form["singles"] = singles if singles is not None else form["singles"]
    result = run_soak(
        **form,
        latency_ms=latency_ms,
        rate=parse_rate(rate),
        fault_rate=fault_rate,
        redis_url=current_app.config["REDIS_URL"],
    )
    click.echo(json.dumps(result))
