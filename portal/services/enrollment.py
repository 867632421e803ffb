"""Enrollment of visits on HikCentral and the follow-up changes (architecture.md, flows 2 and 4).

Enrollment coalesces: the job of one registration claims every visit waiting at that moment (up
to ENROLL_BATCH_SIZE) and enrolls them through the batch operations. Delivery to the devices is
followed by deferred checks (services/delivery.py), never by a sleeping worker.

A step that fails stops the chain and says why: a permanent failure ends the visit ``failed``
with a sentence a host understands (and raises JobFailure so the job is not retried); a transient
one (HikCentral down, rate limited) propagates so RQ retries the job later. Every function is
safe to run twice: persons are adopted by their person code, finished work is a no-op.
"""

import logging

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload, undefer

from portal.extensions import db
from portal.hikvision import operations as ops
from portal.hikvision.errors import HikvisionError
from portal.i18n import N_
from portal.models import (
    ACCESS_STATES,
    Guest,
    JobRecord,
    Visit,
    VisitState,
    VisitStateChange,
    utcnow,
)
from portal.services import claims, delivery, host_notices, person_codes
from portal.services.jobs import HIKCENTRAL_DOWN, JobFailure
from portal.services.visits import set_state

log = logging.getLogger(__name__)

ACCESS_LEVEL_GONE = N_(
    "The access level no longer exists on HikCentral — ask an administrator to sync."
)
ACCESS_LEVEL_INACTIVE = N_("The access level “%(name)s” is no longer offered — choose another one.")
NO_FACE = N_("HikCentral could not find a face in the photo — upload a clearer photo and retry.")
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


def _host_sentence(step, error):
    error = error or N_("HikCentral refused the request.")
    if step == "grant" and "access level" in error.lower():
        return ACCESS_LEVEL_GONE
    if step == "person" and "no face" in error.lower():
        return NO_FACE
    return error


def enroll_visit(visit, client, *, job_id=None, now=None):
    """Enroll ``visit`` together with every visit waiting now (up to ENROLL_BATCH_SIZE).

    The visits are claimed in the database first, so each is enrolled by exactly one run; a
    visit another run took makes this one a no-op that names that run's job.
    """
    now = now or utcnow()
    owner = claims.run_id(job_id)
    settled = _settled(visit, owner)
    if settled is not None:
        return settled
    resumed = claims.resumable(owner)
    attempted = claims.attempted([visit.id])
    held = claims.claim([visit.id], owner, from_states=TRIGGER_STATES, now=now)
    if not held:
        db.session.refresh(visit)
        return _settled(visit, owner) or {"visit": visit.id, "outcome": "skipped"}
    limit = max(1, int(current_app.config["ENROLL_BATCH_SIZE"])) - 1
    if limit:
        others = claims.waiting_with(owner, limit=limit, exclude=[visit.id])
        attempted |= claims.attempted(others)
        held += [i for i in claims.claim(others, owner, now=now) if i != visit.id]
    outcomes = enroll_claimed(held, client, owner, now=now, resumed=resumed, attempted=attempted)
    return _trigger_result(visit.id, outcomes)


# The visit a job was enqueued for may be enrolled again after a failure; others only when
# they wait (a failed visit waits for its host to retry it).
TRIGGER_STATES = (VisitState.PENDING, VisitState.FAILED)


def _settled(visit, owner):
    """The no-op result when ``visit`` needs nothing from this run, else None."""
    state = VisitState(visit.state)
    taken = visit.claimed_by is not None and visit.claimed_by != owner
    if state in ACCESS_STATES or (state == VisitState.ENROLLING and taken):
        if taken:
            record = claims.claimed_by_job(visit)
            return {
                "visit": visit.id,
                "outcome": "taken",
                "state": state.value,
                "by_job": record.id if record is not None else None,
            }
        return {"visit": visit.id, "outcome": "unchanged", "state": state.value}
    if state == VisitState.FAILED and taken and _failed_since_enqueued(visit, owner):
        # It failed in another run's batch after this job was queued: that run's sentence is
        # this job's answer too (a retry queued after the failure enrolls it again).
        record = claims.claimed_by_job(visit)
        by_job = record.id if record is not None else None
        raise JobFailure(
            visit.state_reason or UNEXPECTED,
            result={"visit": visit.id, "outcome": "failed", "by_job": by_job},
        )
    if state not in ENROLLABLE_STATES:
        return {"visit": visit.id, "outcome": "skipped", "state": state.value}
    return None


