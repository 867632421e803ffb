"""The worker side of background jobs: app context, JobRecord state, progress.

Every RQ entry point is wrapped with ``@job``. The wrapper
- runs the function inside an app context of the process's app (the Flask CLI's app under
  ``flask worker``, else one ``create_app()`` built lazily, once per process), with a fresh
  database session per job;
- moves the JobRecord queued -> started -> finished | failed, keeping a result summary and a
  short error sentence (never a traceback or a secret);
- lets RQ retry only transient failures (HikCentral timeouts, 5xx, rate limiting, Redis or
  database hiccups); a permanent failure cancels the remaining retries;
- calls ``on_give_up(*args, error=exc)`` once, when the job fails for good.

It works with any RQ worker class, including SimpleWorker in tests.
"""

import functools
import logging

import redis
from flask import current_app, g, has_app_context
from rq import get_current_job
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from portal.extensions import db
from portal.hikvision.errors import (
    AuthenticationError,
    HikvisionError,
    NotFoundError,
    UnsupportedError,
)
from portal.i18n import N_
from portal.models import JobRecord, JobState, utcnow
from portal.services.jobs import HIKCENTRAL_DOWN, JobFailure

log = logging.getLogger(__name__)

SERVICE_DOWN = N_("A service the job needs was not reachable; try again later.")
UNEXPECTED = N_("The job stopped because of an unexpected error; it has been logged.")

_process_app = None


def worker_app():
    """The app jobs run in: the current one (flask worker, tests), else one built per process."""
    global _process_app
    if has_app_context():
        return current_app._get_current_object()
    if _process_app is None:
        from portal import create_app

        _process_app = create_app()
    return _process_app


def is_transient(exc):
    """Whether a retry later may succeed."""
    if isinstance(exc, HikvisionError | JobFailure):
        return exc.transient
    return isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError) or (
        isinstance(exc, OperationalError)
    )


def public_error(exc):
    """One sentence about ``exc`` that may be shown to the person who started the job."""
    if isinstance(exc, JobFailure):
        return exc.message
    if isinstance(exc, HikvisionError):
        if exc.transient:
            return HIKCENTRAL_DOWN
        if isinstance(exc, AuthenticationError):
            return N_("HikCentral refused the portal's credentials; ask an administrator.")
        if isinstance(exc, NotFoundError):
            return N_(
                "HikCentral no longer has something this job needs; ask an administrator to sync."
            )
        if isinstance(exc, UnsupportedError):
            return N_("This HikCentral version does not support a call this job needs.")
        return N_("HikCentral refused the request; ask an administrator to check the connection.")
    if is_transient(exc):
        return SERVICE_DOWN
    return UNEXPECTED


def current_record():
    """The JobRecord of the running job, or None (jobs sent by the scheduler have none)."""
    if "job_record" not in g:
        rq_job = get_current_job()
        g.job_record = (
            db.session.scalar(select(JobRecord).where(JobRecord.rq_job_id == rq_job.id))
            if rq_job is not None
            else None
        )
    return g.job_record


def report_progress(done, total, failed=0):
    """Record the running job's progress; commits the job's session (commit your work first)."""
    record = current_record()
    if record is None:
        return
    record.progress_done = done
    record.progress_total = total
    record.progress_failed = failed
    db.session.commit()


def job(func=None, *, on_give_up=None):
    """Decorator for RQ entry points (see the module docstring)."""

    def decorate(func):
        @functools.wraps(func)
        def run(*args, **kwargs):
            with worker_app().app_context():
                return _run(func, on_give_up, args, kwargs)

        return run

    return decorate(func) if func is not None else decorate


def _run(func, on_give_up, args, kwargs):
    rq_job = get_current_job()
    _mark_started()
    try:
        result = func(*args, **kwargs)
    except Exception as exc:
        db.session.rollback()
        transient = is_transient(exc)
        if rq_job is not None and not transient:
            rq_job.retries_left = 0  # RQ retries any exception; permanent ones must not be
        will_retry = rq_job is not None and rq_job.should_retry
        if will_retry:
            _mark_retrying(rq_job, exc)
        else:
            _give_up(func, on_give_up, args, exc)
            _mark_failed(exc)
        raise
    _mark_finished(result)
    return result


def _log_failure(func, exc):
    if isinstance(exc, JobFailure):
        log.info("job %s stopped: %s", func.__name__, exc.message)
    elif is_transient(exc):
        log.warning("job %s hit a transient failure: %s", func.__name__, exc)
    else:
        log.exception("job %s failed", func.__name__)


def _give_up(func, on_give_up, args, exc):
    _log_failure(func, exc)
    if on_give_up is None:
        return
    try:
        on_give_up(*args, error=exc)
    except Exception:
        # The job's own failure is what the caller sees; this one is only logged.
        log.exception("the give-up handler of job %s failed", func.__name__)
        db.session.rollback()


def _mark_started():
    record = current_record()
    if record is None:
        return
    record.state = JobState.STARTED.value
    record.started_at = record.started_at or utcnow()
    record.ended_at = None
    db.session.commit()


def _ended(state, error):
    """The running job's record, ended in ``state`` with ``error``; None without a record."""
    record = current_record()
    if record is not None:
        record.state = state
        record.ended_at = utcnow()
        record.error = error
    return record


def _mark_finished(result):
    record = _ended(JobState.FINISHED.value, None)
    if record is None:
        return
    if result is not None:
        record.result = result if isinstance(result, dict) else {"value": result}
    db.session.commit()


def _mark_retrying(rq_job, exc):
    log.warning("job %s will be retried: %s", rq_job.id, type(exc).__name__)
    record = current_record()
    if record is None:
        return
    attempts = (record.result or {}).get("attempts", 1)
    record.state = JobState.QUEUED.value
    record.result = {
        "attempts": attempts + 1,
        "retrying": {
            "reason": public_error(exc),
            "in_seconds": rq_job.get_retry_interval(),
            "retries_left": rq_job.retries_left - 1,
        },
    }
    db.session.commit()


def _mark_failed(exc):
    record = _ended(JobState.FAILED.value, public_error(exc))
    if record is None:
        return
    if isinstance(exc, JobFailure) and exc.result is not None:
        record.result = exc.result
    elif record.result and "retrying" in record.result:
        record.result = {"attempts": record.result.get("attempts", 1)}
    db.session.commit()
