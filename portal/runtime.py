"""Flask commands that run the background processes: the RQ worker and the scheduler.

Both use the app's configuration and Redis; the app (and its context) is built once per process
by the Flask CLI, and every job runs in a fresh app context of it (jobs/__init__.py).
"""

import importlib
import logging
import threading

import click
import redis
from flask import current_app
from flask.cli import with_appcontext
from rq import SimpleWorker
from rq.exceptions import AbandonedJobError
from rq.worker import WorkerStatus

from portal.queue import QUEUES, redis_connection
from portal.services import recovery

log = logging.getLogger(__name__)


class GatehouseWorker(SimpleWorker):
    """Runs jobs in the worker process itself, so the app and its pools are built once.

    A forking worker would rebuild database and HikCentral connections for every job; jobs are
    short and I/O bound, so throughput comes from running more worker processes instead.

    SimpleWorker does not prove it is alive while a job runs, so RQ would notice a dead worker's
    job only after the job's whole timeout. This worker beats every ``heartbeat_seconds`` from a
    thread and lets a job's claim lapse after three missed beats; with a short maintenance
    interval, a job whose worker was killed is found abandoned and run again within two minutes,
    and its JobRecord says so.
    """

    heartbeat_seconds = 10

    def __init__(self, *args, heartbeat_seconds=None, **kwargs):
        super().__init__(*args, **kwargs)
        if heartbeat_seconds:
            self.heartbeat_seconds = heartbeat_seconds
        self.push_exc_handler(record_abandoned)

    def get_heartbeat_ttl(self, job):
        return self.heartbeat_seconds * 3

    def execute_job(self, job, queue):
        self.prepare_execution(job)
        done = threading.Event()
        beats = threading.Thread(
            target=self._beat, args=(job, done), name="job-heartbeat", daemon=True
        )
        beats.start()
        try:
            self.perform_job(job, queue)
        finally:
            done.set()
            beats.join()
        self.set_state(WorkerStatus.IDLE)

    def _beat(self, job, done):
        while not done.wait(self.heartbeat_seconds):
            try:
                self.maintain_heartbeats(job)
            except redis.exceptions.RedisError as exc:
                # A missed beat or two is harmless; the job is given up only after three.
                log.warning("worker heartbeat failed: %s", type(exc).__name__)


def record_abandoned(job, exc_type, exc_value, traceback):
    """RQ's handler for a job found abandoned (its worker died): keep the JobRecord true."""
    if exc_type is not AbandonedJobError:
        return True  # other failures were recorded by the job itself
    will_retry = bool(job.retries_left and job.retries_left > 0)
    recovery.job_abandoned(job.id, will_retry=will_retry)
    return True


def make_worker(queues, connection, config):
    """The worker ``flask worker`` runs, with the heartbeat and maintenance settings."""
    heartbeat = int(config.get("WORKER_HEARTBEAT_SECONDS", 10))
    return GatehouseWorker(
        list(queues),
        connection=connection,
        heartbeat_seconds=heartbeat,
        maintenance_interval=int(config.get("WORKER_MAINTENANCE_SECONDS", 30)),
        # An idle worker wakes this often (dequeue timeout = ttl - 15) to do its maintenance.
        worker_ttl=max(heartbeat * 3, int(config.get("WORKER_MAINTENANCE_SECONDS", 30)) + 15),
    )


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.argument("queues", nargs=-1)
@with_appcontext
def worker(burst, queues):
    """Run an RQ worker on QUEUES (default: high default low) with the app context."""
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown:
        raise click.BadParameter(
            f"unknown queue {', '.join(unknown)}; expected some of {' '.join(QUEUES)}",
            param_hint="QUEUE",
        )
    # Retries with a pause are parked by RQ; with_scheduler moves them back when due.
    rq_worker = make_worker(queues or QUEUES, redis_connection(), current_app.config)
    ran = rq_worker.work(burst=burst, with_scheduler=True)
    if burst:
        click.echo(f"worker done: {'jobs ran' if ran else 'no jobs'}")


@click.command("scheduler")
@click.option("--burst", is_flag=True, help="Register, enqueue what is due once, then stop.")
@with_appcontext
def scheduler(burst):
    """Register the periodic jobs (idempotent), then run rq-scheduler."""
    schedule = importlib.import_module("jobs.schedule")  # portal code does not import jobs/
    config = current_app.config
    click.echo(f"scheduler: looking every {schedule.scheduler_interval(config)} s")
    schedule.run_scheduler(redis_connection(), config, burst=burst)