def _failed_since_enqueued(visit, owner):
    mine = db.session.scalar(select(JobRecord).where(JobRecord.rq_job_id == owner))
    return mine is not None and visit.updated_at >= mine.created_at


def _trigger_result(visit_id, outcomes):
    """The job's result for its own visit; raises as that visit's outcome demands."""
    mine = outcomes[visit_id]
    batch = {"visits": len(outcomes)}
    for outcome in outcomes.values():
        batch[outcome["outcome"]] = batch.get(outcome["outcome"], 0) + 1
    result = {**mine, "batch": batch}
    if mine["outcome"] == "failed":
        raise JobFailure(mine["reason"], result=result)
    if any(o["outcome"] == "transient" for o in outcomes.values()):
        # The claimed visits stay this job's: its retry (same job id) takes them up again.
        errors = [o.get("reason") for o in outcomes.values() if o["outcome"] == "transient"]
        raise TransientEnrollmentError(errors[0] or HIKCENTRAL_DOWN)
    return result


def load_claimed(ids, *conditions):
    """The visits ``ids`` (those meeting ``conditions``) as stored now, with photo and level."""
    return db.session.scalars(
        select(Visit)
        .where(Visit.id.in_(ids), *conditions)
        .options(
            selectinload(Visit.guest).options(undefer(Guest.photo)),
            selectinload(Visit.access_level),
        )
        .order_by(Visit.id)
        .execution_options(populate_existing=True)
    ).all()


