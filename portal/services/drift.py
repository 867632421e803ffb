"""Drift repair: enrolled visits compared with HikCentral, differences put right (periodic).

Someone may change a person by hand on the server, or a server restore may lose persons; the
portal would still say "On the doors". Each run takes the enrolled visits checked longest ago and,
for each, looks the person up by its code and reads its access level's members (once per level):
a missing person is created again (face, window, access level, re-apply), a changed window is set
back, a lost membership is granted again. Every repair is logged and kept as a DriftRepair row,
which the admin connection page lists.

Calls are paced by a limiter of their own at RECONCILE_CALL_SHARE of HikCentral's rate limit (on
top of the shared one), and a run stops after that share of its period, so enrollment keeps the
rest of the limit.
"""

import logging
import math

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.hikvision import operations as ops
from portal.hikvision.errors import HikvisionError
from portal.hikvision.ratelimit import SharedRateLimiter, limiter_name
from portal.i18n import N_
from portal.models import ACCESS_STATES, DriftKind, DriftRepair, Visit, utcnow
from portal.services import delivery

log = logging.getLogger(__name__)

MAX_RUN_SECONDS = 60  # a run holds a worker no longer than this (at the paced rate)
BATCH = 500
ACCESS_STATE_VALUES = tuple(state.value for state in ACCESS_STATES)
DETAILS = {
    DriftKind.PERSON_MISSING: N_("The guest was missing on HikCentral; created again with access."),
    DriftKind.VALIDITY: N_(
        "HikCentral held another access window; the visit's window was set back."
    ),
    DriftKind.ACCESS_LEVEL: N_("The guest had lost the access level on HikCentral; granted again."),
}


class BudgetSpent(Exception):
    """The run used the calls its share of the rate limit allows."""


class PacedClient:
    """A client whose calls also wait for the drift limiter and stop at the run's budget."""

    def __init__(self, client, limiter, max_calls):
        self.client = client
        self.limiter = limiter
        self.max_calls = max_calls
        self.calls = 0

    def call(self, path, body=None, **kwargs):
        if self.calls >= self.max_calls:
            raise BudgetSpent()
        if self.limiter is not None:
            self.limiter.acquire()
        self.calls += 1
        return self.client.call(path, body, **kwargs)


def call_rate(config):
    """Calls per second drift repair may spend: RECONCILE_CALL_SHARE of the rate limit."""
    share = float(config["RECONCILE_CALL_SHARE"])
    return share * config["HIKCENTRAL_RATE_LIMIT_CALLS"] / config["HIKCENTRAL_RATE_LIMIT_WINDOW"]


def run_budget(config):
    """Calls one run may make: its share of the rate over its period (at most a minute)."""
    seconds = min(MAX_RUN_SECONDS, int(config["DRIFT_REPAIR_SECONDS"]))
    return max(1, math.floor(call_rate(config) * seconds))


def drift_limiter(config, redis):
    """A limiter at the drift share, shared by every process (None without Redis)."""
    if redis is None:
        return None
    rate = call_rate(config)
    calls, window = (math.floor(rate), 1.0) if rate >= 1 else (1, 1.0 / rate)
    return SharedRateLimiter(
        redis,
        limiter_name(config["HIKCENTRAL_URL"]) + ":drift",
        calls,
        window,
        max_in_flight=config.get("HIKCENTRAL_MAX_IN_FLIGHT", 10),
        max_wait=max(30.0, window * 2),
    )


def _due_visits(now, limit):
    return db.session.scalars(
        select(Visit)
        .where(
            Visit.state.in_(ACCESS_STATE_VALUES),
            Visit.hik_person_id.is_not(None),
            Visit.ends_at > now,
        )
        .options(selectinload(Visit.access_level), selectinload(Visit.guest))
        .order_by(Visit.drift_checked_at.is_not(None), Visit.drift_checked_at, Visit.id)
        .limit(limit)
    ).all()


