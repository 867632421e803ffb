"""Delivery of access to the doors' devices, followed later instead of by a sleeping worker.

After a grant, access is pushed to the devices by re-applications of REAPPLY_CHUNK_SIZE persons.
A chunk HikCentral accepted leaves its visits ``pending`` with a check due a few seconds later; a
chunk it refused leaves them ``enrolled`` (access exists) with delivery ``not_confirmed`` and a
re-application due later. Everything due runs in one batched job scheduled for the earliest due
time (``jobs.delivery.follow_deliveries``); the reconcile sweep runs it every minute as well, so
nothing is lost when Redis is. A visit gets at most DELIVERY_CHECKS checks, then delivery says
"not reported by HikCentral".
"""

import logging
from datetime import UTC, datetime, timedelta

import redis
from flask import current_app
from sqlalchemy import func, select

from portal import queue
from portal.extensions import db
from portal.hikvision import operations as ops
from portal.hikvision.errors import HikvisionError
from portal.models import ACCESS_STATES, Delivery, Visit, utcnow

log = logging.getLogger(__name__)

FOLLOW_JOB = "jobs.delivery.follow_deliveries"
NEXT_KEY = "gatehouse:delivery:next"  # when the scheduled follow-up job runs (epoch seconds)
LOCK_KEY = "gatehouse:delivery:lock"
BATCH = 500  # visits per look at what is due
ACCESS_STATE_VALUES = tuple(state.value for state in ACCESS_STATES)
# Answers after which nothing more is asked.
FINAL = {"applied": Delivery.APPLIED, "failed": Delivery.FAILED}


def _setting(name):
    return current_app.config[name]


def _delay(delays, index):
    """Seconds of the ``index``-th delay; the last one repeats."""
    if not delays:
        return 0
    return delays[min(index, len(delays) - 1)]


def mark_pending(visit, now):
    """Re-applied: the first check is due a few seconds from ``now`` (the caller commits)."""
    visit.delivery = Delivery.PENDING.value
    visit.delivery_failed = 0
    visit.delivery_checks = 0
    visit.delivery_due_at = now + timedelta(seconds=_delay(_setting("DELIVERY_CHECK_DELAYS"), 0))


def mark_not_confirmed(visit, now, attempts):
    """The push to the devices failed ``attempts`` times; a retry is due unless they ran out."""
    delays = _setting("REAPPLY_RETRY_DELAYS")
    visit.delivery = Delivery.NOT_CONFIRMED.value
    visit.delivery_checks = attempts
    visit.delivery_due_at = (
        now + timedelta(seconds=delays[attempts - 1]) if attempts <= len(delays) else None
    )


def forget(visit):
    """Access no longer exists: nothing to deliver or check (the caller commits)."""
    visit.delivery = None
    visit.delivery_failed = 0
    visit.delivery_checks = 0
    visit.delivery_due_at = None


def _chunks(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)]


def reapply(client, visits, *, now=None, attempts_before=0):
    """Push the visits' access to the devices in chunks; each visit ends ``pending`` (a check
    due) or ``not_confirmed`` (a retry due). Returns the counts; the caller commits."""
    now = now or utcnow()
    counts = {"reapplied": 0, "not_confirmed": 0}
    for chunk in _chunks([v for v in visits if v.hik_person_id], _setting("REAPPLY_CHUNK_SIZE")):
        try:
            ops.reapply(client, [visit.hik_person_id for visit in chunk])
        except HikvisionError as exc:
            # Access was granted; only the push to the devices is uncertain (seen live: code 1).
            log.warning("re-application of %d persons failed: %s", len(chunk), type(exc).__name__)
            for visit in chunk:
                mark_not_confirmed(visit, now, attempts_before + 1)
            counts["not_confirmed"] += len(chunk)
            continue
        for visit in chunk:
            mark_pending(visit, now)
        counts["reapplied"] += len(chunk)
    return counts


def _due(delivery, now):
    return db.session.scalars(
        select(Visit)
        .where(
            Visit.state.in_(ACCESS_STATE_VALUES),
            Visit.delivery == delivery.value,
            Visit.delivery_due_at.is_not(None),
            Visit.delivery_due_at <= now,
            Visit.hik_person_id.is_not(None),
        )
        .order_by(Visit.delivery_due_at, Visit.id)
        .limit(BATCH)
    ).all()