class _Batch:
    """One run over claimed visits: the outcome of each, and the HikCentral steps in bulk."""

    def __init__(self, client, owner, now):
        self.client = client
        self.owner = owner
        self.now = now
        self.outcomes = {}
        config = current_app.config
        self.org_code = config.get("HIKCENTRAL_ORG_CODE", "1")
        self.workers = max(1, int(config.get("HIKCENTRAL_MAX_IN_FLIGHT", 10)))

    def fail(self, visit, sentence, step):
        set_state(visit, VisitState.FAILED, sentence)
        self.outcomes[visit.id] = {
            "visit": visit.id,
            "outcome": "failed",
            "step": step,
            "reason": sentence,
        }

    def later(self, visit, error):
        self.outcomes[visit.id] = {
            "visit": visit.id,
            "outcome": "transient",
            "reason": error or HIKCENTRAL_DOWN,
        }

    def prepare(self, visits):
        """The visits to enroll now; an ended window or a withdrawn access level settles one."""
        ready = []
        for visit in visits:
            if visit.state != VisitState.ENROLLING or visit.claimed_by != self.owner:
                continue  # cancelled between the claim and now: nothing was sent yet
            if visit.ends_at <= self.now:
                set_state(visit, VisitState.EXPIRED, WINDOW_OVER)
                self.outcomes[visit.id] = {"visit": visit.id, "outcome": "expired"}
            elif not visit.access_level.active:
                name = visit.access_level.name
                self.fail(visit, ACCESS_LEVEL_INACTIVE % {"name": name}, "access_level")
            else:
                ready.append(visit)
        db.session.commit()
        return ready

    def persons(self, visits, resumed, attempted):
        """Ensure every guest's person concurrently; returns the visits whose person exists.

        A visit an earlier run worked on (``attempted``) is looked up before it is added."""
        todo = [v for v in visits if not (v.id in resumed and v.hik_person_id)]
        specs = [person_spec(visit, look_first=visit.id in attempted) for visit in todo]
        results = ops.ensure_persons(
            self.client, specs, org_code=self.org_code, max_workers=self.workers
        )
        for visit, result in zip(todo, results, strict=True):
            if result.ok:
                record_person(visit, result)
                self.outcomes[visit.id] = {"visit": visit.id, "person": result.action}
            elif result.transient:
                self.later(visit, result.error)
            else:
                self.fail(visit, _host_sentence("person", result.error), "person")
        # A later run (or a revoke) must know which persons exist.
        db.session.commit()
        return [v for v in visits if v.hik_person_id and v.id not in self._settled_ids()]

    def _settled_ids(self):
        return {i for i, o in self.outcomes.items() if "outcome" in o}

    def grants(self, visits):
        """One grant call per access level; returns the visits granted."""
        by_level = {}
        for visit in visits:
            by_level.setdefault(visit.access_level.hik_id, []).append(visit)
        granted = []
        for hik_id, members in by_level.items():
            results = ops.grant(self.client, hik_id, [v.hik_person_id for v in members])
            for visit, result in zip(members, results, strict=True):
                if result.ok:
                    granted.append(visit)
                elif result.transient:
                    self.later(visit, result.error)
                else:
                    self.fail(visit, _host_sentence("grant", result.error), "grant")
        db.session.commit()
        return granted

    def finish(self, visits, specs):
        """Granted visits become enrolled unless they were closed meanwhile (then revoked)."""
        ids = [visit.id for visit in visits]
        if not ids:
            return
        db.session.execute(
            update(Visit)
            .where(
                Visit.id.in_(ids),
                Visit.state == VisitState.ENROLLING.value,
                Visit.claimed_by == self.owner,
            )
            .values(state=VisitState.ENROLLED.value, state_reason=None, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        for visit in visits:
            db.session.refresh(visit)
            outcome = self.outcomes.setdefault(visit.id, {"visit": visit.id})
            if visit.state == VisitState.ENROLLED:
                self._enrolled(visit, specs[visit.id], outcome)
            else:
                log.info("visit %s became %s during enrollment; revoking", visit.id, visit.state)
                outcome.update(revoke_visit(visit, self.client), outcome="revoked_after_change")
        db.session.commit()

    def _enrolled(self, visit, spec, outcome):
        visit.history.append(VisitStateChange(state=VisitState.ENROLLED.value))
        if (visit.starts_at, visit.ends_at) != (spec.begin, spec.end):
            update_validity(visit, self.client, reapply=False)
        outcome.update(
            outcome="enrolled", hik_person_id=visit.hik_person_id, delivery=visit.delivery
        )


def enroll_claimed(visit_ids, client, owner, *, now=None, resumed=(), attempted=()):
    """Enroll visits ``owner`` has claimed: persons concurrently, one grant per access level,
    re-applications in chunks; returns {visit id: outcome}. One guest's failure fails only
    that guest; commits as it goes."""
    now = now or utcnow()
    batch = _Batch(client, owner, now)
    ready = batch.prepare(load_claimed(visit_ids))
    specs = {visit.id: person_spec(visit) for visit in ready}
    granted = batch.grants(batch.persons(ready, set(resumed), set(attempted)))
    if granted:
        delivery.reapply(client, granted, now=now)
        db.session.commit()
    batch.finish(granted, specs)
    if granted:
        delivery.schedule_next()
    _tell_hosts_of_failures(batch.outcomes)
    return batch.outcomes


def give_up(visit, error_sentence, *, job_id=None):
    """After the last retry: the visit and the others its run held end failed; commits."""
    failed = []
    if job_id:
        failed = db.session.scalars(
            select(Visit).where(
                Visit.claimed_by == job_id, Visit.state == VisitState.ENROLLING.value
            )
        ).all()
    if visit.state in (VisitState.PENDING, VisitState.ENROLLING) and visit not in failed:
        failed.append(visit)
    for held in failed:
        set_state(held, VisitState.FAILED, error_sentence)
    db.session.commit()
    for held in failed:
        host_notices.notify(held, host_notices.ENROLLMENT_FAILED)


def _tell_hosts_of_failures(outcomes):
    """Queue the "enrollment failed" e-mail for each visit this run failed (after its commit)."""
    failed = [i for i, outcome in outcomes.items() if outcome.get("outcome") == "failed"]
    if not failed:
        return
    db.session.commit()
    for visit in db.session.scalars(select(Visit).where(Visit.id.in_(failed))).all():
        host_notices.notify(visit, host_notices.ENROLLMENT_FAILED)


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
        delivery.reapply(client, [visit])
        db.session.commit()
        delivery.schedule_next()
    return {"visit": visit.id, "outcome": result.action}


def access_removed(visit):
    """Forget the devices' delivery of access that no longer exists (the caller commits)."""
    delivery.forget(visit)


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
    """Push an enrolled visit's access to the devices again; a deferred check follows."""
    if VisitState(visit.state) not in ACCESS_STATES or not visit.hik_person_id:
        return {"visit": visit.id, "outcome": "skipped", "state": visit.state}
    delivery.reapply(client, [visit])
    db.session.commit()
    delivery.schedule_next()
    return {"visit": visit.id, "outcome": "reapplied", "delivery": visit.delivery}


def load_visit(visit_id):
    """The visit ``visit_id``, or a JobFailure when it no longer exists."""
    visit = db.session.get(Visit, visit_id)
    if visit is None:
        raise JobFailure(N_("Visit %(id)d no longer exists.") % {"id": visit_id})
    return visit
