"""Crash recovery: the database is the source of truth, Redis may lose anything at any moment.

``reconcile`` runs every minute (scheduler). It lets RQ find jobs whose worker died (their claim
lapsed), closes JobRecords whose RQ job no longer exists, hands visits held by a dead run back to
``pending``, enqueues every visit left waiting with no live job and ends the staging of uploads
whose job stopped for good. It also runs the delivery follow-up, whose own deferred job may have
been lost with Redis.
"""

import logging
from datetime import timedelta

import redis
from flask import current_app
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from sqlalchemy import select

from portal import queue
from portal.extensions import db
from portal.hikvision.errors import HikvisionError
from portal.i18n import N_
from portal.models import (
    OPEN_JOB_STATES,
    GuestImport,
    ImportState,
    JobRecord,
    JobState,
    Visit,
    VisitState,
    utcnow,
)
from portal.services import claims, delivery, import_enrollment, imports
from portal.services import visits as visit_service

log = logging.getLogger(__name__)

WORKER_LOST = N_("The worker running this job stopped; the job runs again.")
WORKER_LOST_FINAL = N_("The worker running this job stopped; its work is queued again.")
JOB_LOST = N_("The queue lost this job; its work is queued again.")
RESTARTED = N_("Enrollment is started again: the job that had taken this visit stopped.")
STAGING_STOPPED = N_("Checking the sheet stopped before it ended: upload it again.")
LIVE_STATUSES = {
    JobStatus.QUEUED,
    JobStatus.STARTED,
    JobStatus.SCHEDULED,
    JobStatus.DEFERRED,
}
# A JobRecord is written just before its RQ job: give the enqueue this long to follow.
RECORD_GRACE = timedelta(seconds=30)
LIMIT = 1000  # rows per look; the next minute takes the rest


def job_abandoned(rq_job_id, *, will_retry):
    """RQ found the job abandoned (its worker died): the record says so; commits."""
    record = db.session.scalar(select(JobRecord).where(JobRecord.rq_job_id == rq_job_id))
    if record is None:
        return None
    attempts = (record.result or {}).get("attempts", 1)
    if will_retry:
        record.state = JobState.QUEUED.value
        record.result = {"attempts": attempts + 1, "retrying": {"reason": WORKER_LOST}}
    else:
        record.state = JobState.FAILED.value
        record.error = WORKER_LOST_FINAL
        record.ended_at = utcnow()
    db.session.commit()
    log.warning("job %s was abandoned by its worker (retry: %s)", rq_job_id, will_retry)
    return record


def job_alive(rq_job_id, connection=None):
    """Whether the RQ job exists and may still run (queued, running, scheduled or deferred)."""
    if not rq_job_id:
        return False
    try:
        status = Job.fetch(
            rq_job_id, connection=connection or queue.redis_connection()
        ).get_status()
    except NoSuchJobError:
        return False
    return status in LIVE_STATUSES


def find_abandoned(*, at=None):
    """Let RQ move jobs whose worker stopped beating (claim lapsed before ``at``, default now)
    out of the started registries: retried when they have retries left, else failed."""
    connection = queue.redis_connection()
    timestamp = at.timestamp() if at is not None else None
    found = 0
    for name in queue.QUEUES:
        registry = StartedJobRegistry(queue=Queue(name, connection=connection))
        found += len(registry.get_expired_job_ids(timestamp))
        registry.cleanup(timestamp, exception_handlers=[_abandoned_handler])
    return found


def _abandoned_handler(job, exc_type, exc_value, traceback):
    job_abandoned(job.id, will_retry=bool(job.retries_left and job.retries_left > 0))
    return True


def close_lost_records(now):
    """Records still queued or running whose RQ job is gone or failed: failed with a sentence."""
    records = db.session.scalars(
        select(JobRecord)
        .where(
            JobRecord.state.in_(OPEN_JOB_STATES),
            JobRecord.created_at < now - RECORD_GRACE,
        )
        .order_by(JobRecord.id)
        .limit(LIMIT)
    ).all()
    closed = 0
    for record in records:
        if job_alive(record.rq_job_id):
            continue
        record.state = JobState.FAILED.value
        record.error = JOB_LOST
        record.ended_at = now
        closed += 1
    db.session.commit()
    return closed


