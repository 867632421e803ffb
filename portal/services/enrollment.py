"""Enrollment of a visit on HikCentral and the follow-up changes (architecture.md, flows 2 and 4).

A step that fails stops the chain and says why: a permanent failure ends the visit ``failed``
with a sentence a host understands (and raises JobFailure so the job is not retried); a transient
one (HikCentral down, rate limited) propagates so RQ retries the job later. Every function is
safe to run twice: persons are adopted by their person code, finished work is a no-op.
"""

import logging
import time

from flask import current_app

from portal.extensions import db
from portal.hikvision import operations as ops
from portal.hikvision.errors import HikvisionError
from portal.i18n import N_
from portal.models import ACCESS_STATES, Visit, VisitState, utcnow
from portal.services import person_codes
from portal.services.jobs import JobFailure
from portal.services.visits import set_state

log = logging.getLogger(__name__)

ACCESS_LEVEL_GONE = N_(
    "The access level no longer exists on HikCentral — ask an administrator to sync."
)
ACCESS_LEVEL_INACTIVE = N_("The access level “%(name)s” is no longer offered — choose another one.")
NO_FACE = N_("HikCentral could not find a face in the photo — upload a clearer photo and retry.")
HIKCENTRAL_DOWN = N_("HikCentral did not answer; try again later.")
UNEXPECTED = N_(
    "Enrollment stopped because of an unexpected error — try again or ask an administrator."
)
WINDOW_OVER = N_("The visit's time ended before the guest could be enrolled.")

# States a visit may be enrolled from; a failed one is enrolled again when its job is retried.
ENROLLABLE_STATES = {VisitState.PENDING, VisitState.ENROLLING, VisitState.FAILED}
# States after which nobody may keep access on HikCentral.
CLOSED_STATES = {VisitState.CANCELLED, VisitState.EXPIRED, VisitState.LEFT}


class TransientEnrollmentError(HikvisionError):
    """A per-item failure that HikCentral may not repeat later (retried by RQ)."""

    transient = True


def split_name(full_name):
    """(given name, family name): the last word is the family name."""
    words = full_name.split()
    if len(words) < 2:
        return (words[0] if words else "Guest"), "-"
    return " ".join(words[:-1]), words[-1]


def person_spec(visit, *, look_first=False):
    """What HikCentral should hold for ``visit``: its guest, face and window.

    ``look_first`` for a retried run (an earlier one may have added the person). A visit made
    before person codes were safe, not yet on HikCentral, is sent under its safe replacement
    code (its old code is looked up first).
    """
    given, family = split_name(visit.guest.full_name)
    code, legacy = person_codes.code_to_send(visit, current_app.config)
    return ops.PersonSpec(
        person_code=code,
        legacy_code=legacy,
        look_first=look_first,
        given_name=given,
        family_name=family,
        begin=visit.starts_at,
        end=visit.ends_at,
        face=visit.guest.photo,
        phone=visit.guest.phone,
        email=visit.guest.email,
    )


def record_person(visit, result):
    """Keep the code HikCentral holds the person under, its id and whether its window took."""
    visit.hik_person_id = result.person_id
    visit.person_code = result.person_code or visit.person_code
    visit.window_not_applied = not result.window_applied


def _fail(visit, sentence, **result):
    """End the visit failed with ``sentence`` and stop the job without retries."""
    set_state(visit, VisitState.FAILED, sentence)
    db.session.commit()
    raise JobFailure(sentence, result={"visit": visit.id, "outcome": "failed", **result})


def _check(result, visit, step):
    """Raise for a failed item: transient -> retry later, permanent -> the visit fails."""
    if result.ok:
        return
    if result.transient:
        raise TransientEnrollmentError(result.error or HIKCENTRAL_DOWN)
    _fail(visit, _host_sentence(step, result.error), step=step)


def _host_sentence(step, error):
    error = error or N_("HikCentral refused the request.")
    if step == "grant" and "access level" in error.lower():
        return ACCESS_LEVEL_GONE
    if step == "person" and "no face" in error.lower():
        return NO_FACE
    return error


def _call(visit, step, func, *args, **kwargs):
    """Run one HikCentral step; a permanent error fails the visit, a transient one propagates."""
    try:
        return func(*args, **kwargs)
    except HikvisionError as exc:
        if exc.transient:
            raise
        _fail(visit, _host_sentence(step, ops.describe(exc)), step=step)


