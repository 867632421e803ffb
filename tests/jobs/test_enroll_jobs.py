"""Enrollment through the real queue: RQ SimpleWorker in burst mode against the simulator."""

from datetime import datetime, timedelta

from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from portal.hikvision import client_for
from portal.hikvision.operations import DELIVERY
from portal.models import JobRecord, JobState, Visit, VisitState
from portal.queue import enqueue
from portal.services import delivery, enrollment
from portal.services.visits import enqueue_enrollment
from tests.fixtures.factories import face_jpeg, make_access_level, make_guest, make_visit


def enqueue_enroll(visit, user=None):
    """The visit's enrollment job, started as the portal starts it."""
    return enqueue_enrollment(visit.id, by=user)


def reload(db, model, id_):
    db.session.expire_all()
    return db.session.get(model, id_)


def failed_for_good(app, db, visit, record, sentence):
    """The visit failed with ``sentence``, its job too, and RQ will not retry it; the record."""
    visit = reload(db, Visit, visit.id)
    assert (visit.state, visit.state_reason) == (VisitState.FAILED, sentence)
    record = reload(db, JobRecord, record.id)
    assert (record.state, record.error) == (JobState.FAILED, sentence)
    job = Job.fetch(record.rq_job_id, connection=app.extensions["redis"])
    assert job.get_status() == JobStatus.FAILED
    return record


def hik_calls(sim):
    """HikCentral calls the simulator answered, without the delivery polls."""
    return {p: n for p, n in sim.stats()["calls"].items() if p != DELIVERY}


def test_enroll_happy_path(app, db, sim, work, host_user, level):
    visit = make_visit(host_user, level, guest=make_guest("Ada King Lovelace"))
    record = enqueue_enroll(visit, host_user)

    work()

    visit = reload(db, Visit, visit.id)
    assert visit.state == "enrolled"
    assert visit.state_reason is None
    assert visit.hik_person_id
    assert [h.state for h in visit.history] == ["enrolling", "enrolled"]
    person = sim.person(visit.person_code)
    assert person["person_id"] == visit.hik_person_id
    assert set(person["name"].split()) == {"Ada", "King", "Lovelace"}
    assert person["has_face"] is True
    assert person["access_levels"] == ["1"]
    # Validity is exactly the visit window (compared as instants).
    assert datetime.fromisoformat(person["begin_time"]) == visit.starts_at.replace(microsecond=0)
    assert datetime.fromisoformat(person["end_time"]) == visit.ends_at.replace(microsecond=0)
    # One call each: add the person, grant the level, re-apply.
    calls = hik_calls(sim)
    assert sum(calls.values()) <= 3, calls

    record = reload(db, JobRecord, record.id)
    assert record.state == JobState.FINISHED
    assert record.started_at and record.ended_at and record.ended_at >= record.started_at
    assert record.result["outcome"] == "enrolled"
    assert record.result["person"] == "created"
    assert record.error is None


def test_the_job_sees_the_committed_visit(app, db, sim, work, host_user, level):
    # The record exists before the job does, and the worker's own session finds the visit.
    visit = make_visit(host_user, level)
    record = enqueue_enroll(visit)
    assert reload(db, JobRecord, record.id).state == JobState.QUEUED
    assert Job.fetch(record.rq_job_id, connection=app.extensions["redis"]).args == (visit.id,)
    work()
    assert reload(db, Visit, visit.id).state == "enrolled"


def test_running_twice_enrolls_once(app, db, sim, work, host_user, level):
    visit = make_visit(host_user, level)
    first = enqueue_enroll(visit)
    work()
    person_id = reload(db, Visit, visit.id).hik_person_id

    # A second job for an enrolled visit is a no-op that names the job that did the work...
    second = enqueue_enroll(visit)
    work()
    result = reload(db, JobRecord, second.id).result
    assert (result["outcome"], result["by_job"]) == ("taken", first.id)
    # ...and one for a visit sent back to pending adopts the existing person by its code.
    visit = reload(db, Visit, visit.id)
    visit.state = "pending"
    db.session.commit()
    enqueue_enroll(visit)
    work()

    persons = [p for p in sim.state()["persons"] if p["person_code"] == visit.person_code]
    assert len(persons) == 1
    assert reload(db, Visit, visit.id).hik_person_id == person_id
    # The second run looked the code up before adding (an earlier run had worked on it).
    assert sim.stats()["calls"].get("/artemis/api/resource/v1/person/single/add") == 1
    assert sim.stats()["calls"].get("/artemis/api/resource/v1/person/personCode/personInfo") == 1


def test_cancelled_visit_is_skipped(app, db, sim, work, host_user, level):
    visit = make_visit(host_user, level, state="cancelled")
    record = enqueue_enroll(visit)
    work()
    assert reload(db, JobRecord, record.id).result["outcome"] == "skipped"
    assert sim.state()["persons"] == []
    assert sum(hik_calls(sim).values()) == 0


def test_unknown_access_level_fails_without_grant(app, db, sim, work, host_user):
    gone = make_access_level(name="Deleted on HikCentral", hik_id="999")
    visit = make_visit(host_user, gone)
    record = enqueue_enroll(visit)
    work()

    # Permanent: not retried, and nothing was re-applied after the failed grant.
    failed_for_good(app, db, visit, record, enrollment.ACCESS_LEVEL_GONE)
    assert "/artemis/api/visitor/v1/auth/reapplication" not in sim.stats()["calls"]


