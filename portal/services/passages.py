"""Passage monitoring (architecture.md, flow 6) and the security desk: check-in and check-out.

One poll at a time (a Redis lock with an expiry) reads HikCentral's door events from the cursor
minus an overlap up to now, for everyone at once: one ``door/events`` read per event type and
group of at most 10 active doors, every page, in 31-day slices. Each page is one transaction:
events are mapped to visits by HikCentral person id (only a visit whose window covers the event
time), inserted with the HikCentral event id as the unique key, and the visits' states follow
(first "in" -> ``on_site``, "out" -> ``left``, "in" again -> ``on_site``). The cursor moves only
after a slice is committed, so a failed poll is caught up by the next one without gaps, and the
unique key keeps the overlap from duplicating anything.
"""

import hashlib
import logging
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, joinedload

from portal import queue
from portal.extensions import db
from portal.hikvision import operations as ops
from portal.hikvision.errors import HikvisionError
from portal.i18n import N_
from portal.models import (
    AuditAction,
    Door,
    Guest,
    Passage,
    PassageKind,
    PollCursor,
    User,
    Visit,
    VisitState,
    VisitStateChange,
    utcnow,
)
from portal.services import audit, notices
from portal.services.errors import ServiceError

log = logging.getLogger(__name__)

CURSOR_NAME = "passages"
LOCK_PREFIX = "gatehouse:lock:passages:"
# The first poll ever looks this far back.
INITIAL_LOOKBACK = timedelta(hours=24)
# An event stamped later than this after "now" has a wrong clock: it is counted, not stored.
FUTURE_TOLERANCE = timedelta(minutes=5)
DIRECTIONS = ("in", "out", "unknown")
DOOR_DIRECTIONS = {"entry": "in", "exit": "out"}  # "both": the reader's inAndOutType decides
# States a reader's passage moves: entering from enrolled or left, leaving from enrolled/on site.
ENTER_FROM = {VisitState.ENROLLED, VisitState.LEFT}
LEAVE_FROM = {VisitState.ENROLLED, VisitState.ON_SITE}
REVOKE_QUEUE = "high"


class PassageError(ServiceError):
    """A manual check-in or check-out the visit's state does not allow (message for people)."""


class LockLost(Exception):
    """The poll outlived its lock (another poll may hold it now): stop without committing."""


# --- the lock ---------------------------------------------------------------------------------

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def lock_key(config):
    """The poll's lock: one per portal database (portals sharing a Redis do not block each other,
    every process of one portal shares it)."""
    database = str(config.get("SQLALCHEMY_DATABASE_URI", ""))
    return LOCK_PREFIX + hashlib.sha256(database.encode()).hexdigest()[:16]


