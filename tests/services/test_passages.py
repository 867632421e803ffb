"""Passage monitoring against the simulator: one batched poll, check-in and check-out, and every
bad-input and fault case of issue 7 (a fake client where the simulator cannot misbehave so)."""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.hikvision import client_for
from portal.hikvision import operations as ops
from portal.hikvision.errors import RateLimitedError, UnavailableError
from portal.models import JobRecord, Notice, Passage, PollCursor, VisitState, utcnow
from portal.services import expiry, passages
from portal.services.passages import PollLock, lock_key
from tests.passages_support import (
    FakeClient,
    door_event_calls,
    enrolled_visit,
    event,
    level,
    sync_site,
)


@pytest.fixture
def client(app, sim):
    return client_for(app)


@pytest.fixture
def doors(app, client):
    return sync_site(client)


@pytest.fixture
def offices(doors):
    return level("2")


def poll(app, client, redis_conn, **kwargs):
    return passages.monitor(client, redis_conn, **kwargs)


def stored(db):
    return db.session.scalar(select(func.count()).select_from(Passage))


# --- the whole flow against the simulator ------------------------------------------------------


def test_a_guest_walks_in_out_and_in_again(app, db, sim, client, redis_conn, offices, host_user):
    visit = enrolled_visit(client, host_user, offices)
    now = utcnow().replace(microsecond=0)
    sim.passage(person_code=visit.person_code, door="1", direction="in", time=now)

    result = poll(app, client, redis_conn)
    assert result["status"] == "done" and result["stored"] == 1 and result["checked_in"] == 1
    db.session.refresh(visit)
    assert visit.state == VisitState.ON_SITE and visit.checked_in_at == now
    [passage] = db.session.scalars(select(Passage)).all()
    assert (passage.visit_id, passage.direction, passage.kind) == (visit.id, "in", "granted")
    assert passage.door.hik_id == "1" and passage.event_type == 196893
    [notice] = db.session.scalars(select(Notice)).all()
    assert notice.user_id == host_user.id and "has arrived" in notice.message
    assert visit.history[-1].reason == "Arrived at Main entrance (in)."

    sim.passage(
        person_code=visit.person_code, door="2", direction="out", time=now + timedelta(1 / 24 / 60)
    )
    result = poll(app, client, redis_conn, now=utcnow() + timedelta(minutes=2))
    assert result["checked_out"] == 1 and result["duplicates"] == 1  # the overlap read it again
    db.session.refresh(visit)
    assert visit.state == VisitState.LEFT and visit.checked_out_at > visit.checked_in_at

    sim.passage(
        person_code=visit.person_code, door="1", direction="in", time=now + timedelta(minutes=3)
    )
    poll(app, client, redis_conn, now=utcnow() + timedelta(minutes=4))
    db.session.refresh(visit)
    assert visit.state == VisitState.ON_SITE  # back from lunch
    assert stored(db) == 3
    assert db.session.scalar(select(func.count()).select_from(Notice)) == 1  # arrival only


def test_one_poll_costs_doors_over_ten_times_event_types_calls(
    app, db, sim, client, redis_conn, offices, host_user
):
    for _ in range(5):
        enrolled_visit(client, host_user, offices)
    before = door_event_calls(sim)
    result = poll(app, client, redis_conn)
    # 4 doors (one group of at most 10) x the two default event types, whatever the visits.
    assert door_event_calls(sim) - before == 2 == result["calls"]
    assert result["doors"] == 4


def test_a_refusal_is_kept_but_never_checks_in(app, db, sim, client, redis_conn, doors, host_user):
    lobby = level("1")  # doors 1 and 2 only
    visit = enrolled_visit(client, host_user, lobby)
    answer = sim.passage(person_code=visit.person_code, door="3", direction="in")
    assert answer["eventType"] == 197151
    result = poll(app, client, redis_conn)
    assert result["refused"] == 1 and result["checked_in"] == 0
    [passage] = db.session.scalars(select(Passage)).all()
    assert passage.kind == "refused" and passage.event_type == 197151
    db.session.refresh(visit)
    assert visit.state == VisitState.ENROLLED and visit.checked_in_at is None


