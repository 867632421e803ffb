"""Flask commands that run the background processes: the RQ worker and the scheduler.

Both use the app's configuration and Redis; the app (and its context) is built once per process
by the Flask CLI, and every job runs in a fresh app context of it (jobs/__init__.py).
"""

import importlib

import click
from flask import current_app
from flask.cli import with_appcontext
from rq import SimpleWorker

from portal.queue import QUEUES, redis_connection


class GatehouseWorker(SimpleWorker):
    """Runs jobs in the worker process itself, so the app and its pools are built once.

    A forking worker would rebuild database and HikCentral connections for every job; jobs are
    short and I/O bound, so throughput comes from running more worker processes instead.
    """


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
    rq_worker = GatehouseWorker(list(queues or QUEUES), connection=redis_connection())
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
