"""The Redis connection and ``enqueue``: every background job starts here (architecture.md, flow 7).

Portal code enqueues by dotted name ("jobs.enroll.enroll_visit") and never imports ``jobs/``;
a job about one visit, event or guest list that takes the subject's id as its first argument
is started with ``enqueue_about``.
Each enqueue first writes and commits a JobRecord, the durable history that job pages read,
then puts the RQ job on a queue with ``job_id == record.rq_job_id``.

Call ``enqueue`` only AFTER the transaction that wrote the job's subject has committed: it
commits the session itself, and a job sent before the subject's commit can run before the rows
exist (the fault of the integration this portal replaces).
"""

import logging
import uuid

import redis
from flask import current_app
from rq import Queue, Retry
from sqlalchemy import select

from portal.extensions import db
from portal.i18n import N_
from portal.models import JobRecord, JobState, User, utcnow

log = logging.getLogger(__name__)

QUEUES = ("high", "default", "low")

# Transient HikCentral failures (timeouts, 5xx, rate limiting) are retried with growing pauses.
HIKCENTRAL_RETRY_INTERVALS = [10, 30, 60, 120, 300]

# Jobs that get the retry policy when the caller passes none: one retry per configured interval
# (JOB_RETRY_INTERVALS). Only transient errors are retried: jobs/__init__.py cancels the retries
# of a permanent failure.
RETRIED_BY_DEFAULT = {
    "jobs.enroll.enroll_visit",
    "jobs.enroll.update_validity",
    "jobs.enroll.revoke_visit",
    "jobs.enroll.reapply_visit",
    "jobs.events.update_event_guests",
    "jobs.events.revoke_event_guests",
    "jobs.imports.stage_import",  # a worker that dies mid-way (a killed process) stages again
}

QUEUE_DOWN_MESSAGE = N_("The job queue is not reachable; try again in a minute.")


class QueueUnavailable(RuntimeError):
    """Redis refused the job; the JobRecord is marked failed."""


def redis_connection() -> redis.Redis:
    """The app's Redis connection (one pool per process)."""
    return current_app.extensions["redis"]


def get_queue(name: str = "default") -> Queue:
    """The RQ queue ``name`` on the app's Redis."""
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}; expected one of {', '.join(QUEUES)}")
    return Queue(name, connection=redis_connection())


def default_retry(func: str) -> Retry | None:
    """The retry policy for ``func`` when its caller gives none."""
    if func not in RETRIED_BY_DEFAULT:
        return None
    intervals = current_app.config.get("JOB_RETRY_INTERVALS") or HIKCENTRAL_RETRY_INTERVALS
    return Retry(max=len(intervals), interval=list(intervals))


def enqueue(
    func: str,
    *args,
    kind: str,
    subject_type: str | None = None,
    subject_id: int | None = None,
    created_by=None,
    queue: str = "default",
    retry: Retry | None = None,
    job_timeout: int | None = None,
) -> JobRecord:
    """Write and commit a JobRecord, then enqueue ``func`` (dotted name) with ``args``.

    ``args`` must be JSON-serialisable (ids, strings): they are kept on the record so that a
    failed job can be retried. ``created_by`` is a User, a user id or None (system jobs).
    Raises QueueUnavailable when Redis cannot take the job (the record is then marked failed).
    """
    rq_queue = get_queue(queue)
    record = JobRecord(
        rq_job_id=uuid.uuid4().hex,
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        created_by_id=created_by.id if isinstance(created_by, User) else created_by,
        state=JobState.QUEUED.value,
        call={"func": func, "args": list(args), "queue": queue, "job_timeout": job_timeout},
    )
    db.session.add(record)
    db.session.commit()
    try:
        rq_queue.enqueue(
            func,
            *args,
            job_id=record.rq_job_id,
            retry=retry if retry is not None else default_retry(func),
            job_timeout=job_timeout,
            description=f"{kind} {subject_type or ''} {subject_id or ''}".strip(),
        )
    except redis.exceptions.RedisError as exc:
        log.error("could not enqueue %s (job record %s): %s", func, record.id, type(exc).__name__)
        record.state = JobState.FAILED.value
        record.error = QUEUE_DOWN_MESSAGE
        record.ended_at = utcnow()
        db.session.commit()
        raise QueueUnavailable(QUEUE_DOWN_MESSAGE) from exc
    return record


def enqueue_about(subject_type: str, subject_id: int, func: str, *args, kind: str, **options):
    """``enqueue`` a job about one visit, event or guest list that takes its id first."""
    return enqueue(
        func,
        subject_id,
        *args,
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        **options,
    )


def enqueue_system_at(func: str, when, *args, queue: str = "default", job_timeout=None):
    """Enqueue a system job (no subject, no JobRecord, like the scheduler's) to run at ``when``.

    The worker's RQ scheduler moves it to the queue when due. Raises QueueUnavailable.
    """
    try:
        job = get_queue(queue).enqueue_at(
            when, func, *args, job_timeout=job_timeout, description=f"deferred {func}"
        )
    except redis.exceptions.RedisError as exc:
        raise QueueUnavailable(QUEUE_DOWN_MESSAGE) from exc
    return job.id


def enqueue_again(record: JobRecord, *, created_by=None) -> JobRecord:
    """Enqueue the same function and arguments as ``record`` as a new job (the retry action)."""
    call = record.call or {}
    if not call.get("func"):
        raise ValueError(f"job {record.id} does not say what it ran; it cannot be retried")
    return enqueue(
        call["func"],
        *call.get("args", []),
        kind=record.kind,
        subject_type=record.subject_type,
        subject_id=record.subject_id,
        created_by=created_by,
        queue=call.get("queue") or "default",
        job_timeout=call.get("job_timeout"),
    )


def latest_record(
    subject_type: str, subject_id: int, *, except_kind: str | None = None
) -> JobRecord | None:
    """The most recent JobRecord about one subject (a visit, an event...), or None."""
    query = select(JobRecord).where(
        JobRecord.subject_type == subject_type, JobRecord.subject_id == subject_id
    )
    if except_kind:
        query = query.where(JobRecord.kind != except_kind)
    return db.session.scalars(
        query.order_by(JobRecord.created_at.desc(), JobRecord.id.desc()).limit(1)
    ).first()
