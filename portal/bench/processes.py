"""Real worker and scheduler processes for the benchmarks, and the figures they share."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import redis
from rq import Worker

from portal.config import ROOT

READY_TIMEOUT = 60.0  # a process imports the app before it listens
STOP_TIMEOUT = 10.0
DELIVERY_PATH = "/artemis/api/visitor/v1/person/ID/elementDownloadDetail"
ENROLLMENT_PATHS = (
    "/artemis/api/resource/v1/person/single/add",
    "/artemis/api/acs/v1/privilege/group/single/addPersons",
    "/artemis/api/visitor/v1/auth/reapplication",
)
CLAIM_KEY = "gatehouse:bench-claim"


class BenchProcessError(click.ClickException):
    """A benchmark process did not start; the message ends with its log."""


def environment(config, **extra):
    """The environment of a child process: the same database, Redis, HikCentral and limits."""
    env = dict(os.environ)
    env.update(
        GATEHOUSE_ENV=config["GATEHOUSE_ENV"],
        SECRET_KEY=config["SECRET_KEY"],
        DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=config["REDIS_URL"],
        HIKCENTRAL_URL=config["HIKCENTRAL_URL"],
        HIKCENTRAL_APP_KEY=config["HIKCENTRAL_APP_KEY"],
        HIKCENTRAL_APP_SECRET=config["HIKCENTRAL_APP_SECRET"],
        PYTHONUNBUFFERED="1",
    )
    for name in ("HIKCENTRAL_RATE_LIMIT_CALLS", "HIKCENTRAL_RATE_LIMIT_WINDOW"):
        if name in config:
            env[name] = str(config[name])
    env.update({name: str(value) for name, value in extra.items()})
    return env


def start(command, env, log_path):
    """Start ``flask --app wsgi <command>`` with its output in ``log_path``."""
    log = open(log_path, "ab")  # closed by stop
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", *command],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    proc.log = log
    proc.log_path = log_path
    return proc


def start_worker(env, log_path, connection):
    """Start a worker and return it once it has registered with Redis."""
    proc = start(["worker"], env, log_path)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stop(proc)
            raise BenchProcessError(f"a worker exited ({proc.returncode}): {tail(log_path)}")
        if any(worker.pid == proc.pid for worker in Worker.all(connection=connection)):
            return proc
        time.sleep(0.1)
    stop(proc)
    raise BenchProcessError(f"a worker did not start: {tail(log_path)}")


def children(pid):
    """The ids of a process's children (a worker's RQ scheduler runs in one)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def end_children(pids):
    """Kill the given children, left behind when their parent died."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def stop(proc):
    """Ask a process to stop (a worker finishes its job), kill it when it does not; its
    children go with it."""
    left = children(proc.pid)
    try:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
    finally:
        end_children(left)
        proc.log.close()


def tail(path, lines=40):
    """The end of a process's log, for an error message."""
    try:
        text = Path(path).read_text(errors="replace")
        text = "\n".join(line for line in text.splitlines() if "Scheduler lock" not in line)
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def calls_between(before, after):
    """Calls per path made between two /sim/stats answers."""
    return {
        path: count - before["calls"].get(path, 0)
        for path, count in after["calls"].items()
        if count - before["calls"].get(path, 0)
    }


def forget_deferred(connection):
    """Delete the deferred delivery-check jobs a run scheduled (system jobs without a record)."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    from portal.services.delivery import LOCK_KEY, NEXT_KEY

    for name in ("high", "default", "low"):
        for job_id in ScheduledJobRegistry(name, connection=connection).get_job_ids():
            try:
                job = Job.fetch(job_id, connection=connection)
            except NoSuchJobError:
                continue
            if job.func_name == "jobs.delivery.follow_deliveries":
                job.delete()
    connection.delete(NEXT_KEY, LOCK_KEY)


def claim_redis_database(url):
    """An empty database on the Redis server of ``url``, marked as ours: (url, connection).

    Benchmarks that flush Redis work on a database of their own, never on one in use.
    """
    base = url.rsplit("/", 1)[0] if url.rsplit("/", 1)[-1].isdigit() else url
    for number in range(15, 0, -1):
        candidate = f"{base}/{number}"
        conn = redis.Redis.from_url(candidate)
        if conn.dbsize() == 0 and conn.set(CLAIM_KEY, os.getpid(), nx=True):
            if conn.dbsize() == 1:
                return candidate, conn
            conn.delete(CLAIM_KEY)
    raise BenchProcessError("no empty Redis database to run the benchmark in")
