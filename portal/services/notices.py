"""In-app notices for one user (the bell in the navigation) and the hook for "your guest arrived".

``guest_arrived(visit, at)`` is THE arrival hook: the passage monitor and a manual check-in call
it inside their transaction for a guest's first arrival. It writes the host's in-app notice;
code that wants to do more on an arrival (the host's e-mail, say) registers with
``on_arrival(func)``: ``func(visit_id)`` is called by ``announce_arrivals`` after the commit, once
per arrival, and a listener's failure is logged, never raised into the poll.
"""

import logging

from sqlalchemy import func, select, update

from portal.extensions import db
from portal.i18n import N_
from portal.models import Notice, utcnow

log = logging.getLogger(__name__)

ARRIVED = "guest_arrived"
_arrival_listeners = []


def on_arrival(listener):
    """Register ``listener(visit_id)``, called after the commit of each first arrival."""
    if listener not in _arrival_listeners:
        _arrival_listeners.append(listener)
    return listener


def guest_arrived(visit, at, *, door_name=None):
    """The host's "your guest has arrived" notice (added to the session; the caller commits)."""
    notice = Notice(
        user_id=visit.host_id,
        visit_id=visit.id,
        kind=ARRIVED,
        message=(
            N_("Your guest %(name)s has arrived at %(door)s.")
            % {"name": visit.guest.full_name, "door": door_name}
            if door_name
            else N_("Your guest %(name)s has arrived.") % {"name": visit.guest.full_name}
        ),
        created_at=at if at is not None else utcnow(),
    )
    db.session.add(notice)
    return notice


def announce_arrivals(visit_ids):
    """After the commit: tell every registered listener about each arrival."""
    for visit_id in visit_ids:
        for listener in list(_arrival_listeners):
            try:
                listener(visit_id)
            except Exception:  # noqa: BLE001  (a listener must never stop the poll)
                log.exception("arrival listener %r failed for visit %s", listener, visit_id)


def unread_count(user):
    return db.session.scalar(
        select(func.count())
        .select_from(Notice)
        .where(Notice.user_id == user.id, Notice.read_at.is_(None))
    )


def recent(user, limit=50):
    """The user's latest notices, newest first."""
    return db.session.scalars(
        select(Notice)
        .where(Notice.user_id == user.id)
        .order_by(Notice.created_at.desc(), Notice.id.desc())
        .limit(limit)
    ).all()


def mark_all_read(user):
    """Mark every unread notice of ``user`` read; returns how many (commits)."""
    result = db.session.execute(
        update(Notice)
        .where(Notice.user_id == user.id, Notice.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    return result.rowcount
