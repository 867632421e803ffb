"""Events: an organizer's occasion with a guest list, a window and an access level."""

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import case, func, or_, select

from portal import queue
from portal.extensions import db
from portal.formatting import local_window
from portal.i18n import N_, N_plural
from portal.models import (
    AccessLevel,
    AuditAction,
    Event,
    Guest,
    GuestImport,
    JobRecord,
    Role,
    Visit,
    VisitState,
    utcnow,
)
from portal.services import audit, event_guests

CANCELLED = N_("This event was cancelled: it can no longer change.")


class EventValidationError(Exception):
    """The event's fields are wrong; ``fields`` maps a field name to a message."""

    def __init__(self, fields):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


class EventStateError(Exception):
    """The event's state does not allow the action; the message is for the organizer."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass
class EventChange:
    """What saving or cancelling an event did to its guests."""

    event: Event
    guests: int = 0  # guests moved with the event, or cancelled with it
    relevelled: int = 0  # guests given the event's new access level
    job: JobRecord | None = None  # the job bringing HikCentral in line, if one was needed


def validate_event(*, name, starts_at, ends_at, access_level, is_new, now=None):
    """Return {field: message} for everything wrong with an event's fields."""
    now = now or utcnow()
    errors = {}
    if not (name or "").strip():
        errors["name"] = N_("Give the event a name.")
    if starts_at is None:
        errors["starts_at"] = N_("Give the start date and time.")
    if ends_at is None:
        errors["ends_at"] = N_("Give the end date and time.")
    if starts_at and ends_at:
        max_days = current_app.config["MAX_VISIT_DAYS"]
        if ends_at <= starts_at:
            errors["ends_at"] = N_("The end must be after the start.")
        elif ends_at - starts_at > timedelta(days=max_days):
            errors["ends_at"] = N_plural(
                "An event can last at most %(days)d day.",
                "An event can last at most %(days)d days.",
                max_days,
            ) % {"days": max_days}
        if is_new and ends_at <= now:
            errors["ends_at"] = N_("The event has already ended.")
    if access_level is None or not access_level.active:
        errors["access_level"] = N_("Choose an access level from the list.")
    return errors


def create_event(organizer, *, name, location, starts_at, ends_at, access_level):
    """Create an event owned by ``organizer``; raises EventValidationError."""
    errors = validate_event(
        name=name, starts_at=starts_at, ends_at=ends_at, access_level=access_level, is_new=True
    )
    if errors:
        raise EventValidationError(errors)
    event = Event(
        name=name.strip(),
        location=(location or "").strip() or None,
        organizer=organizer,
        starts_at=starts_at,
        ends_at=ends_at,
        access_level=access_level,
    )
    db.session.add(event)
    audit.record(AuditAction.EVENT_CREATED, event, by=organizer, details=event.name)
    db.session.commit()
    return event


def update_event(event, *, name, location, starts_at, ends_at, access_level, by=None):
    """Change an event; guests who took its window or access level follow (one job updates
    HikCentral).

    Returns an EventChange; raises EventValidationError or EventStateError.
    """
    require_open(event)
    errors = validate_event(
        name=name, starts_at=starts_at, ends_at=ends_at, access_level=access_level, is_new=False
    )
    if errors:
        raise EventValidationError(errors)
    old_window, old_level = (event.starts_at, event.ends_at), event.access_level
    event.name = name.strip()
    event.location = (location or "").strip() or None
    event.starts_at, event.ends_at = starts_at, ends_at
    event.access_level = access_level
    moved = []
    if (starts_at, ends_at) != old_window:
        window = local_window(starts_at, ends_at)
        moved = event_guests.move_followers(event, old_window, window, by=by)
    relevelled = []
    if access_level.id != old_level.id:
        relevelled = event_guests.relevel_followers(event, old_level, by=by)
    audit.record(AuditAction.EVENT_CHANGED, event, by=by, details=event.name)
    db.session.commit()
    change = EventChange(event, guests=len(moved), relevelled=len(relevelled))
    change.job = event_guests.enqueue_update(event, moved, relevelled, old_level, by=by)
    return change