def release_dead_claims(threshold):
    """Visits held (``enrolling``) by a run whose job is gone go back to ``pending``."""
    rows = db.session.execute(
        select(Visit.id, Visit.claimed_by)
        .where(
            Visit.state == VisitState.ENROLLING.value,
            Visit.claimed_at.is_not(None),
            Visit.claimed_at < threshold,
        )
        .limit(LIMIT)
    ).all()
    by_owner = {}
    for visit_id, owner in rows:
        by_owner.setdefault(owner, []).append(visit_id)
    released = []
    for owner, ids in by_owner.items():
        if not job_alive(owner):
            released += claims.release(ids, owner, RESTARTED)
    return released


def _has_live_job(subject_type, subject_id):
    records = db.session.scalars(
        select(JobRecord.rq_job_id).where(
            JobRecord.subject_type == subject_type,
            JobRecord.subject_id == subject_id,
            JobRecord.state.in_(OPEN_JOB_STATES),
        )
    ).all()
    return any(job_alive(rq_job_id) for rq_job_id in records)


def waiting_visits(threshold, released):
    """Visits ``pending`` since before ``threshold`` or just released: (singles, import ids)."""
    rows = db.session.execute(
        select(Visit.id, Visit.import_id, Visit.updated_at)
        .where(Visit.state == VisitState.PENDING.value)
        .order_by(Visit.id)
        .limit(LIMIT)
    ).all()
    released = set(released)
    singles, imports_live = [], {}
    for visit_id, import_id, updated_at in rows:
        if visit_id not in released and updated_at >= threshold:
            continue
        if import_id is not None:
            if import_id not in imports_live:
                imports_live[import_id] = _has_live_job("import", import_id)
        elif not _has_live_job("visit", visit_id):
            singles.append(visit_id)
    return singles, sorted(i for i, live in imports_live.items() if not live)


def fail_stopped_stagings(now):
    """Uploads still staging whose job is gone or failed for good: failed with a sentence."""
    rows = db.session.execute(
        select(GuestImport, JobRecord.state)
        .outerjoin(JobRecord, JobRecord.id == GuestImport.job_id)
        .where(
            GuestImport.state == ImportState.STAGING.value,
            GuestImport.created_at < now - RECORD_GRACE,
        )
        .order_by(GuestImport.id)
        .limit(LIMIT)
    ).all()
    stopped = [guest_import for guest_import, state in rows if state in (None, JobState.FAILED)]
    for guest_import in stopped:
        imports.fail_staging(guest_import, STAGING_STOPPED)
    return len(stopped)


def requeue(singles, import_ids):
    """One enrollment job per batch of single visits, and one per import; returns the jobs."""
    size = max(1, int(current_app.config["ENROLL_BATCH_SIZE"]))
    records = []
    for start in range(0, len(singles), size):
        visit_id = singles[start]
        records.append(visit_service.enqueue_enrollment(visit_id))
    for import_id in import_ids:
        guest_import = db.session.get(GuestImport, import_id)
        if guest_import is not None:
            records.append(import_enrollment.start_enrollment(guest_import, None))
    return records


def reconcile(client, *, now=None):
    """The minute sweep: abandoned jobs, lost records, stuck visits, due deliveries."""
    now = now or utcnow()
    threshold = now - timedelta(seconds=current_app.config["RECONCILE_STUCK_SECONDS"])
    summary = {"abandoned": find_abandoned(), "lost_records": close_lost_records(now)}
    summary["stopped_stagings"] = fail_stopped_stagings(now)
    released = release_dead_claims(threshold)
    singles, import_ids = waiting_visits(threshold, released)
    try:
        records = requeue(singles, import_ids)
    except queue.QueueUnavailable:
        records = []
        log.warning("reconcile could not enqueue %d waiting visits", len(singles))
    summary.update(
        released=len(released),
        requeued_visits=len(singles),
        requeued_imports=len(import_ids),
        jobs=[record.id for record in records],
    )
    try:
        summary["deliveries"] = delivery.follow_deliveries(client, now=now)
    except (redis.exceptions.RedisError, HikvisionError) as exc:
        # HikCentral or Redis down: the checks stay due for the next minute.
        db.session.rollback()
        log.warning("delivery follow-up skipped: %s", type(exc).__name__)
    if (
        released
        or singles
        or import_ids
        or any(summary[key] for key in ("abandoned", "lost_records", "stopped_stagings"))
    ):
        log.warning("reconcile: %s", {k: v for k, v in summary.items() if k != "deliveries"})
    return summary