def test_employees_are_counted_not_stored(app, db, sim, client, redis_conn, doors):
    spec = ops.PersonSpec(
        "EMP-1", "Erin", "Employee", utcnow() - timedelta(days=1), utcnow() + timedelta(days=9)
    )
    [employee] = ops.ensure_persons(client, [spec])
    ops.grant(client, "2", [employee.person_id])
    sim.passage(person_code="EMP-1", door="1", direction="in")
    result = poll(app, client, redis_conn)
    assert result["not_ours"] == 1 and result["stored"] == 0 and stored(db) == 0


def test_a_recycled_person_id_is_not_misattributed(
    app, db, sim, client, redis_conn, offices, host_user
):
    visit = enrolled_visit(client, host_user, offices)
    old = enrolled_visit(client, host_user, offices, starts_in=timedelta(days=-3))
    old.hik_person_id = visit.hik_person_id  # an ended visit once had the same person id
    db.session.commit()
    sim.passage(person_code=visit.person_code, door="1", direction="in")
    poll(app, client, redis_conn)
    [passage] = db.session.scalars(select(Passage)).all()
    assert passage.visit_id == visit.id


def test_door_direction_setting_beats_the_reader_and_unknown_changes_nothing(
    app, db, redis_conn, doors, offices, host_user, client
):
    visit = enrolled_visit(client, host_user, offices)
    doors["3"].direction = "both"  # the reader's inAndOutType decides
    db.session.commit()
    now = utcnow()
    pid = visit.hik_person_id
    fake = FakeClient(
        {
            (196893, 1): [
                event(1, person=pid, door="3", in_out=-1, at=now - timedelta(minutes=5)),
                event(2, person=pid, door="3", in_out=7, at=now - timedelta(minutes=4)),
                event(3, person=pid, door="2", in_out=1, at=now - timedelta(minutes=3)),
            ]
        }
    )
    result = poll(app, fake, redis_conn, now=now)
    rows = db.session.scalars(select(Passage).order_by(Passage.occurred_at)).all()
    # door 2 is an exit door: its reader's "1" does not make the guest enter.
    assert [p.direction for p in rows] == ["unknown", "unknown", "out"]
    assert result["odd_direction"] == 1
    db.session.refresh(visit)
    assert visit.state == VisitState.LEFT and visit.checked_in_at is None


# --- bad input --------------------------------------------------------------------------------


def test_bad_events_are_counted_and_skipped(app, db, redis_conn, doors, offices, host_user, client):
    visit = enrolled_visit(client, host_user, offices)
    pid = visit.hik_person_id
    now = utcnow()
    items = [
        event(1, person=pid, at=now - timedelta(minutes=2)),
        {**event(2, person=pid), "eventTime": None},  # no time
        {**event(3, person=pid), "eventTime": "2030-05-01 10:00"},  # no offset
        event(4, person=pid, at=now + timedelta(hours=2)),  # in the future
        event(5, person=pid, door="99", at=now - timedelta(minutes=1), in_out=0),  # unknown door
        event(1, person=pid, at=now - timedelta(minutes=2)),  # the same id twice in one page
    ]
    fake = FakeClient({(196893, 1): items})
    result = poll(app, fake, redis_conn, now=now)
    assert result["skipped"] == 2 and result["future"] == 1 and result["unknown_door"] == 1
    assert result["duplicates"] == 1 and result["stored"] == 2
    unknown = db.session.scalar(select(Passage).where(Passage.hik_event_id == "5"))
    assert unknown.door_id is None and unknown.door_hik_id == "99" and unknown.direction == "out"
    db.session.refresh(visit)
    assert visit.state == VisitState.LEFT  # in at door 1, then out at the unknown door


def test_the_same_event_across_pages_is_stored_once(
    app, db, redis_conn, doors, offices, host_user, client
):
    visit = enrolled_visit(client, host_user, offices)
    pid = visit.hik_person_id
    now = utcnow() - timedelta(minutes=1)
    first = [event(1, person=pid, at=now)] + [
        event(100 + n, person="E", at=now) for n in range(499)
    ]
    fake = FakeClient(
        {(196893, 1): first, (196893, 2): [event(1, person=pid, at=now)]},
        totals={196893: 501},
    )
    result = poll(app, fake, redis_conn)
    assert [c["pageNo"] for c in fake.calls if c["eventType"] == 196893] == [1, 2]
    assert result["duplicates"] == 1 and result["not_ours"] == 499 and stored(db) == 1


