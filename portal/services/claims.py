"""Claims: each waiting visit is taken by exactly one enrollment run, decided by the database.

A run claims visits with one conditional UPDATE (``state`` must still be what it was), so two
workers that reach for the same visits split them: the row lock (PostgreSQL) or the write lock
(SQLite) makes the second UPDATE see the first one's result and skip those rows. A claim names
the RQ job of the run, so a retried job (same id) finds its visits again, and the reconcile sweep
can tell a claim whose job is gone.
"""

import uuid

from sqlalchemy import and_, insert, or_, select, update

from portal.extensions import db
from portal.models import JobRecord, Visit, VisitState, VisitStateChange, utcnow

ENROLLING = VisitState.ENROLLING.value
PENDING = VisitState.PENDING.value


def run_id(job_id=None):
    """The claim owner: the RQ job id, or a fresh id for a run outside a job."""
    return job_id or f"run-{uuid.uuid4().hex}"


def claim(visit_ids, owner, *, from_states=(PENDING,), now=None):
    """Claim the visits still in ``from_states`` (or already ``owner``'s); commits.

    Returns the ids ``owner`` holds afterwards, in the order given.
    """
    ids = list(dict.fromkeys(visit_ids))
    if not ids:
        return []
    now = now or utcnow()
    already = set(_held(ids, owner))
    states = [VisitState(state).value for state in from_states]
    db.session.execute(
        update(Visit)
        .where(
            Visit.id.in_(ids),
            or_(
                Visit.state.in_(states),
                # Left enrolling without an owner (before claims existed): free to take.
                and_(Visit.state == ENROLLING, Visit.claimed_by.is_(None)),
            ),
        )
        .values(
            state=ENROLLING,
            state_reason=None,
            claimed_by=owner,
            claimed_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    held = _held(ids, owner)
    fresh = [visit_id for visit_id in held if visit_id not in already]
    if fresh:
        db.session.execute(
            insert(VisitStateChange),
            [{"visit_id": visit_id, "state": ENROLLING, "at": now} for visit_id in fresh],
        )
    db.session.commit()
    order = {visit_id: n for n, visit_id in enumerate(ids)}
    return sorted(held, key=order.__getitem__)


def _held(ids, owner):
    return db.session.scalars(
        select(Visit.id).where(
            Visit.id.in_(ids), Visit.state == ENROLLING, Visit.claimed_by == owner
        )
    ).all()


def resumable(owner):
    """Ids of visits ``owner`` holds whose person it already created (a retried run)."""
    return set(
        db.session.scalars(
            select(Visit.id).where(
                Visit.state == ENROLLING,
                Visit.claimed_by == owner,
                Visit.hik_person_id.is_not(None),
            )
        ).all()
    )


def attempted(visit_ids):
    """Ids among ``visit_ids`` an earlier run worked on (it may have added their person)."""
    ids = list(visit_ids)
    if not ids:
        return set()
    return set(
        db.session.scalars(
            select(Visit.id).where(
                Visit.id.in_(ids),
                or_(
                    Visit.claimed_by.is_not(None),
                    Visit.hik_person_id.is_not(None),
                    Visit.state != PENDING,
                ),
            )
        ).all()
    )


def waiting_with(owner, *, limit, exclude=(), import_id=None):
    """Ids of visits a run may take: pending ones (of the import, or registered one by one),
    oldest first, and those ``owner`` already holds."""
    scope = Visit.import_id == import_id if import_id is not None else Visit.import_id.is_(None)
    query = (
        select(Visit.id)
        .where(
            scope,
            or_(
                Visit.state == PENDING,
                and_(Visit.state == ENROLLING, Visit.claimed_by == owner),
            ),
        )
        .order_by(Visit.id)
        .limit(limit)
    )
    if exclude:
        query = query.where(Visit.id.not_in(list(exclude)))
    return db.session.scalars(query).all()


def release(visit_ids, owner, reason):
    """Hand visits ``owner`` holds back to ``pending`` (its job is gone); commits; returns ids."""
    ids = list(visit_ids)
    if not ids:
        return []
    now = utcnow()
    held = _held(ids, owner)
    if not held:
        return []
    db.session.execute(
        update(Visit)
        .where(Visit.id.in_(held), Visit.state == ENROLLING, Visit.claimed_by == owner)
        .values(state=PENDING, state_reason=reason, claimed_by=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        insert(VisitStateChange),
        [{"visit_id": i, "state": PENDING, "reason": reason, "at": now} for i in held],
    )
    db.session.commit()
    return held


def claimed_by_job(visit):
    """The JobRecord of the run that claimed ``visit``, or None."""
    if not visit.claimed_by:
        return None
    return db.session.scalar(select(JobRecord).where(JobRecord.rq_job_id == visit.claimed_by))
