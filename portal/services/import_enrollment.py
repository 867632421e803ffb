"""Enrolling a confirmed guest list (architecture.md, flow 3).

``start_enrollment`` enqueues ``jobs.imports.enroll_import`` once the import's visits are
committed. ``enroll_import`` works in chunks (persons concurrently under the shared limiter, one
grant per chunk and access level, one re-apply at the end); it is resumable and never enrolls
anybody twice: persons are adopted by their person code and finished visits are skipped.
"""

import logging
import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

from flask import current_app
from rq import Retry
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from portal import queue
from portal.extensions import db
from portal.hikvision import operations as ops
from portal.i18n import N_
from portal.models import (
    ACCESS_STATES,
    OPEN_JOB_STATES,
    Guest,
    ImportState,
    JobRecord,
    Visit,
    VisitState,
    utcnow,
)
from portal.services import claims, delivery, enrollment
from portal.services.import_files import purge_import_files
from portal.services.jobs import JobFailure
from portal.services.visits import set_state

log = logging.getLogger(__name__)

FIRST_CHUNK = 20  # small first chunks: progress moves within seconds
MAX_CHUNK = 200
# States a visit of an import is still waiting in (enrolling: a run died half-way).
WAITING_STATES = (VisitState.PENDING.value, VisitState.ENROLLING.value)
ACCESS_STATE_VALUES = tuple(state.value for state in ACCESS_STATES)
# States of an import that has no visits to enroll (yet).
NOT_CONFIRMED = tuple(
    state.value
    for state in (
        ImportState.STAGING,
        ImportState.VALIDATED,
        ImportState.FAILED,
        ImportState.EXPIRED,
    )
)


def _job_timeout(count):
    """Seconds the job may run: three times the rate-limit floor, plus a margin."""
    config = current_app.config
    per_call = config["HIKCENTRAL_RATE_LIMIT_WINDOW"] / config["HIKCENTRAL_RATE_LIMIT_CALLS"]
    return int(math.ceil(count * 1.1 * per_call * 3)) + 600


def _retry_policy():
    intervals = current_app.config.get("JOB_RETRY_INTERVALS") or queue.HIKCENTRAL_RETRY_INTERVALS
    return Retry(max=len(intervals), interval=list(intervals))


def start_enrollment(guest_import, user) -> JobRecord:
    """Enqueue ``enroll_import`` for the import (after its visits are committed)."""
    count = db.session.scalar(
        select(func.count()).select_from(Visit).where(Visit.import_id == guest_import.id)
    )
    record = queue.enqueue_about(
        "import",
        guest_import.id,
        "jobs.imports.enroll_import",
        kind="enroll_import",
        created_by=user,
        retry=_retry_policy(),
        job_timeout=_job_timeout(count or 0),
    )
    guest_import.job_id = record.id
    db.session.commit()
    return record


def import_job(guest_import) -> JobRecord | None:
    """The import's latest job (its staging, then its enrollment), or None."""
    return db.session.get(JobRecord, guest_import.job_id) if guest_import.job_id else None


def is_running(guest_import) -> bool:
    """Whether the import's latest job (staging or enrollment) is queued or running."""
    record = import_job(guest_import)
    return record is not None and record.state in OPEN_JOB_STATES


def state_counts(guest_import) -> dict[str, int]:
    """{state: count} of the import's visits."""
    rows = db.session.execute(
        select(Visit.state, func.count())
        .where(Visit.import_id == guest_import.id)
        .group_by(Visit.state)
    )
    return dict(rows.all())


def progress(guest_import) -> tuple[int, int, int]:
    """(done, total, failed): guests no longer waiting, all guests, failed guests."""
    counts = state_counts(guest_import)
    total = sum(counts.values())
    waiting = sum(counts.get(state, 0) for state in WAITING_STATES)
    return total - waiting, total, counts.get(VisitState.FAILED.value, 0)


def chunk_sizes(first=FIRST_CHUNK, largest=MAX_CHUNK):
    """Chunk sizes that start small (early progress) and double up to ``largest``."""
    size = first
    while True:
        yield size
        size = min(size * 2, largest)


def _chunks(ids, first, largest):
    start = 0
    for size in chunk_sizes(first, largest):
        if start >= len(ids):
            return
        yield ids[start : start + size]
        start += size


def _waiting_ids(guest_import, owner):
    """The import's visits this run may take: pending ones, and those it (or nobody) holds."""
    return db.session.scalars(
        select(Visit.id)
        .where(
            Visit.import_id == guest_import.id,
            or_(
                Visit.state == VisitState.PENDING.value,
                and_(
                    Visit.state == VisitState.ENROLLING.value,
                    or_(Visit.claimed_by == owner, Visit.claimed_by.is_(None)),
                ),
            ),
        )
        .order_by(Visit.id)
    ).all()


