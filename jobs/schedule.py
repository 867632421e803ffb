"""The periodic jobs and rq-scheduler: every rq-scheduler call of the project lives here.

Registration is idempotent: each periodic job has a fixed id; an unchanged one is left alone, a
changed one (function, interval or queue) is replaced. A lost run is harmless, the next one
catches up (the sweeps work from database state).
"""

import logging
from dataclasses import dataclass

from rq.exceptions import DeserializationError, NoSuchJobError
from rq_scheduler import Scheduler

from portal.models import utcnow

log = logging.getLogger(__name__)

# Ids of our periodic jobs start with this (RQ ids allow letters, digits, "_" and "-").
PREFIX = "gatehouse-"
# The scheduler never sleeps longer than this between two looks at its schedule.
MAX_SCHEDULER_INTERVAL = 60


@dataclass(frozen=True)
class PeriodicJob:
    id: str
    func: str
    interval: int  # seconds
    queue: str = "default"
    timeout: int | None = None


def periodic_jobs(config):
    """The periodic jobs this configuration runs."""
    return [
        PeriodicJob("gatehouse-expire_visits", "jobs.access.expire_visits", 60, "default", 300),
        # Retention (photos, anonymization, stale uploads): hourly is precise enough for rules
        # counted in hours and days.
        PeriodicJob(
            "gatehouse-purge_personal_data",
            "jobs.maintenance.purge_personal_data",
            3600,
            "low",
            900,
        ),
        # Crash recovery: abandoned and lost jobs, visits left waiting, due delivery checks.
        PeriodicJob(
            "gatehouse-reconcile",
            "jobs.reconcile.reconcile",
            config.get("RECONCILE_SECONDS", 60),
            "high",
            300,
        ),
        # Drift repair: enrolled visits compared with HikCentral within its call budget.
        PeriodicJob(
            "gatehouse-repair_drift",
            "jobs.reconcile.repair_drift",
            config["DRIFT_REPAIR_SECONDS"],
            "low",
            300,
        ),
        # Passage monitoring (architecture.md, flow 6): a Redis lock keeps one poll at a time; the
        # timeout stays under the lock's expiry so a stuck poll ends before another may start.
        PeriodicJob(
            "gatehouse-monitor_passages",
            "jobs.passages.monitor_passages",
            config["PASSAGE_POLL_SECONDS"],
            "high",
            max(30, min(600, config.get("PASSAGE_LOCK_SECONDS", 300))),
        ),
    ]


def scheduler_interval(config):
    """How often the scheduler looks: a tenth of the shortest period it serves (at most 60 s).

    rq-scheduler plans a periodic job's next run from the moment it enqueued the last one, so
    each look's delay adds to the period: a tenth keeps a 30 s passage poll within 33 s.
    """
    periods = [p.interval for p in periodic_jobs(config)] + [config["PASSAGE_POLL_SECONDS"]]
    return max(1, min([MAX_SCHEDULER_INTERVAL, *periods]) // 10)


class GatehouseScheduler(Scheduler):
    """rq-scheduler that registers any periodic job it no longer finds before each look.

    Its schedule lives in Redis: after a flush (or a restore of an older snapshot) the periodic
    jobs come back within one interval instead of never running again.
    """

    def __init__(self, *args, config=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.config = config

    def enqueue_jobs(self):
        if self.config is not None:
            missing = [p for p in periodic_jobs(self.config) if p.id not in self]
            if missing:
                log.warning("periodic jobs missing from Redis: %s", [p.id for p in missing])
                register_periodic_jobs(self, self.config)
        return super().enqueue_jobs()


def make_scheduler(connection, config):
    """An rq-scheduler Scheduler on ``connection`` with the interval ``config`` asks for."""
    return GatehouseScheduler(
        connection=connection, interval=scheduler_interval(config), config=config
    )


def _unchanged(scheduler, periodic):
    if periodic.id not in scheduler:
        return False
    try:
        job = scheduler.job_class.fetch(periodic.id, connection=scheduler.connection)
    except (NoSuchJobError, DeserializationError):
        log.info("periodic job %s could not be loaded; registering it again", periodic.id)
        return False
    return (
        job.func_name == periodic.func
        and job.meta.get("interval") == periodic.interval
        and job.origin == periodic.queue
    )


def register_periodic_jobs(scheduler, config):
    """Register every periodic job once; returns {job id: "kept" | "registered"}."""
    outcome = {}
    wanted = {p.id for p in periodic_jobs(config)}
    for job in list(scheduler.get_jobs()):
        if job.id.startswith(PREFIX) and job.id not in wanted:
            scheduler.cancel(job)  # a periodic job this version no longer runs
    for periodic in periodic_jobs(config):
        if _unchanged(scheduler, periodic):
            outcome[periodic.id] = "kept"
            continue
        scheduler.cancel(periodic.id)
        scheduler.schedule(
            scheduled_time=utcnow(),
            func=periodic.func,
            interval=periodic.interval,
            repeat=None,
            id=periodic.id,
            queue_name=periodic.queue,
            timeout=periodic.timeout,
            result_ttl=periodic.interval * 10,
            description=f"every {periodic.interval} s: {periodic.func}",
        )
        outcome[periodic.id] = "registered"
    return outcome


def run_scheduler(connection, config, *, burst=False):
    """Register the periodic jobs, then run rq-scheduler until stopped."""
    scheduler = make_scheduler(connection, config)
    for job_id, outcome in register_periodic_jobs(scheduler, config).items():
        log.info("periodic job %s %s", job_id, outcome)
    scheduler.run(burst=burst)