def retry_reapplications(client, now):
    """Re-apply every visit whose push failed and whose retry is due, in chunks."""
    visits = _due(Delivery.NOT_CONFIRMED, now)
    counts = {"reapplied": 0, "not_confirmed": 0}
    # Visits that failed as often go together, so one chunk shares one attempt count.
    by_attempts = {}
    for visit in visits:
        by_attempts.setdefault(visit.delivery_checks, []).append(visit)
    for attempts, group in by_attempts.items():
        for name, count in reapply(client, group, now=now, attempts_before=attempts).items():
            counts[name] += count
    return counts


def _record_check(visit, status, now):
    visit.delivery_checks += 1
    if status in FINAL:
        visit.delivery = FINAL[status].value
        visit.delivery_failed = 1 if status == "failed" else 0
        visit.delivery_due_at = None
    elif status == "not_reported" or visit.delivery_checks >= _setting("DELIVERY_CHECKS"):
        visit.delivery = Delivery.NOT_REPORTED.value
        visit.delivery_due_at = None
    else:
        delay = _delay(_setting("DELIVERY_CHECK_DELAYS"), visit.delivery_checks)
        visit.delivery_due_at = now + timedelta(seconds=delay)


def check_deliveries(client, now):
    """Ask HikCentral about every visit whose check is due (concurrently); returns counts."""
    visits = _due(Delivery.PENDING, now)
    if not visits:
        return {}
    workers = max(1, int(_setting("HIKCENTRAL_MAX_IN_FLIGHT")))
    answers = ops.delivery_status(client, [v.hik_person_id for v in visits], max_workers=workers)
    counts = {}
    for visit in visits:
        _record_check(visit, answers.get(visit.hik_person_id, "unknown"), now)
        counts[visit.delivery] = counts.get(visit.delivery, 0) + 1
    return counts


def follow_deliveries(client, *, now=None):
    """Run every re-application retry and delivery check that is due; schedule the next run."""
    now = now or utcnow()
    lock = _lock()
    if lock is not None and not lock.acquire(blocking=False):
        return {"outcome": "skipped", "reason": "another run is following deliveries"}
    try:
        reapplied = retry_reapplications(client, now)
        db.session.commit()
        checked = check_deliveries(client, now)
        db.session.commit()
    finally:
        _release(lock)
    _forget_scheduled()
    schedule_next(now=now)
    return {"outcome": "done", "reapplications": reapplied, "checks": checked}


def next_due():
    """When the earliest delivery check or re-application is due, or None."""
    return db.session.scalar(
        select(func.min(Visit.delivery_due_at)).where(
            Visit.state.in_(ACCESS_STATE_VALUES), Visit.delivery_due_at.is_not(None)
        )
    )


def schedule_next(*, now=None):
    """Make sure a follow-up job runs when the earliest work is due (at most one waits)."""
    due = next_due()
    if due is None:
        return None
    now = now or utcnow()
    when = max(due, now)
    try:
        connection = queue.redis_connection()
        scheduled = connection.get(NEXT_KEY)
        if scheduled is not None and float(scheduled) <= when.timestamp() + 0.5:
            return None  # a run at or before ``when`` is already waiting
        queue.enqueue_system_at(FOLLOW_JOB, when, queue="default", job_timeout=600)
        ttl = int((when - now).total_seconds()) + 120
        connection.set(NEXT_KEY, when.timestamp(), ex=ttl)
    except (queue.QueueUnavailable, redis.exceptions.RedisError) as exc:
        # The reconcile sweep runs what is due every minute; nothing is lost.
        log.warning("could not schedule the delivery follow-up: %s", type(exc).__name__)
        return None
    return when


def _forget_scheduled():
    try:
        queue.redis_connection().delete(NEXT_KEY)
    except redis.exceptions.RedisError:
        log.warning("could not clear the delivery follow-up marker")


def _lock():
    try:
        return queue.redis_connection().lock(LOCK_KEY, timeout=600)
    except redis.exceptions.RedisError:
        return None


def _release(lock):
    if lock is None:
        return
    try:
        lock.release()
    except redis.exceptions.RedisError:
        log.warning("the delivery lock was lost before it was released")


def scheduled_at():
    """When the waiting follow-up job runs, or None (for pages and tests)."""
    value = queue.redis_connection().get(NEXT_KEY)
    return datetime.fromtimestamp(float(value), UTC) if value is not None else None
