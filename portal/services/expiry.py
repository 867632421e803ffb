"""Expiry (architecture.md, flow 5): visits whose window ended lose their access, in batched calls.

One revoke call per access level, the persons deleted, the visits ``expired``. Safe to run twice
and after a lost run: it works from the visits' states, and HikCentral's "already gone" is fine.
"""

import logging
from collections import defaultdict

from sqlalchemy import or_, select

from portal.extensions import db
from portal.hikvision import operations as ops
from portal.i18n import N_
from portal.models import Visit, VisitState, utcnow
from portal.services.enrollment import access_removed
from portal.services.visits import set_state

log = logging.getLogger(__name__)

# Visits that may still hold access (or are waiting for it) and must stop at the window's end.
SWEPT_STATES = (VisitState.PENDING, VisitState.ENROLLED, VisitState.ON_SITE, VisitState.LEFT)
WINDOW_ENDED = N_("The visit's time ended; access was removed.")
CLEANUP_FAILED = N_("The visit's time ended; HikCentral could not remove the guest: %(error)s")


def due_visits(now):
    """Visits whose window has ended but which may still hold access on HikCentral.

    A failed visit whose person was created is included too, so no guest outlives its visit.
    """
    live = Visit.state.in_([s.value for s in SWEPT_STATES])
    failed_with_person = (Visit.state == VisitState.FAILED.value) & Visit.hik_person_id.isnot(None)
    query = (
        select(Visit).where(Visit.ends_at <= now, or_(live, failed_with_person)).order_by(Visit.id)
    )
    return db.session.scalars(query).all()


def remove_from_hikcentral(client, visits):
    """Revoke (one call per access level) and delete; returns {visit id: ItemResult failure}."""
    problems = {}
    by_level = defaultdict(list)
    for visit in visits:
        by_level[visit.access_level.hik_id].append(visit)
    for level_id, group in by_level.items():
        results = ops.revoke(client, level_id, [v.hik_person_id for v in group])
        problems.update({v.id: r for v, r in zip(group, results, strict=True) if not r.ok})
    # A person whose revoke failed only for now stays, so the next sweep finds it complete.
    to_delete = [v for v in visits if not (v.id in problems and problems[v.id].transient)]
    results = ops.delete_persons(client, [v.hik_person_id for v in to_delete])
    for visit, result in zip(to_delete, results, strict=True):
        if not result.ok:
            problems[visit.id] = result
    return problems


def expire_visits(client, *, now=None):
    """Take access away from every visit whose window ended; mark them expired."""
    now = now or utcnow()
    visits = due_visits(now)
    enrolled = [v for v in visits if v.hik_person_id]
    problems = remove_from_hikcentral(client, enrolled) if enrolled else {}
    expired, later = [], []
    for visit in visits:
        problem = problems.get(visit.id)
        if problem is not None and problem.transient:
            later.append(visit.id)
            continue
        reason = CLEANUP_FAILED % {"error": problem.error} if problem else WINDOW_ENDED
        if problem:
            log.warning("visit %s expired but HikCentral kept it: %s", visit.id, problem.error)
        else:
            access_removed(visit)
        set_state(visit, VisitState.EXPIRED, reason)
        expired.append(visit.id)
    db.session.commit()
    if later:
        log.warning("%d expired visits kept for the next sweep (HikCentral busy)", len(later))
    return {"expired": len(expired), "retry_later": len(later), "visits": expired}