class PollLock:
    """A Redis lock with an expiry, owned by a random token (only its owner renews or frees it)."""

    def __init__(self, redis, key, ttl_seconds=300):
        self.redis = redis
        self.key = key
        self.ttl_ms = max(1, int(ttl_seconds * 1000))
        self.token = uuid.uuid4().hex

    def acquire(self):
        return bool(self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def renew(self):
        """Extend the expiry; False when the lock expired and may belong to another poll."""
        return bool(self.redis.eval(_RENEW, 1, self.key, self.token, self.ttl_ms))

    def release(self):
        return bool(self.redis.eval(_RELEASE, 1, self.key, self.token))


# --- direction and transitions ----------------------------------------------------------------


def resolve_direction(door, reader_direction):
    """The door's own setting (entry/exit) wins; a "both" door or an unknown one asks the reader."""
    if door is not None and door.direction in DOOR_DIRECTIONS:
        return DOOR_DIRECTIONS[door.direction]
    return reader_direction if reader_direction in ("in", "out") else "unknown"


def move(visit, *, kind, direction, at, where=None, note=None):
    """Apply a passage to ``visit``'s state and times; returns (outcome, reason) or (None, None).

    ``outcome`` is "arrived", "returned" or "left". Only a granted passage with a known direction
    counts; a passage older than the visit's last movement the other way (a late event) changes
    nothing. ``visit`` is a Visit or a poll's VisitRow; recording the history is the caller's.
    """
    if kind != PassageKind.GRANTED or direction not in ("in", "out"):
        return None, None
    state = VisitState(visit.state)
    if direction == "in":
        if state not in ENTER_FROM:
            return None, None
        if visit.checked_out_at is not None and at <= visit.checked_out_at:
            return None, None
        first = visit.checked_in_at is None
        visit.checked_in_at = at
        visit.state = VisitState.ON_SITE.value
        if where:
            said = N_("Arrived at %(door)s.") if first else N_("Came back at %(door)s.")
        else:
            said = N_("Arrived.") if first else N_("Came back.")
        visit.state_reason = note or said % {"door": where}
        return ("arrived" if first else "returned"), visit.state_reason
    if state not in LEAVE_FROM:
        return None, None
    if visit.checked_in_at is not None and at < visit.checked_in_at:
        return None, None
    visit.checked_out_at = at
    visit.state = VisitState.LEFT.value
    said = N_("Left at %(door)s.") % {"door": where} if where else N_("Left.")
    visit.state_reason = note or said
    return "left", visit.state_reason


def apply_passage(visit, *, kind, direction, at, where=None, by=None, note=None):
    """``move`` a Visit and add the change to its history (the caller commits)."""
    outcome, reason = move(visit, kind=kind, direction=direction, at=at, where=where, note=note)
    if outcome is not None:
        # Added to the session rather than to visit.history: no need to load the whole history.
        db.session.add(
            VisitStateChange(
                visit_id=visit.id,
                state=visit.state,
                reason=reason,
                by_user_id=by.id if by else None,
                at=at,
            )
        )
    return outcome


@dataclass
class VisitRow:
    """The columns of a visit a poll reads and moves (plain values: a page moves hundreds of
    visits, which are then written with one bulk UPDATE instead of one per visit)."""

    id: int
    host_id: int
    guest_name: str
    starts_at: object
    ends_at: object
    state: str
    state_reason: str | None
    checked_in_at: object
    checked_out_at: object
    hik_person_id: str | None

    @property
    def guest(self):
        return _Guest(self.guest_name)


@dataclass(frozen=True)
class _Guest:
    full_name: str


# --- the poll ---------------------------------------------------------------------------------


@dataclass
class _Outcome:
    """What committed pages changed: work to do after their commit."""

    arrivals: list
    left: list


def _cursor():
    cursor = db.session.scalar(select(PollCursor).where(PollCursor.name == CURSOR_NAME))
    if cursor is None:
        cursor = PollCursor(name=CURSOR_NAME)
        db.session.add(cursor)
        try:
            db.session.commit()
        except IntegrityError:  # another process created it at the same moment
            db.session.rollback()
            cursor = db.session.scalar(select(PollCursor).where(PollCursor.name == CURSOR_NAME))
    return cursor


def set_cursor(moment):
    """Put the poll's cursor at ``moment``, back or forward, and commit (the next poll starts
    there, less the overlap)."""
    _cursor().last_event_time = moment
    db.session.commit()


def _advance_cursor(moment):
    """Move the cursor forward to ``moment`` (never back) and commit."""
    cursor = _cursor()
    if cursor.last_event_time is None or moment > cursor.last_event_time:
        cursor.last_event_time = moment
    db.session.commit()


def _matching_visits(person_ids, earliest, latest):
    """Visits of these HikCentral persons whose windows touch [earliest, latest], by person."""
    if not person_ids:
        return {}
    rows = db.session.execute(
        select(
            Visit.id,
            Visit.host_id,
            Guest.full_name,
            Visit.starts_at,
            Visit.ends_at,
            Visit.state,
            Visit.state_reason,
            Visit.checked_in_at,
            Visit.checked_out_at,
            Visit.hik_person_id,
        )
        .join(Visit.guest)
        .where(
            Visit.hik_person_id.in_(sorted(person_ids)),
            Visit.starts_at <= latest,
            Visit.ends_at >= earliest,
        )
        .order_by(Visit.starts_at.desc(), Visit.id.desc())
    ).all()
    by_person = defaultdict(list)
    for row in rows:
        visit = VisitRow(*row)
        by_person[visit.hik_person_id].append(visit)
    return by_person


def _visit_at(candidates, moment):
    """The visit whose window covers ``moment`` (the latest start wins), else None."""
    for visit in candidates:
        if visit.starts_at <= moment <= visit.ends_at:
            return visit
    return None


def _usable(page_events, now, stats):
    """The page's events minus repeats, future times and other event types."""
    usable, seen = [], set()
    for event in page_events:
        if event.event_id in seen:
            stats["duplicates"] += 1
            continue
        seen.add(event.event_id)
        if event.occurred_at > now + FUTURE_TOLERANCE:
            log.warning("door event %s is stamped in the future; not stored", event.event_id)
            stats["future"] += 1
            continue
        if event.kind is None:
            stats["other_types"] += 1
            continue
        if event.odd_direction:
            stats["odd_direction"] += 1
        usable.append(event)
    return usable


def store_page(events, doors, now, stats, outcome):
    """Map, insert and apply one page of door events in one transaction (commits)."""
    fresh = _not_stored(_usable(events, now, stats), stats)
    if not fresh:
        return
    received = utcnow()
    rows, moves = _passage_rows(fresh, doors, received, stats)
    if rows:
        db.session.execute(insert(Passage), rows)
    _save_moves(_apply_moves(moves, stats, outcome), received)
    db.session.commit()
    stats["stored"] += len(rows)


def _not_stored(events, stats):
    """The events of the page that no earlier poll stored."""
    if not events:
        return []
    ids = [e.event_id for e in events]
    known = select(Passage.hik_event_id).where(Passage.hik_event_id.in_(ids))
    existing = set(db.session.scalars(known))
    fresh = [e for e in events if e.event_id not in existing]
    stats["duplicates"] += len(events) - len(fresh)
    return fresh


def _passage_rows(fresh, doors, received, stats):
    """Passage rows of the events that belong to a visit, and the moves they make, in order."""
    person_ids = {e.person_id for e in fresh if e.person_id}
    earliest = min(e.occurred_at for e in fresh)
    latest = max(e.occurred_at for e in fresh)
    candidates = _matching_visits(person_ids, earliest, latest)
    rows, moves = [], []
    for event in sorted(fresh, key=lambda e: (e.occurred_at, e.event_id)):
        visit = _visit_at(candidates.get(event.person_id, ()), event.occurred_at)
        if visit is None:
            # Employees and persons the portal never enrolled: their movements are not ours.
            stats["not_ours"] += 1
            continue
        door = doors.get(event.door_id)
        if door is None:
            stats["unknown_door"] += 1
        direction = resolve_direction(door, event.direction)
        rows.append(
            {
                "hik_event_id": event.event_id,
                "visit_id": visit.id,
                "person_id": event.person_id,
                "door_id": door.id if door is not None else None,
                "door_hik_id": event.door_id,
                "direction": direction,
                "kind": event.kind,
                "event_type": event.event_type,
                "manual": False,
                "occurred_at": event.occurred_at,
                "received_at": received,
            }
        )
        stats["refused" if event.kind == PassageKind.REFUSED else "granted"] += 1
        where = door.name if door is not None else None
        moves.append((visit, event.kind, direction, event.occurred_at, where))
    return rows, moves


def _apply_moves(moves, stats, outcome):
    """Check guests in and out as the passages say; the visits changed and their history."""
    history, changed = [], {}
    for visit, kind, direction, at, where in moves:
        moved, reason = move(visit, kind=kind, direction=direction, at=at, where=where)
        if moved is None:
            continue
        changed[visit.id] = visit
        history.append({"visit_id": visit.id, "state": visit.state, "reason": reason, "at": at})
        if moved == "arrived":
            notices.guest_arrived(visit, at, door_name=where)
            outcome.arrivals.append(visit.id)
            stats["checked_in"] += 1
        elif moved == "returned":
            stats["checked_in"] += 1
        else:
            outcome.left.append(visit.id)
            stats["checked_out"] += 1
    return changed, history


def _save_moves(moved, received):
    """Write the changed visits and their history in two statements."""
    changed, history = moved
    if not changed:
        return
    db.session.execute(
        update(Visit),
        [
            {
                "id": v.id,
                "state": v.state,
                "state_reason": v.state_reason,
                "checked_in_at": v.checked_in_at,
                "checked_out_at": v.checked_out_at,
                "updated_at": received,
            }
            for v in changed.values()
        ],
    )
    db.session.execute(insert(VisitStateChange), history)


def _store_page_safely(events, doors, now, stats, outcome):
    """store_page; when another process inserted the same event meanwhile, read again once."""
    try:
        store_page(events, doors, now, stats, outcome)
    except IntegrityError:
        db.session.rollback()
        log.info("a concurrent insert met this page; storing it again without the repeats")
        store_page(events, doors, now, stats, outcome)


def _after_commit(outcome, config):
    notices.announce_arrivals(outcome.arrivals)
    if config.get("REVOKE_ON_EXIT"):
        for visit_id in outcome.left:
            revoke_after_exit(visit_id)
    outcome.arrivals.clear()
    outcome.left.clear()


def revoke_after_exit(visit_id):
    """REVOKE_ON_EXIT: take the guest's access away through the revoke job."""
    try:
        queue.enqueue_about(
            "visit", visit_id, "jobs.enroll.revoke_visit", kind="revoke_visit", queue=REVOKE_QUEUE
        )
    except queue.QueueUnavailable:
        log.warning("could not enqueue the revocation of visit %s after its exit", visit_id)


def poll_window(now, overlap):
    """(start, end) of the next poll: the cursor minus the overlap (or a day back) up to now."""
    cursor = _cursor()
    start = cursor.last_event_time or (now - INITIAL_LOOKBACK)
    return min(start - overlap, now), now


def monitor(client, redis, *, now=None, config=None):
    """One passage poll for everyone; returns its counts (see the module docstring)."""
    config = config or current_app.config
    lock = PollLock(redis, lock_key(config), config.get("PASSAGE_LOCK_SECONDS", 300))
    if not lock.acquire():
        return {
            "status": "locked",
            "message": N_("Another passage poll is running; this one stopped."),
        }
    stats = Counter()
    outcome = _Outcome([], [])
    result = {"status": "done"}
    try:
        now = (now or utcnow()).replace(microsecond=0)  # HikCentral reads whole seconds
        result.update(_poll(client, lock, now, config, stats, outcome))
    except LockLost:
        db.session.rollback()
        log.warning("the passage poll outlived its lock; stopped before committing more")
        result = {"status": "lock_lost", "message": N_("The poll outlived its lock and stopped.")}
    except HikvisionError as exc:
        db.session.rollback()
        if not exc.transient:
            raise
        log.warning("passage poll stopped: HikCentral did not answer (%s)", type(exc).__name__)
        result = {"status": "hikcentral_down", "message": ops.describe(exc)}
    finally:
        lock.release()
        _after_commit(outcome, config)
    result.update({key: stats[key] for key in STAT_KEYS})
    cursor = _cursor()
    result["cursor"] = cursor.last_event_time.isoformat() if cursor.last_event_time else None
    return result


STAT_KEYS = (
    "calls",
    "events",
    "stored",
    "granted",
    "refused",
    "duplicates",
    "not_ours",
    "unknown_door",
    "odd_direction",
    "future",
    "skipped",
    "other_types",
    "checked_in",
    "checked_out",
)


def _poll(client, lock, now, config, stats, outcome):
    doors_all = {door.hik_id: door for door in db.session.scalars(select(Door))}
    active = sorted((d.hik_id for d in doors_all.values() if d.active), key=_door_order)
    if not active:
        return {"status": "no_doors", "message": N_("No active doors are synced: nothing to ask.")}
    overlap = timedelta(seconds=config.get("PASSAGE_OVERLAP_SECONDS", 120))
    start, end = poll_window(now, overlap)
    event_types = list(config.get("PASSAGE_EVENT_TYPES") or [ops.EVENT_FACE_GRANTED])
    for window_start, window_end in ops.event_windows(start, end):
        for event_type in event_types:
            pages = ops.door_event_pages(
                client, window_start, window_end, event_type=event_type, door_ids=active
            )
            for page in pages:
                stats["calls"] += 1
                stats["events"] += len(page.events) + page.skipped
                stats["skipped"] += page.skipped
                if not lock.renew():
                    raise LockLost()
                _store_page_safely(page.events, doors_all, now, stats, outcome)
                _after_commit(outcome, config)
        if not lock.renew():
            raise LockLost()
        _advance_cursor(window_end)
    return {"window": [start.isoformat(), end.isoformat()], "doors": len(active)}


def _door_order(hik_id):
    return (0, int(hik_id), "") if hik_id.isdigit() else (1, 0, hik_id)


# --- manual check-in and check-out --------------------------------------------------------------


def _manual_passage(visit, direction, reason, by, at):
    passage = Passage(
        hik_event_id=f"manual-{uuid.uuid4().hex}",
        visit_id=visit.id,
        person_id=visit.hik_person_id,
        direction=direction,
        kind=PassageKind.GRANTED.value,
        manual=True,
        note=reason,
        occurred_at=at,
        received_at=at,
    )
    db.session.add(passage)
    return passage


def _clean_reason(reason):
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise PassageError(N_("Say why (for instance: the reader did not recognise the guest)."))
    if len(reason) > 300:
        raise PassageError(N_("Keep the reason under 300 characters."))
    return reason


def check_in(visit, *, by, reason, now=None):
    """Security lets a guest in by hand: the visit is on site, recorded as such (commits)."""
    reason = _clean_reason(reason)
    if VisitState(visit.state) not in ENTER_FROM:
        raise PassageError(N_("Only an enrolled guest, or one who left, can be checked in."))
    at = now or utcnow()
    if visit.checked_out_at is not None and at <= visit.checked_out_at:
        at = visit.checked_out_at + timedelta(seconds=1)
    note = N_("Checked in by hand by %(name)s: %(reason)s") % {"name": by.name, "reason": reason}
    _manual_passage(visit, "in", reason, by, at)
    moved = apply_passage(visit, kind="granted", direction="in", at=at, by=by, note=note)
    if moved == "arrived":
        notices.guest_arrived(visit, at)
    _audit(AuditAction.CHECKED_IN, visit, by, reason)
    db.session.commit()
    if moved == "arrived":
        notices.announce_arrivals([visit.id])
    return moved


def check_out(visit, *, by, reason, now=None):
    """Security checks a guest out by hand (a reader that failed): the visit has left (commits)."""
    reason = _clean_reason(reason)
    if VisitState(visit.state) not in LEAVE_FROM:
        raise PassageError(N_("Only a guest who is on site (or expected) can be checked out."))
    at = now or utcnow()
    if visit.checked_in_at is not None and at < visit.checked_in_at:
        at = visit.checked_in_at
    note = N_("Checked out by hand by %(name)s: %(reason)s") % {"name": by.name, "reason": reason}
    _manual_passage(visit, "out", reason, by, at)
    apply_passage(visit, kind="granted", direction="out", at=at, by=by, note=note)
    _audit(AuditAction.CHECKED_OUT, visit, by, reason)
    db.session.commit()
    if current_app.config.get("REVOKE_ON_EXIT"):
        revoke_after_exit(visit.id)
    return "left"


def _audit(action, visit, by, reason):
    """Record the check-in or -out in the audit log, in the same transaction."""
    audit.record(action, visit, by=by, details=reason)


# --- reading passages -----------------------------------------------------------------------------


@dataclass
class PassageFilters:
    since: object = None  # aware datetimes
    until: object = None
    door_id: int | None = None
    direction: str | None = None
    kind: str | None = None
    guest: str | None = None
    host_id: int | None = None
    host: str | None = None
    event_id: int | None = None
    visit_id: int | None = None


def _like(text):
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def passage_query(filters=None):
    """Passages newest first with their visit, guest, host, event and door, as ``filters`` say."""
    filters = filters or PassageFilters()
    host = User.__table__.alias("host")
    query = (
        select(Passage)
        .outerjoin(Passage.visit)
        .outerjoin(Visit.guest)
        .outerjoin(Passage.door)
        .options(
            contains_eager(Passage.visit).contains_eager(Visit.guest),
            contains_eager(Passage.door),
            contains_eager(Passage.visit).joinedload(Visit.host),
            contains_eager(Passage.visit).joinedload(Visit.event),
        )
    )
    if filters.since is not None:
        query = query.where(Passage.occurred_at >= filters.since)
    if filters.until is not None:
        query = query.where(Passage.occurred_at <= filters.until)
    if filters.door_id is not None:
        query = query.where(Passage.door_id == filters.door_id)
    if filters.direction:
        query = query.where(Passage.direction == filters.direction)
    if filters.kind:
        query = query.where(Passage.kind == filters.kind)
    if filters.visit_id is not None:
        query = query.where(Passage.visit_id == filters.visit_id)
    if filters.event_id is not None:
        query = query.where(Visit.event_id == filters.event_id)
    if filters.host_id is not None:
        query = query.where(Visit.host_id == filters.host_id)
    if filters.guest:
        query = query.where(Guest.full_name.ilike(_like(filters.guest), escape="\\"))
    if filters.host:
        query = query.join(host, host.c.id == Visit.host_id).where(
            or_(
                host.c.name.ilike(_like(filters.host), escape="\\"),
                host.c.email.ilike(_like(filters.host), escape="\\"),
            )
        )
    return query.order_by(Passage.occurred_at.desc(), Passage.id.desc())


def page_of(query, page, per_page):
    """(rows, has_next) of one page without a COUNT (one extra row tells)."""
    rows = (
        db.session.scalars(query.limit(per_page + 1).offset((page - 1) * per_page)).unique().all()
    )
    return rows[:per_page], len(rows) > per_page


def visit_passages(visit, limit=200):
    return db.session.scalars(
        select(Passage)
        .where(Passage.visit_id == visit.id)
        .options(joinedload(Passage.door))
        .order_by(Passage.occurred_at.desc(), Passage.id.desc())
        .limit(limit)
    ).all()


# --- who is on site -------------------------------------------------------------------------------


def on_site(now=None):
    """Guests inside now: overstays (still inside after the end) first, then by arrival."""
    now = now or utcnow()
    visits = db.session.scalars(
        select(Visit)
        .where(Visit.state == VisitState.ON_SITE.value)
        .options(joinedload(Visit.guest), joinedload(Visit.host), joinedload(Visit.event))
    ).all()

    def order(visit):
        overstay = visit.ends_at <= now
        arrived = visit.checked_in_at or visit.starts_at
        return (0 if overstay else 1, visit.ends_at if overstay else arrived, visit.id)

    return sorted(visits, key=order)


def is_overstay(visit, now=None):
    return visit.state == VisitState.ON_SITE and visit.ends_at <= (now or utcnow())


NOT_YET_STATES = (VisitState.PENDING, VisitState.ENROLLING, VisitState.ENROLLED)


def attendance_counts(counts):
    """Arrived (on site), not yet (still expected) and left, from an event's counts by state."""
    return {
        "arrived": counts.get(VisitState.ON_SITE.value, 0),
        "not_yet": sum(counts.get(state.value, 0) for state in NOT_YET_STATES),
        "left": counts.get(VisitState.LEFT.value, 0),
        "total": counts.get("total", 0),
    }