def enroll_visit(visit, client, *, now=None):
    """Enroll ``visit``: person with face and window, access level, re-apply; then delivery."""
    now = now or utcnow()
    state = VisitState(visit.state)
    if state in ACCESS_STATES:
        return {"visit": visit.id, "outcome": "unchanged", "state": state.value}
    if state not in ENROLLABLE_STATES:
        return {"visit": visit.id, "outcome": "skipped", "state": state.value}
    if visit.ends_at <= now:
        set_state(visit, VisitState.EXPIRED, WINDOW_OVER)
        db.session.commit()
        return {"visit": visit.id, "outcome": "expired"}
    level = visit.access_level
    if not level.active:
        _fail(visit, ACCESS_LEVEL_INACTIVE % {"name": level.name}, step="access_level")
    if state != VisitState.ENROLLING:
        set_state(visit, VisitState.ENROLLING)
        db.session.commit()

    # A run after an earlier one (retried job, failed visit) looks before it adds.
    spec = person_spec(visit, look_first=state != VisitState.PENDING)
    org = current_app.config.get("HIKCENTRAL_ORG_CODE", "1")
    [person] = _call(visit, "person", ops.ensure_persons, client, [spec], org_code=org)
    _check(person, visit, "person")
    record_person(visit, person)
    db.session.commit()  # a later run (or a revoke) must know the person exists

    [granted] = _call(visit, "grant", ops.grant, client, level.hik_id, [person.person_id])
    _check(granted, visit, "grant")
    _call(visit, "reapply", ops.reapply, client, [person.person_id])

    db.session.refresh(visit)
    if visit.state != VisitState.ENROLLING:
        # Cancelled (or expired) while we enrolled: take back what was just given.
        log.info("visit %s became %s during enrollment; revoking", visit.id, visit.state)
        revoked = revoke_visit(visit, client)
        return {**revoked, "outcome": "revoked_after_change"}
    if (visit.starts_at, visit.ends_at) != (spec.begin, spec.end):
        update_validity(visit, client, reapply=False)
    set_state(visit, VisitState.ENROLLED)
    db.session.commit()
    delivery = follow_delivery(visit, client)
    return {
        "visit": visit.id,
        "outcome": "enrolled",
        "person": person.action,
        "hik_person_id": person.person_id,
        "delivery": delivery,
    }


def give_up(visit, error_sentence):
    """After the last retry: a visit still being enrolled ends failed with ``error_sentence``."""
    if visit.state in (VisitState.PENDING, VisitState.ENROLLING):
        set_state(visit, VisitState.FAILED, error_sentence)
        db.session.commit()


def follow_delivery(visit, client, *, attempts=None, interval=None, sleep=time.sleep):
    """Poll the devices' delivery a bounded number of times; records applied/pending/failed."""
    config = current_app.config
    attempts = attempts if attempts is not None else config.get("DELIVERY_POLL_ATTEMPTS", 5)
    interval = interval if interval is not None else config.get("DELIVERY_POLL_SECONDS", 2.0)
    status = "pending"
    for attempt in range(max(attempts, 0)):
        try:
            answer = ops.delivery_status(client, [visit.hik_person_id])
        except HikvisionError as exc:
            # Access is granted; not knowing whether the devices have it yet is not a failure.
            log.warning("delivery of visit %s unknown: %s", visit.id, type(exc).__name__)
            break
        status = answer.get(visit.hik_person_id, "pending")
        if status in ("applied", "failed"):
            break
        status = "pending"
        if attempt < attempts - 1:
            sleep(interval)
    visit.delivery = status
    # The delivery answer is per person; "failed" means at least one device refused it.
    visit.delivery_failed = 1 if status == "failed" else 0
    db.session.commit()
    return status


def update_validity(visit, client, *, reapply=True):
    """Give HikCentral the visit's current window (only when it holds the person)."""
    if not visit.hik_person_id or visit.state in CLOSED_STATES:
        return {"visit": visit.id, "outcome": "unchanged", "state": visit.state}
    item = (visit.hik_person_id, visit.person_code, visit.starts_at, visit.ends_at)
    [result] = ops.update_validity(client, [item])
    if not result.ok:
        if result.transient:
            raise TransientEnrollmentError(result.error or HIKCENTRAL_DOWN)
        raise JobFailure(result.error, result={"visit": visit.id, "outcome": "failed"})
    visit.window_not_applied = not result.window_applied
    db.session.commit()
    if reapply:
        ops.reapply(client, [visit.hik_person_id])
    return {"visit": visit.id, "outcome": result.action}


def access_removed(visit):
    """Forget the devices' delivery of access that no longer exists (the caller commits)."""
    visit.delivery = None
    visit.delivery_failed = 0


def revoke_visit(visit, client):
    """Remove a closed visit's access level and person from HikCentral (state is unchanged)."""
    if VisitState(visit.state) not in CLOSED_STATES:
        return {"visit": visit.id, "outcome": "skipped", "state": visit.state}
    if not visit.hik_person_id:
        return {"visit": visit.id, "outcome": "nothing_to_revoke"}
    person_id = visit.hik_person_id
    [revoked] = ops.revoke(client, visit.access_level.hik_id, [person_id])
    [deleted] = ops.delete_persons(client, [person_id])
    for result in (revoked, deleted):
        if not result.ok and result.transient:
            raise TransientEnrollmentError(result.error or HIKCENTRAL_DOWN)
    if revoked.ok or deleted.ok:
        access_removed(visit)
        db.session.commit()
    if not deleted.ok:
        raise JobFailure(deleted.error, result={"visit": visit.id, "outcome": "failed"})
    return {"visit": visit.id, "outcome": "revoked", "person": deleted.action}


def reapply_visit(visit, client):
    """Push an enrolled visit's access to the devices again and follow the delivery."""
    if VisitState(visit.state) not in ACCESS_STATES or not visit.hik_person_id:
        return {"visit": visit.id, "outcome": "skipped", "state": visit.state}
    ops.reapply(client, [visit.hik_person_id])
    return {"visit": visit.id, "outcome": "reapplied", "delivery": follow_delivery(visit, client)}


def load_visit(visit_id):
    """The visit ``visit_id``, or a JobFailure when it no longer exists."""
    visit = db.session.get(Visit, visit_id)
    if visit is None:
        raise JobFailure(N_("Visit %(id)d no longer exists.") % {"id": visit_id})
    return visit