# --- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [UnavailableError("down"), RateLimitedError("slow down", retry_after=1)],
    ids=["hikcentral-down", "rate-limited"],
)
def test_a_failed_poll_keeps_the_cursor_and_the_next_catches_up(
    app, db, redis_conn, doors, offices, host_user, client, failure
):
    visit = enrolled_visit(client, host_user, offices)
    pid = visit.hik_person_id
    start = utcnow() - timedelta(minutes=10)
    passages.set_cursor(start)
    pages = {
        (196893, 1): [event(1, person=pid, at=start + timedelta(minutes=1))],
        (197151, 1): [event(2, person=pid, at=start + timedelta(minutes=2), event_type=197151)],
    }
    # The granted read works, the refused one fails.
    result = poll(app, FakeClient(pages, fail_on={2: failure}), redis_conn)
    assert result["status"] == "hikcentral_down" and result["message"]
    cursor = db.session.scalar(select(PollCursor))
    assert cursor.last_event_time == start  # not moved
    assert stored(db) == 1  # the first page was committed

    again = FakeClient(pages)
    result = poll(app, again, redis_conn)
    assert result["status"] == "done" and result["stored"] == 1 and result["duplicates"] == 1
    assert stored(db) == 2
    overlap = timedelta(seconds=app.config["PASSAGE_OVERLAP_SECONDS"])
    assert again.calls[0]["startTime"] == (start - overlap).replace(microsecond=0).isoformat()
    db.session.refresh(cursor)
    assert cursor.last_event_time > start


def test_a_long_gap_is_read_in_31_day_slices(app, db, redis_conn, doors):
    now = utcnow().replace(microsecond=0)
    passages.set_cursor(now - timedelta(days=70))
    fake = FakeClient()
    result = poll(app, fake, redis_conn, now=now)
    assert result["calls"] == 6  # three slices x two event types
    spans = {(c["startTime"], c["endTime"]) for c in fake.calls}
    assert len(spans) == 3
    assert all(c["doorIndexCodes"] == ["1", "2", "3", "4"] for c in fake.calls)
    assert db.session.scalar(select(PollCursor)).last_event_time == now


def test_a_second_poll_exits_while_one_runs(app, db, redis_conn, doors):
    held = PollLock(redis_conn, lock_key(app.config), 60)
    assert held.acquire()
    fake = FakeClient()
    result = poll(app, fake, redis_conn)
    assert result["status"] == "locked" and "Another passage poll" in result["message"]
    assert fake.calls == []
    held.release()
    assert poll(app, fake, redis_conn)["status"] == "done"


def test_two_processes_by_mistake_poll_one_at_a_time(app, db, redis_conn, doors):
    """Two pollers at once: the slow one holds the lock, the other exits at once."""
    started = threading.Event()

    def slow(n, body):
        started.set()
        time.sleep(0.5)

    results = {}

    def first():
        with app.app_context():
            results["first"] = passages.monitor(FakeClient(on_call=slow), redis_conn)

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(5)
    results["second"] = passages.monitor(FakeClient(), redis_conn)
    thread.join(10)
    assert results["second"]["status"] == "locked"
    assert results["first"]["status"] == "done"


def test_a_poll_that_outlives_its_lock_stops_without_committing(
    app, db, redis_conn, doors, offices, host_user, client
):
    visit = enrolled_visit(client, host_user, offices)
    start = utcnow() - timedelta(minutes=5)
    passages.set_cursor(start)

    def steal(n, body):
        # The lock expired during the call and another poll took it.
        redis_conn.set(lock_key(app.config), "another-poll")

    pages = {(196893, 1): [event(1, person=visit.hik_person_id, at=start)]}
    result = poll(app, FakeClient(pages, on_call=steal), redis_conn)
    assert result["status"] == "lock_lost"
    assert stored(db) == 0
    assert db.session.scalar(select(PollCursor)).last_event_time == start
    # Not freed by the poll that lost it.
    assert redis_conn.get(lock_key(app.config)) == b"another-poll"


# --- manual check-in and check-out ------------------------------------------------------------


