"""Coalesced enrollment: one job enrolls every waiting visit, each visit is claimed once."""

import threading

from sqlalchemy import update

from portal.hikvision import client_for
from portal.hikvision import operations as ops
from portal.hikvision.operations import ADD_PERSONS, PERSON_ADD, REAPPLY
from portal.models import JobRecord, JobState, Visit
from portal.services import claims, enrollment
from tests.fixtures.factories import face_jpeg, make_guest, make_visit
from tests.jobs.test_enroll_jobs import enqueue_enroll, reload


def waiting(host, level, count):
    return [make_visit(host, level, guest=make_guest(f"Guest Number{n}")) for n in range(count)]


def person_codes(sim):
    codes = {}
    for person in sim.state()["persons"]:
        codes[person["person_code"]] = codes.get(person["person_code"], 0) + 1
    return codes


def test_one_job_enrolls_every_waiting_visit_and_the_others_name_it(
    app, db, sim, work, host_user, level
):
    visits = waiting(host_user, level, 6)
    records = [enqueue_enroll(visit, host_user) for visit in visits]

    work()

    assert {reload(db, Visit, v.id).state for v in visits} == {"enrolled"}
    first = reload(db, JobRecord, records[0].id)
    assert first.result["outcome"] == "enrolled"
    assert first.result["batch"] == {"visits": 6, "enrolled": 6}
    for record in records[1:]:
        result = reload(db, JobRecord, record.id).result
        assert (result["outcome"], result["by_job"]) == ("taken", first.id)
    calls = sim.stats()["calls"]
    # Persons one by one (concurrently), one grant for the level, re-applies in small chunks.
    assert calls[PERSON_ADD] == 6
    assert calls[ADD_PERSONS] == 1
    assert calls[REAPPLY] == 1
    assert set(person_codes(sim).values()) == {1}


def test_batch_size_caps_what_one_job_takes(app, db, sim, work, host_user, level):
    app.config["ENROLL_BATCH_SIZE"] = 2
    visits = waiting(host_user, level, 5)
    records = [enqueue_enroll(visit) for visit in visits]
    work()
    outcomes = [reload(db, JobRecord, r.id).result["outcome"] for r in records]
    assert outcomes == ["enrolled", "taken", "enrolled", "taken", "enrolled"]
    assert sim.stats()["calls"][ADD_PERSONS] == 3


def test_two_runs_claiming_the_same_visits_split_them(app, db, host_user, level):
    visits = waiting(host_user, level, 8)
    ids = [v.id for v in visits]
    held = {}
    start = threading.Barrier(2)

    def take(owner):
        with app.app_context():
            start.wait()
            held[owner] = claims.claim(ids, owner)

    threads = [threading.Thread(target=take, args=(name,)) for name in ("job-a", "job-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(held["job-a"] + held["job-b"]) == sorted(ids)
    assert not set(held["job-a"]) & set(held["job-b"])
    db.session.expire_all()
    for visit in visits:
        visit = db.session.get(Visit, visit.id)
        owner = "job-a" if visit.id in held["job-a"] else "job-b"
        assert (visit.state, visit.claimed_by) == ("enrolling", owner)
        assert [h.state for h in visit.history] == ["enrolling"]


def test_two_workers_enroll_every_visit_exactly_once(app, db, sim, host_user, level):
    visits = waiting(host_user, level, 10)
    ids = [visit.id for visit in visits]
    results = {}
    start = threading.Barrier(2)

    def worker(trigger, job_id):
        # What two worker processes do: each runs its job with a session of its own.
        with app.app_context():
            visit = db.session.get(Visit, trigger)
            start.wait()
            results[job_id] = enrollment.enroll_visit(visit, client_for(app), job_id=job_id)

    threads = [
        threading.Thread(target=worker, args=(ids[0], "job-a")),
        threading.Thread(target=worker, args=(ids[5], "job-b")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert {reload(db, Visit, i).state for i in ids} == {"enrolled"}
    # Every visit went to exactly one of the runs (a run whose visit was taken is a no-op).
    assert sum(r.get("batch", {}).get("visits", 0) for r in results.values()) == 10
    assert {reload(db, Visit, i).claimed_by for i in ids} <= {"job-a", "job-b"}
    codes = person_codes(sim)
    assert len(codes) == 10 and set(codes.values()) == {1}
    assert sim.stats()["calls"][PERSON_ADD] == 10


def test_one_refused_guest_fails_alone(app, db, sim, work, host_user, level):
    visits = waiting(host_user, level, 3)
    broken = visits[1]
    broken.guest.photo = face_jpeg(size=(60, 60))
    db.session.commit()
    records = [enqueue_enroll(visit) for visit in visits]

    work()

    states = [reload(db, Visit, v.id).state for v in visits]
    assert states == ["enrolled", "failed", "enrolled"]
    assert "photo" in reload(db, Visit, broken.id).state_reason
    first = reload(db, JobRecord, records[0].id)
    assert (first.state, first.result["batch"]) == (
        JobState.FINISHED,
        {"visits": 3, "enrolled": 2, "failed": 1},
    )
    # The refused guest's own job says why, and which job tried.
    own = reload(db, JobRecord, records[1].id)
    assert own.state == JobState.FAILED and "photo" in own.error
    assert own.result["by_job"] == first.id
    assert sim.person(broken.person_code) is None
    assert sim.stats()["calls"][PERSON_ADD] == 3  # the refused guest was not sent twice


def test_a_visit_cancelled_while_its_batch_runs_is_revoked_after(
    app, db, sim, host_user, level, monkeypatch
):
    visits = waiting(host_user, level, 3)
    cancelled = visits[2]
    real_grant = ops.grant

    def grant_then_cancel(client, level_id, person_ids):
        results = real_grant(client, level_id, person_ids)
        db.session.execute(update(Visit).where(Visit.id == cancelled.id).values(state="cancelled"))
        db.session.commit()
        return results

    monkeypatch.setattr(ops, "grant", grant_then_cancel)
    result = enrollment.enroll_visit(visits[0], client_for(app))

    assert result["batch"] == {"visits": 3, "enrolled": 2, "revoked_after_change": 1}
    assert [reload(db, Visit, v.id).state for v in visits] == ["enrolled", "enrolled", "cancelled"]
    assert sim.person(cancelled.person_code) is None
    assert sim.person(visits[1].person_code)["access_levels"] == ["1"]
