"""An event's guests follow the event: a moved window or a cancelled event reaches every guest
who takes the event's window, and HikCentral, in one batched job per change.

A guest "follows" the event when their visit window is exactly the event's (a guest sheet's
default); guests with their own times keep them. The change to the visits is written in the
same transaction as the event's, and the job that brings HikCentral in line is enqueued after
the commit. Both jobs are safe to run twice: they send HikCentral what the database now says.
"""

import logging

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import queue
from portal.extensions import db
from portal.hikvision import operations as ops
from portal.i18n import N_
from portal.models import ACCESS_STATES, Visit, VisitState, VisitStateChange
from portal.services.enrollment import HIKCENTRAL_DOWN, TransientEnrollmentError, access_removed
from portal.services.expiry import remove_from_hikcentral
from portal.services.visits import CHANGEABLE_STATES, set_state

log = logging.getLogger(__name__)

BATCH = 100  # visits per HikCentral round (and per progress step)
EVENT_CANCELLED = N_("The event was cancelled.")
MOVED = N_("Time changed with the event to %(window)s.")
# Visits whose person may hold the event's old window on HikCentral.
HELD_STATES = tuple(state.value for state in ACCESS_STATES | {VisitState.ENROLLING})
CHANGEABLE_VALUES = tuple(state.value for state in CHANGEABLE_STATES)


def followers(event, starts_at, ends_at):
    """The event's visits that take the window (starts_at, ends_at) and can still change."""
    return db.session.scalars(
        select(Visit)
        .where(
            Visit.event_id == event.id,
            Visit.starts_at == starts_at,
            Visit.ends_at == ends_at,
            Visit.state.in_(CHANGEABLE_VALUES),
        )
        .order_by(Visit.id)
    ).all()


def move_followers(event, old_window, window_text, *, by):
    """Give the event's new window to the guests who took the old one (the caller commits).

    Returns the visits moved.
    """
    moved = followers(event, *old_window)
    reason = MOVED % {"window": window_text}
    for visit in moved:
        visit.starts_at, visit.ends_at = event.starts_at, event.ends_at
        visit.history.append(
            VisitStateChange(state=visit.state, reason=reason, by_user_id=by.id if by else None)
        )
    return moved


def cancel_guests(event, *, by):
    """Cancel every guest of the event who can still change (the caller commits).

    Returns (the visits cancelled, the ids of those HikCentral may hold a person for).
    """
    visits = db.session.scalars(
        select(Visit)
        .where(Visit.event_id == event.id, Visit.state.in_(CHANGEABLE_VALUES))
        .order_by(Visit.id)
    ).all()
    with_person = [visit.id for visit in visits if may_hold_person(visit)]
    for visit in visits:
        set_state(visit, VisitState.CANCELLED, EVENT_CANCELLED, by=by)
    return visits, with_person


def may_hold_person(visit):
    """Whether HikCentral may hold (or be about to hold) a person for ``visit``."""
    return visit.hik_person_id is not None or visit.state == VisitState.ENROLLING


def enqueue_window_update(event, *, by):
    """Start the job that gives HikCentral the event's window for its following guests."""
    return queue.enqueue_about(
        "event",
        event.id,
        "jobs.events.update_guest_windows",
        kind="update_event_guests",
        created_by=by,
    )


def enqueue_revoke(event, visit_ids, *, by):
    """Start the job that removes the cancelled guests ``visit_ids`` from HikCentral."""
    return queue.enqueue_about(
        "event",
        event.id,
        "jobs.events.revoke_event_guests",
        visit_ids,
        kind="revoke_event_guests",
        created_by=by,
    )


def _batches(items):
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def _held_followers(event):
    """Following visits whose person exists on HikCentral (or is being created)."""
    return db.session.scalars(
        select(Visit)
        .where(
            Visit.event_id == event.id,
            Visit.starts_at == event.starts_at,
            Visit.ends_at == event.ends_at,
            Visit.state.in_(HELD_STATES),
            Visit.hik_person_id.is_not(None),
        )
        .order_by(Visit.id)
    ).all()


def update_guest_windows(event, client, *, report):
    """Send HikCentral the event's window for every following guest, then one re-apply.

    ``report(done, total, failed)`` after each batch. A transient failure is raised after the
    whole list was tried, so the job is retried (sending a window twice changes nothing).
    """
    visits = _held_followers(event)
    workers = max(1, int(current_app.config.get("HIKCENTRAL_MAX_IN_FLIGHT", 10)))
    updated, failed, transient = [], [], []
    report(0, len(visits), 0)
    for batch in _batches(visits):
        items = [(v.hik_person_id, v.person_code, v.starts_at, v.ends_at) for v in batch]
        results = ops.update_validity(client, items, max_workers=workers)
        for visit, result in zip(batch, results, strict=True):
            if result.ok:
                visit.window_not_applied = not result.window_applied
                updated.append(visit)
            else:
                (transient if result.transient else failed).append((visit, result.error))
        db.session.commit()
        report(len(updated) + len(failed), len(visits), len(failed))
    if updated:
        ops.reapply(client, [visit.hik_person_id for visit in updated])
    for visit, error in failed:
        log.warning(
            "event %s: visit %s kept its old window on HikCentral: %s", event.id, visit.id, error
        )
    if transient:
        raise TransientEnrollmentError(transient[0][1] or HIKCENTRAL_DOWN)
    return {
        "event": event.id,
        "updated": len(updated),
        "failed": [visit.id for visit, _ in failed],
    }


def revoke_guests(event, visit_ids, client, *, report):
    """Remove the cancelled guests ``visit_ids`` from HikCentral in batched calls.

    ``report(done, total, failed)`` after each batch; a transient failure is raised after the
    whole list was tried, so the job is retried (a person already gone counts as removed).
    """
    visits = db.session.scalars(
        select(Visit)
        .where(
            Visit.id.in_(visit_ids),
            Visit.state == VisitState.CANCELLED.value,
            Visit.hik_person_id.is_not(None),
        )
        .options(selectinload(Visit.access_level))
        .order_by(Visit.id)
    ).all()
    removed, failed, transient = 0, [], []
    report(0, len(visits), 0)
    for batch in _batches(visits):
        problems = remove_from_hikcentral(client, batch)
        for visit in batch:
            problem = problems.get(visit.id)
            if problem is None:
                access_removed(visit)
                removed += 1
            else:
                (transient if problem.transient else failed).append((visit, problem.error))
        db.session.commit()
        report(removed + len(failed), len(visits), len(failed))
    if transient:
        raise TransientEnrollmentError(transient[0][1] or HIKCENTRAL_DOWN)
    return {"event": event.id, "removed": removed, "failed": [visit.id for visit, _ in failed]}