class _Repairs:
    """One run: the paced client, the level members read so far, the repairs made."""

    def __init__(self, client, now):
        self.client = client
        self.now = now
        self.members = {}
        self.made = []

    def record(self, visit, kind):
        self.made.append(DriftRepair(visit_id=visit.id, kind=kind.value, detail=DETAILS[kind]))
        log.warning("drift repaired on visit %s: %s", visit.id, kind.value)

    def level_members(self, level):
        if level.hik_id not in self.members:
            self.members[level.hik_id] = ops.access_level_members(self.client, level.hik_id)
        return self.members[level.hik_id]

    def check(self, visit):
        """Compare one visit with HikCentral and repair it; True when anything changed."""
        from portal.services.enrollment import person_spec

        person = ops.person_by_code(self.client, visit.person_code)
        if person is None:
            return self.recreate(visit, person_spec(visit))
        changed = False
        person_id = ops.person_id_of(person)
        if person_id and person_id != visit.hik_person_id:
            visit.hik_person_id = person_id  # someone made the person again by hand
        if not ops.same_window(person, visit.starts_at, visit.ends_at):
            item = (visit.hik_person_id, visit.person_code, visit.starts_at, visit.ends_at)
            [result] = ops.update_validity(self.client, [item])
            if result.ok:
                self.record(visit, DriftKind.VALIDITY)
                changed = True
        if visit.hik_person_id not in self.level_members(visit.access_level):
            changed |= self.regrant(visit, DriftKind.ACCESS_LEVEL)
        return changed

    def recreate(self, visit, spec):
        org = current_app.config.get("HIKCENTRAL_ORG_CODE", "1")
        [result] = ops.ensure_persons(self.client, [spec], org_code=org, max_workers=1)
        if not result.ok:
            log.warning("drift: visit %s could not be created again: %s", visit.id, result.error)
            return False
        visit.hik_person_id = result.person_id
        return self.regrant(visit, DriftKind.PERSON_MISSING)

    def regrant(self, visit, kind):
        [granted] = ops.grant(self.client, visit.access_level.hik_id, [visit.hik_person_id])
        if not granted.ok:
            return False
        self.members.setdefault(visit.access_level.hik_id, set()).add(visit.hik_person_id)
        delivery.reapply(self.client, [visit], now=self.now)
        self.record(visit, kind)
        return True


def repair_drift(client, *, now=None, max_calls=None, limiter=None):
    """Compare enrolled visits with HikCentral within the call budget; returns a summary."""
    config = current_app.config
    now = now or utcnow()
    if limiter is None:
        limiter = drift_limiter(config, current_app.extensions.get("redis"))
    paced = PacedClient(client, limiter, max_calls or run_budget(config))
    run = _Repairs(paced, now)
    checked, stopped = 0, None
    for visit in _due_visits(now, BATCH):
        try:
            run.check(visit)
        except BudgetSpent:
            stopped = "budget"
            break
        except HikvisionError as exc:
            # HikCentral down or refusing: what was checked stays checked; try next period.
            stopped = type(exc).__name__
            log.warning("drift repair stopped: %s", stopped)
            break
        visit.drift_checked_at = now
        checked += 1
    db.session.add_all(run.made)
    db.session.commit()
    if any(r.kind for r in run.made):
        delivery.schedule_next()
    return {
        "checked": checked,
        "calls": paced.calls,
        "budget": paced.max_calls,
        "repairs": [{"visit": r.visit_id, "kind": r.kind} for r in run.made],
        "stopped": stopped,
    }


def recent_repairs(limit=20):
    """The latest repairs, newest first (the admin connection page)."""
    return db.session.scalars(
        select(DriftRepair).order_by(DriftRepair.at.desc(), DriftRepair.id.desc()).limit(limit)
    ).all()


def last_check():
    """When drift repair last compared a visit, or None."""
    from sqlalchemy import func

    return db.session.scalar(select(func.max(Visit.drift_checked_at)))