def _load_chunk(ids, owner):
    """Claim the chunk's visits for this run (another run may hold some), then load them."""
    held = claims.claim(ids, owner)
    return enrollment.load_claimed(held, Visit.state == VisitState.ENROLLING.value)


class _Run:
    """One run of an import's enrollment: what it enrolled, what failed, what is left."""

    def __init__(self, client, *, org_code, max_workers, now, owner):
        self.client = client
        self.owner = owner
        # Visits this run's job held before (a retry): their persons exist already.
        self.resumed: set[int] = claims.resumable(owner)
        self.org_code = org_code
        self.max_workers = max_workers
        self.now = now
        self.enrolled_ids: list[str] = []
        self.counts = {"enrolled": 0, "failed": 0, "expired": 0, "transient": 0, "revoked": 0}
        self.transient_error = None
        # Visits an earlier run worked on: their person is looked up before it is added.
        self.retried: set[int] = set()

    def fail(self, visit, sentence):
        set_state(visit, VisitState.FAILED, sentence)
        self.counts["failed"] += 1

    def leave_for_later(self, visit, error):
        self.counts["transient"] += 1
        self.transient_error = error or enrollment.HIKCENTRAL_DOWN

    def prepare(self, visits):
        """Visits that can be enrolled now, marked enrolling; the others settled."""
        ready = []
        for visit in visits:
            if visit.ends_at <= self.now:
                set_state(visit, VisitState.EXPIRED, enrollment.WINDOW_OVER)
                self.counts["expired"] += 1
            elif not visit.access_level.active:
                name = visit.access_level.name
                self.fail(visit, enrollment.ACCESS_LEVEL_INACTIVE % {"name": name})
            else:
                ready.append(visit)
        db.session.commit()
        return ready

    def person_work(self, visits):
        """(visits whose person a crashed run made, visits to ensure, their specs)."""
        known = [visit for visit in visits if visit.id in self.resumed]
        todo = [visit for visit in visits if visit.id not in self.resumed]
        specs = [
            enrollment.person_spec(visit, look_first=visit.id in self.retried) for visit in todo
        ]
        return known, todo, specs

    def ensure_one(self, spec):
        """ensure_persons for one guest (in a helper thread: HTTP only, no database)."""
        [result] = ops.ensure_persons(self.client, [spec], org_code=self.org_code, max_workers=1)
        return result

    def apply_persons(self, known, todo, results):
        """Record each new person; returns the visits whose person exists."""
        ready = list(known)
        for visit, result in zip(todo, results, strict=True):
            if result.ok:
                enrollment.record_person(visit, result)
                ready.append(visit)
            elif result.transient:
                self.leave_for_later(visit, result.error)
            else:
                self.fail(visit, enrollment._host_sentence("person", result.error))
        # A later run (or a revoke) must know which persons exist.
        db.session.commit()
        return ready

    def grant_plan(self, visits):
        """{access level hik_id: [visits]} of a chunk: one grant call each."""
        by_level = {}
        for visit in visits:
            by_level.setdefault(visit.access_level.hik_id, []).append(visit)
        return by_level

    def apply_grants(self, by_level, outcome):
        """The visits granted; the others left for later or failed with a sentence."""
        granted = []
        for hik_id, members in by_level.items():
            for visit, result in zip(members, outcome[hik_id], strict=True):
                if result.ok:
                    granted.append(visit)
                elif result.transient:
                    self.leave_for_later(visit, result.error)
                else:
                    self.fail(visit, enrollment._host_sentence("grant", result.error))
        return granted

    def finish(self, visits):
        """Granted visits become enrolled, unless they were cancelled meanwhile."""
        ids = [visit.id for visit in visits]
        current = dict(
            db.session.execute(select(Visit.id, Visit.state).where(Visit.id.in_(ids))).all()
        )
        for visit in visits:
            if current.get(visit.id) != VisitState.ENROLLING:
                db.session.refresh(visit)
                log.info("visit %s became %s during enrollment; revoking", visit.id, visit.state)
                enrollment.revoke_visit(visit, self.client)
                self.counts["revoked"] += 1
                continue
            set_state(visit, VisitState.ENROLLED)
            self.enrolled_ids.append(visit.hik_person_id)
            self.counts["enrolled"] += 1
        db.session.commit()


def _unapplied(guest_import):
    """Visits of the import that hold access but were never re-applied to the devices."""
    return db.session.scalars(
        select(Visit).where(
            Visit.import_id == guest_import.id,
            Visit.state.in_(ACCESS_STATE_VALUES),
            Visit.delivery.is_(None),
            Visit.hik_person_id.is_not(None),
        )
    ).all()


def _reapply(guest_import, client):
    """Re-apply every enrolled person still waiting for it, in chunks; checks follow later."""
    visits = _unapplied(guest_import)
    if not visits:
        return 0
    delivery.reapply(client, visits)
    db.session.commit()
    delivery.schedule_next()
    return len(visits)