def test_checked_out_by_hand_then_seen_in_by_a_reader(
    app, db, redis_conn, doors, offices, host_user, security_user, client
):
    visit = enrolled_visit(client, host_user, offices)
    now = utcnow()
    passages.check_in(visit, by=security_user, reason="Reader did not see her", now=now)
    assert visit.state == VisitState.ON_SITE
    passages.check_out(
        visit, by=security_user, reason="Left by the goods gate", now=now + timedelta(minutes=10)
    )
    assert visit.state == VisitState.LEFT
    assert visit.history[-1].by_user_id == security_user.id
    assert "Checked out by hand by" in visit.history[-1].reason
    assert "Left by the goods gate" in visit.history[-1].reason
    manual = db.session.scalars(select(Passage).where(Passage.manual.is_(True))).all()
    assert sorted(p.direction for p in manual) == ["in", "out"]

    pid = visit.hik_person_id
    late_old = event(1, person=pid, door="1", at=now + timedelta(minutes=5))  # before the hand
    newer = event(2, person=pid, door="1", at=now + timedelta(minutes=20))
    poll(app, FakeClient({(196893, 1): [late_old]}), redis_conn, now=now + timedelta(minutes=21))
    db.session.refresh(visit)
    assert visit.state == VisitState.LEFT  # an event older than the check-out changes nothing
    poll(app, FakeClient({(196893, 1): [newer]}), redis_conn, now=now + timedelta(minutes=21))
    db.session.refresh(visit)
    assert visit.state == VisitState.ON_SITE  # seen coming back in after it


def test_manual_actions_need_a_reason_and_a_fitting_state(
    app, db, offices, host_user, security_user, client
):
    visit = enrolled_visit(client, host_user, offices)
    with pytest.raises(passages.PassageError, match="Say why"):
        passages.check_in(visit, by=security_user, reason="  ")
    passages.check_in(visit, by=security_user, reason="Reader offline")
    with pytest.raises(passages.PassageError, match="can be checked in"):
        passages.check_in(visit, by=security_user, reason="twice")
    passages.check_out(visit, by=security_user, reason="Reader offline")
    with pytest.raises(passages.PassageError, match="can be checked out"):
        passages.check_out(visit, by=security_user, reason="twice")


def test_revoke_on_exit_enqueues_the_revocation(
    app, db, sim, client, redis_conn, offices, host_user
):
    app.config["REVOKE_ON_EXIT"] = True
    visit = enrolled_visit(client, host_user, offices)
    sim.passage(
        person_code=visit.person_code,
        door="1",
        direction="in",
        time=utcnow() - timedelta(minutes=2),
    )
    sim.passage(
        person_code=visit.person_code,
        door="2",
        direction="out",
        time=utcnow() - timedelta(minutes=1),
    )
    poll(app, client, redis_conn)
    db.session.refresh(visit)
    assert visit.state == VisitState.LEFT
    [job] = db.session.scalars(select(JobRecord)).all()
    assert (job.kind, job.subject_id, job.call["queue"]) == ("revoke_visit", visit.id, "high")


def test_without_revoke_on_exit_a_left_guest_keeps_access_until_expiry(
    app, db, sim, client, redis_conn, offices, host_user
):
    visit = enrolled_visit(client, host_user, offices)
    sim.passage(person_code=visit.person_code, door="2", direction="out")
    poll(app, client, redis_conn)
    assert db.session.scalars(select(JobRecord)).all() == []
    db.session.refresh(visit)
    assert visit.state == VisitState.LEFT
    result = expiry.expire_visits(client, now=visit.ends_at + timedelta(minutes=1))
    assert visit.id in result["visits"]
    assert sim.person(visit.person_code) is None  # removed from HikCentral at the window's end


def test_arrival_listeners_hear_of_each_first_arrival(
    app, db, sim, client, redis_conn, offices, host_user
):
    from portal.services import notices

    heard = []
    listener = notices.on_arrival(heard.append)
    try:
        visit = enrolled_visit(client, host_user, offices)
        sim.passage(person_code=visit.person_code, door="1", direction="in")
        poll(app, client, redis_conn)
    finally:
        notices._arrival_listeners.remove(listener)
    assert heard == [visit.id]


def test_the_periodic_job_runs_a_poll(app, db, sim, redis_conn, doors):
    from jobs.passages import monitor_passages

    result = monitor_passages()
    assert result["status"] == "done" and result["calls"] == 2


def test_no_doors_no_calls(app, db, redis_conn):
    fake = FakeClient()
    assert poll(app, fake, redis_conn)["status"] == "no_doors" and fake.calls == []