def cancel_event(event, *, by):
    """Cancel the event and every guest who can still change; one job removes them from
    HikCentral. Returns an EventChange; raises EventStateError when already cancelled."""
    require_open(event)
    event.cancelled_at = utcnow()
    cancelled, with_person = event_guests.cancel_guests(event, by=by)
    audit.record(AuditAction.EVENT_CANCELLED, event, by=by, details=event.name)
    db.session.commit()
    change = EventChange(event, guests=len(cancelled))
    if with_person:
        change.job = event_guests.enqueue_revoke(event, with_person, by=by)
    return change


def require_open(event):
    """Raise EventStateError when the event was cancelled."""
    if event.cancelled_at is not None:
        raise EventStateError(CANCELLED)


def latest_job(event):
    """The most recent job about the event's guests (a move or a cancel), or None."""
    # Invitations have their own place on the event page.
    return queue.latest_record("event", event.id, except_kind="invite_event_guests")


def visible_events(user):
    """Events the user may open: their own, or all for admins."""
    query = select(Event).order_by(Event.starts_at.desc())
    if not user.can(Role.ADMIN):
        query = query.where(Event.organizer_id == user.id)
    return query


def can_manage(user, event):
    """Only the organizer of an event, or an admin, may open and change it."""
    return user.can(Role.ADMIN) or (user.can(Role.ORGANIZER) and event.organizer_id == user.id)


def guest_counts(event_ids):
    """{event_id: {state: count, "total": count}} for the given events."""
    counts = {event_id: {"total": 0} for event_id in event_ids}
    if not event_ids:
        return counts
    rows = db.session.execute(
        select(Visit.event_id, Visit.state, func.count())
        .where(Visit.event_id.in_(event_ids))
        .group_by(Visit.event_id, Visit.state)
    )
    for event_id, state, count in rows:
        counts[event_id][state] = count
        counts[event_id]["total"] += count
    return counts


# Visits that no longer need a photo are left out of the photo counts.
CLOSED_FOR_PHOTOS = (VisitState.CANCELLED.value, VisitState.EXPIRED.value)
ENROLLED_STATES = (VisitState.ENROLLED.value, VisitState.ON_SITE.value, VisitState.LEFT.value)


def photo_counts(event):
    """{"missing", "received", "enrolled"}: the event's guests by where their photo stands."""
    has_photo = Guest.photo_sha256.isnot(None)
    kind = case(
        (~has_photo, "missing"),
        (Visit.state.in_(ENROLLED_STATES), "enrolled"),
        else_="received",
    )
    rows = db.session.execute(
        select(kind, func.count())
        .select_from(Visit)
        .join(Visit.guest)
        .where(Visit.event_id == event.id, Visit.state.notin_(CLOSED_FOR_PHOTOS))
        .group_by(kind)
    )
    counts = {"missing": 0, "received": 0, "enrolled": 0}
    counts.update(dict(rows.all()))
    return counts


def event_visits(event, *, q=None, state=None):
    """The query of an event's visits with their guests, filtered by name and state."""
    query = (
        select(Visit)
        .join(Visit.guest)
        .where(Visit.event_id == event.id)
        .order_by(Guest.full_name, Visit.id)
    )
    if q:
        pattern = f"%{q.strip()}%"
        query = query.where(
            or_(
                Guest.full_name.ilike(pattern),
                Guest.email.ilike(pattern),
                Guest.company.ilike(pattern),
            )
        )
    if state:
        query = query.where(Visit.state == state)
    return query


def event_imports(event):
    """The event's imports, newest first."""
    return db.session.scalars(
        select(GuestImport).where(GuestImport.event_id == event.id).order_by(GuestImport.id.desc())
    ).all()


def active_access_levels():
    """Access levels a new event or visit may use."""
    return db.session.scalars(
        select(AccessLevel).where(AccessLevel.active.is_(True)).order_by(AccessLevel.name)
    ).all()