def enroll_import(
    guest_import, client, *, report=None, now=None, first_chunk=FIRST_CHUNK, job_id=None
):
    """Enroll the import's waiting guests in chunks; ``report(done, total, failed)`` per chunk.

    A transient failure that affects a whole chunk, or leaves guests waiting at the end, is
    raised (after the finished work is committed) so the job is retried and resumes.
    """
    if guest_import.state in NOT_CONFIRMED:
        raise JobFailure(N_("This guest list has not been confirmed yet."))
    config = current_app.config
    run = _Run(
        client,
        org_code=config.get("HIKCENTRAL_ORG_CODE", "1"),
        max_workers=max(1, int(config.get("HIKCENTRAL_MAX_IN_FLIGHT", 10))),
        now=now or utcnow(),
        owner=claims.run_id(job_id),
    )
    guest_import.state = ImportState.ENROLLING.value
    db.session.commit()
    report = report or (lambda done, total, failed: None)

    def report_now():
        report(*progress(guest_import))

    report_now()
    waiting = _waiting_ids(guest_import, run.owner)
    _enroll_chunks(run, _chunks(waiting, first_chunk, MAX_CHUNK), report_now)
    reapplied = _reapply(guest_import, client)
    if run.counts["transient"]:
        raise enrollment.TransientEnrollmentError(run.transient_error)
    guest_import.state = ImportState.DONE.value
    db.session.commit()
    purge_import_files(guest_import)
    done, total, failed = progress(guest_import)
    return {
        "import": guest_import.id,
        "total": total,
        "done": done,
        "failed": failed,
        "enrolled_now": run.counts["enrolled"],
        "failed_now": run.counts["failed"],
        "expired_now": run.counts["expired"],
        "reapplied": reapplied,
    }


def _enroll_chunks(run, chunks, report_now):
    """Persons flow through one pool without pausing between chunks (the next chunk is queued
    behind the current one); each chunk's grant overlaps the next chunk's persons. Helper threads
    only speak HTTP: every database change stays in this thread."""
    chunks = iter(chunks)
    persons = ThreadPoolExecutor(max_workers=run.max_workers, thread_name_prefix="import-person")
    granter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-grant")

    def start(ids):
        run.retried |= claims.attempted(ids) - run.resumed
        visits = run.prepare(_load_chunk(ids, run.owner))
        known, todo, specs = run.person_work(visits)
        return visits, known, todo, [persons.submit(run.ensure_one, spec) for spec in specs]

    try:
        queued = deque(start(ids) for ids in islice(chunks, 2))
        granting = None
        while queued:
            visits, known, todo, futures = queued.popleft()
            if granting is not None:  # the previous chunk's grant, while these persons go on
                _settle(run, *granting)
                granting = None
                report_now()
            before = run.counts["transient"]
            with_person = run.apply_persons(known, todo, [f.result() for f in futures])
            if visits and run.counts["transient"] - before == len(visits):
                # Nobody of the chunk got through: HikCentral is down; RQ retries the job later.
                raise enrollment.TransientEnrollmentError(run.transient_error)
            plan = run.grant_plan(with_person)
            calls = {level: [v.hik_person_id for v in members] for level, members in plan.items()}
            granting = (visits, plan, granter.submit(grant_calls, run.client, calls))
            following = next(chunks, None)
            if following is not None:
                queued.append(start(following))
        if granting is not None:
            _settle(run, *granting)
            report_now()
    finally:
        # After a failure, persons not yet sent stay waiting for the next run.
        persons.shutdown(wait=True, cancel_futures=True)
        granter.shutdown(wait=True)


def grant_calls(client, calls):
    """One grant call per access level: {hik_id: [person_id]} -> {hik_id: [ItemResult]}."""
    return {hik_id: ops.grant(client, hik_id, ids) for hik_id, ids in calls.items()}


def _settle(run, visits, plan, granting):
    """Apply a chunk's grant results, then let go of its visits (and their photos)."""
    run.finish(run.apply_grants(plan, granting.result()))
    for visit in visits:
        db.session.expunge(visit.guest)
        db.session.expunge(visit)


def give_up(guest_import, sentence):
    """After the last retry: guests still waiting end failed with ``sentence``; commits."""
    visits = db.session.scalars(
        select(Visit).where(Visit.import_id == guest_import.id, Visit.state.in_(WAITING_STATES))
    ).all()
    for visit in visits:
        set_state(visit, VisitState.FAILED, sentence)
    guest_import.state = ImportState.DONE.value
    db.session.commit()


def failed_visits(guest_import):
    """The query of the import's failed guests, by name."""
    return (
        select(Visit)
        .join(Visit.guest)
        .where(Visit.import_id == guest_import.id, Visit.state == VisitState.FAILED.value)
        .options(selectinload(Visit.guest))
        .order_by(Guest.full_name, Visit.id)
    )
