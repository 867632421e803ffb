"""An event's guests follow the event: a moved window, a new access level or a cancelled event
reaches every guest who takes the event's, and HikCentral, in one batched job per save.

A guest "follows" the event's window when their visit window is exactly the event's (a guest
sheet's default), and its access level when their visit's level is the event's; guests with
their own times or level keep them. The change to the visits is written in the same
transaction as the event's, and the job that brings HikCentral in line is enqueued after the
commit. Both jobs are safe to run twice: they send HikCentral what the database now says.
"""

import logging

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import queue
from portal.extensions import db
from portal.hikvision import operations as ops
from portal.i18n import N_
from portal.models import ACCESS_STATES, AccessLevel, Visit, VisitState, VisitStateChange
from portal.services.enrollment import HIKCENTRAL_DOWN, TransientEnrollmentError, access_removed
from portal.services.expiry import remove_from_hikcentral
from portal.services.visits import CHANGEABLE_STATES, set_state

log = logging.getLogger(__name__)

BATCH = 100  # visits per HikCentral round (and per progress step)
EVENT_CANCELLED = N_("The event was cancelled.")
MOVED = N_("Time changed with the event to %(window)s.")
RELEVELLED = N_("Access level changed with the event to %(level)s.")
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


def level_followers(event, level):
    """The event's visits that take the access level ``level`` and can still change."""
    return db.session.scalars(
        select(Visit)
        .where(
            Visit.event_id == event.id,
            Visit.access_level_id == level.id,
            Visit.state.in_(CHANGEABLE_VALUES),
        )
        .order_by(Visit.id)
    ).all()


def relevel_followers(event, old_level, *, by):
    """Give the event's new access level to the guests who took ``old_level`` (the caller
    commits). Returns the visits changed."""
    changed = level_followers(event, old_level)
    reason = RELEVELLED % {"level": event.access_level.name}
    for visit in changed:
        visit.access_level = event.access_level
        visit.history.append(
            VisitStateChange(state=visit.state, reason=reason, by_user_id=by.id if by else None)
        )
    return changed


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


def enqueue_update(event, moved, relevelled, old_level, *, by):
    """Start the one job that gives HikCentral the event's window (for the ``moved`` visits)
    and access level (for the ``relevelled`` ones); None when no guest's person needs it."""
    window = any(may_hold_person(visit) for visit in moved)
    held = [visit.id for visit in relevelled if may_hold_person(visit)]
    if not (window or held):
        return None
    level_change = {"from": old_level.id, "visits": held} if held else None
    return queue.enqueue_about(
        "event",
        event.id,
        "jobs.events.update_event_guests",
        window,
        level_change,
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


def _held_relevelled(event, level_change):
    """(visits to move from the old level to the event's, the old level's HikCentral id)."""
    # When the event went back to the old level meanwhile, there is nothing left to move.
    if not level_change or level_change["from"] == event.access_level_id:
        return [], None
    old_level = db.session.get(AccessLevel, level_change["from"])
    visits = db.session.scalars(
        select(Visit)
        .where(
            Visit.id.in_(level_change["visits"]),
            Visit.access_level_id == event.access_level_id,
            Visit.state.in_(HELD_STATES),
            Visit.hik_person_id.is_not(None),
        )
        .order_by(Visit.id)
    ).all()
    return visits, old_level.hik_id


def _send_windows(client, visits, workers):
    """Send each visit's window; {visit id: failed ItemResult}."""
    problems = {}
    items = [(v.hik_person_id, v.person_code, v.starts_at, v.ends_at) for v in visits]
    results = ops.update_validity(client, items, max_workers=workers) if items else []
    for visit, result in zip(visits, results, strict=True):
        if result.ok:
            visit.window_not_applied = not result.window_applied
        else:
            problems[visit.id] = result
    return problems


def _move_levels(client, visits, old_hik_id, new_hik_id):
    """Grant the new level, then revoke the old one from those granted (so an on-site guest
    is never left without a door); {visit id: failed ItemResult}."""
    if not visits:
        return {}
    problems = {}
    granted = ops.grant(client, new_hik_id, [v.hik_person_id for v in visits])
    for visit, result in zip(visits, granted, strict=True):
        if not result.ok:
            problems[visit.id] = result
    moved = [visit for visit in visits if visit.id not in problems]
    if moved:
        revoked = ops.revoke(client, old_hik_id, [v.hik_person_id for v in moved])
        for visit, result in zip(moved, revoked, strict=True):
            if not result.ok:
                problems[visit.id] = result
    return problems


def update_guests(event, client, *, report, window=True, level_change=None):
    """Send HikCentral the event's window and access level for the guests who follow them,
    then one re-apply.

    ``window``: send the window of every guest who takes the event's. ``level_change``:
    ``{"from": old access level id, "visits": [visit ids]}``, the guests to move to the
    event's level. ``report(done, total, failed)`` after each batch. A transient failure is
    raised after the whole list was tried, so the job is retried (sending a window or a level
    twice changes nothing; a person already off the old level counts as removed).
    """
    moving = _held_followers(event) if window else []
    relevelled, old_hik_id = _held_relevelled(event, level_change)
    visits = sorted({v.id: v for v in [*moving, *relevelled]}.values(), key=lambda v: v.id)
    moving_ids, relevelled_ids = {v.id for v in moving}, {v.id for v in relevelled}
    workers = max(1, int(current_app.config.get("HIKCENTRAL_MAX_IN_FLIGHT", 10)))
    updated, failed, transient = [], [], []
    report(0, len(visits), 0)
    for batch in _batches(visits):
        problems = _send_windows(client, [v for v in batch if v.id in moving_ids], workers)
        level_problems = _move_levels(
            client,
            [v for v in batch if v.id in relevelled_ids],
            old_hik_id,
            event.access_level.hik_id,
        )
        problems = {**level_problems, **problems}
        for visit in batch:
            problem = problems.get(visit.id)
            if problem is None:
                updated.append(visit)
            else:
                (transient if problem.transient else failed).append((visit, problem.error))
        db.session.commit()
        report(len(updated) + len(failed), len(visits), len(failed))
    if updated:
        ops.reapply(client, [visit.hik_person_id for visit in updated])
    for visit, error in failed:
        log.warning(
            "event %s: visit %s kept its old access on HikCentral: %s", event.id, visit.id, error
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