def test_refused_face_fails_before_any_grant(app, db, sim, work, host_user, level):
    guest = make_guest("Tiny Photo")
    guest.photo = face_jpeg(size=(60, 60))
    db.session.commit()
    visit = make_visit(host_user, level, guest=guest)
    record = enqueue_enroll(visit)
    work()

    visit = reload(db, Visit, visit.id)
    assert visit.state == "failed"
    assert "photo" in visit.state_reason and "small" in visit.state_reason
    assert reload(db, JobRecord, record.id).error == visit.state_reason
    calls = sim.stats()["calls"]
    assert "/artemis/api/acs/v1/privilege/group/single/addPersons" not in calls
    assert sim.state()["persons"] == []


def test_transient_failure_schedules_a_retry(
    app, db, sim, work, host_user, level, impatient_client
):
    sim.configure(fault_rate=1.0, fault_kinds=["http_500"])
    visit = make_visit(host_user, level)
    record = enqueue_enroll(visit)
    work()

    job = Job.fetch(record.rq_job_id, connection=app.extensions["redis"])
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.retries_left == 4
    assert record.rq_job_id in ScheduledJobRegistry("high", connection=app.extensions["redis"])
    record = reload(db, JobRecord, record.id)
    assert record.state == JobState.QUEUED
    assert record.result["retrying"]["in_seconds"] == 10
    assert record.result["retrying"]["reason"] == "HikCentral did not answer; try again later."
    # The visit waits in "enrolling" for the retry; it has not failed.
    assert reload(db, Visit, visit.id).state == "enrolling"


def test_retries_exhausted_fail_the_visit_with_a_sentence(
    app, db, sim, work, host_user, level, impatient_client
):
    app.config["JOB_RETRY_INTERVALS"] = [0, 0]  # retry at once, twice
    sim.configure(fault_rate=1.0, fault_kinds=["code_5"])
    visit = make_visit(host_user, level)
    record = enqueue_enroll(visit)
    work()

    record = failed_for_good(app, db, visit, record, enrollment.HIKCENTRAL_DOWN)
    assert record.result == {"attempts": 3}
    assert sim.stats()["faults"] >= 3


def test_delivery_is_checked_later_not_by_a_sleeping_job(app, db, sim, work, host_user, level):
    sim.configure(delivery_delay=0.0)
    visit = make_visit(host_user, level)
    enqueue_enroll(visit)
    work()
    visit = reload(db, Visit, visit.id)
    # The job ended right after the re-apply: no delivery call yet, a check is due shortly.
    assert (visit.state, visit.delivery) == ("enrolled", "pending")
    assert DELIVERY not in sim.stats()["calls"]
    assert visit.delivery_due_at is not None
    redis = app.extensions["redis"]
    scheduled = ScheduledJobRegistry("default", connection=redis).get_job_ids()
    assert [Job.fetch(i, connection=redis).func_name for i in scheduled] == [
        "jobs.delivery.follow_deliveries"
    ]
    assert abs((delivery.scheduled_at() - visit.delivery_due_at).total_seconds()) < 1

    delivery.follow_deliveries(client_for(app), now=visit.delivery_due_at)
    visit = reload(db, Visit, visit.id)
    assert (visit.delivery, visit.delivery_checks, visit.delivery_due_at) == ("applied", 1, None)
    assert sim.stats()["calls"][DELIVERY] == 1


def test_delivery_failure_is_recorded(app, db, sim, work, host_user, level):
    visit = make_visit(host_user, level)
    sim.configure(delivery_delay=0.0, delivery_failures=[visit.person_code])
    enqueue_enroll(visit)
    work()
    visit = reload(db, Visit, visit.id)
    delivery.follow_deliveries(client_for(app), now=visit.delivery_due_at)
    visit = reload(db, Visit, visit.id)
    assert visit.state == "enrolled"  # access exists; the devices did not take it
    assert visit.delivery == "failed"
    assert visit.delivery_failed == 1


def test_change_window_then_revoke(app, db, sim, work, host_user, level):
    visit = make_visit(host_user, level)
    enqueue_enroll(visit)
    work()
    visit = reload(db, Visit, visit.id)
    visit.ends_at = visit.ends_at + timedelta(hours=2)
    db.session.commit()
    enqueue("jobs.enroll.update_validity", visit.id, kind="update_validity")
    work()
    person = sim.person(visit.person_code)
    assert datetime.fromisoformat(person["end_time"]) == visit.ends_at.replace(microsecond=0)

    visit.state = "cancelled"
    db.session.commit()
    record = enqueue("jobs.enroll.revoke_visit", visit.id, kind="revoke_visit")
    work()
    assert sim.person(visit.person_code) is None
    assert reload(db, JobRecord, record.id).result["outcome"] == "revoked"
    assert reload(db, Visit, visit.id).state == "cancelled"
    # Twice is fine: the person is already gone.
    again = enqueue("jobs.enroll.revoke_visit", visit.id, kind="revoke_visit")
    work()
    assert reload(db, JobRecord, again.id).state == JobState.FINISHED


def test_registered_visit_is_enrolled_by_the_worker(app, db, sim, work, host_user, level):
    from portal.services.visits import register_visit

    start = datetime.now(app.config["TIMEZONE"]) + timedelta(hours=2)
    visit = register_visit(
        host_user,
        full_name="Grace Hopper",
        starts_at=start,
        ends_at=start + timedelta(hours=3),
        access_level=level,
        photo=face_jpeg(),
    )
    record = db.session.query(JobRecord).filter_by(subject_id=visit.id).one()
    assert (record.kind, record.state) == ("enroll_visit", JobState.QUEUED)
    work()
    visit = reload(db, Visit, visit.id)
    assert visit.state == "enrolled"
    assert [h.state for h in visit.history] == ["pending", "enrolling", "enrolled"]
    assert sim.person(visit.person_code)["has_face"] is True
