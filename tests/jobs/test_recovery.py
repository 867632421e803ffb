"""Crash recovery: dead workers' jobs, lost jobs, a flushed Redis, HikCentral down."""

from datetime import timedelta

from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from sqlalchemy import update

from portal.hikvision import client_for
from portal.models import JobRecord, JobState, Visit, utcnow
from portal.runtime import GatehouseWorker
from portal.services import claims, recovery
from tests.fixtures.factories import make_guest, make_visit
from tests.jobs.test_enroll_jobs import enqueue_enroll, reload


def age(db, visit, seconds=600):
    """Make the visit (and its claim) look ``seconds`` old."""
    past = utcnow() - timedelta(seconds=seconds)
    db.session.execute(
        update(Visit).where(Visit.id == visit.id).values(updated_at=past, claimed_at=past)
    )
    db.session.execute(
        update(JobRecord)
        .where(JobRecord.subject_id == visit.id)
        .values(created_at=past - timedelta(seconds=1))
    )
    db.session.commit()


def start_on_a_worker_that_dies(redis_conn, record):
    """The worker takes the job, then is killed: its claim in RQ lapses, nobody finishes."""
    job = Job.fetch(record.rq_job_id, connection=redis_conn)
    queue = Queue(job.origin, connection=redis_conn)
    queue.remove(job.id)
    worker = GatehouseWorker([queue], connection=redis_conn, heartbeat_seconds=1)
    worker.prepare_execution(job)
    worker.prepare_job_execution(job)
    return job


def test_a_dead_workers_job_is_found_and_run_again(
    app, db, sim, work, redis_conn, host_user, level
):
    visit = make_visit(host_user, level)
    record = enqueue_enroll(visit)
    job = start_on_a_worker_that_dies(redis_conn, record)
    registry = StartedJobRegistry(queue=Queue(job.origin, connection=redis_conn))
    assert job.id in registry.get_job_ids()

    # Three missed heartbeats later the job is abandoned; RQ retries it (it has retries left).
    assert recovery.find_abandoned(at=utcnow() + timedelta(seconds=5)) == 1
    record = reload(db, JobRecord, record.id)
    assert record.state == JobState.QUEUED
    assert record.result["retrying"]["reason"] == recovery.WORKER_LOST
    assert job.get_status(refresh=True) == JobStatus.SCHEDULED

    Queue(job.origin, connection=redis_conn).enqueue_job(job)  # the retry falls due
    work()
    assert reload(db, Visit, visit.id).state == "enrolled"
    assert reload(db, JobRecord, record.id).state == JobState.FINISHED


def test_a_record_whose_rq_job_no_longer_exists_is_closed(app, db, redis_conn, host_user, level):
    visit = make_visit(host_user, level)
    record = enqueue_enroll(visit)
    Job.fetch(record.rq_job_id, connection=redis_conn).delete()
    age(db, visit)
    summary = recovery.reconcile(client_for(app))
    record = reload(db, JobRecord, record.id)
    assert (record.state, record.error) == (JobState.FAILED, recovery.JOB_LOST)
    assert summary["lost_records"] == 1
    # The visit it was about is queued again by a new job.
    assert summary["requeued_visits"] == 1
    assert reload(db, JobRecord, summary["jobs"][0]).subject_id == visit.id


def test_visits_pending_when_redis_is_flushed_are_enrolled(
    app, db, sim, work, redis_conn, host_user, level
):
    visits = [make_visit(host_user, level, guest=make_guest(f"Guest Flush{n}")) for n in range(3)]
    for visit in visits:
        enqueue_enroll(visit)
        age(db, visit)
    redis_conn.flushdb()

    summary = recovery.reconcile(client_for(app))
    assert summary["requeued_visits"] == 3
    assert len(summary["jobs"]) == 1  # one job takes the whole batch
    work()
    assert {reload(db, Visit, v.id).state for v in visits} == {"enrolled"}
    assert len(sim.state()["persons"]) == 3


def test_visits_held_by_a_dead_run_go_back_to_pending_and_are_enrolled(
    app, db, sim, work, host_user, level
):
    visit = make_visit(host_user, level)
    assert claims.claim([visit.id], "job-that-died") == [visit.id]
    age(db, visit)
    summary = recovery.reconcile(client_for(app))
    assert summary["released"] == 1 and summary["requeued_visits"] == 1
    assert reload(db, Visit, visit.id).state_reason == recovery.RESTARTED
    work()
    visit = reload(db, Visit, visit.id)
    assert visit.state == "enrolled"
    assert [h.state for h in visit.history] == ["enrolling", "pending", "enrolling", "enrolled"]


def test_visits_with_a_live_job_or_waiting_briefly_are_left_alone(app, db, host_user, level):
    queued = make_visit(host_user, level)
    enqueue_enroll(queued)
    age(db, queued)  # old, but its job is still queued
    fresh = make_visit(host_user, level, guest=make_guest("Just Registered"))
    summary = recovery.reconcile(client_for(app))
    assert (summary["requeued_visits"], summary["released"], summary["jobs"]) == (0, 0, [])
    assert reload(db, Visit, fresh.id).state == "pending"


def test_reconcile_while_hikcentral_is_down_requeues_and_keeps_checks_due(
    app, db, sim, host_user, level, redis_conn, impatient_client
):
    enrolled = make_visit(host_user, level, state="enrolled", hik_person_id="42")
    due = utcnow() - timedelta(seconds=1)
    enrolled.delivery, enrolled.delivery_due_at = "pending", due
    stuck = make_visit(host_user, level, guest=make_guest("Stuck Guest"))
    db.session.commit()
    age(db, stuck)
    sim.configure(fault_rate=1.0, fault_kinds=["http_500"])

    summary = recovery.reconcile(impatient_client)

    assert summary["requeued_visits"] == 1
    enrolled = reload(db, Visit, enrolled.id)
    # The check was made and failed: it counts, and the next one stays due.
    assert enrolled.delivery == "pending" and enrolled.delivery_checks == 1
    assert enrolled.delivery_due_at > due


def test_the_worker_proves_it_is_alive_often_and_cleans_up_soon(app, redis_conn):
    from portal.runtime import make_worker

    app.config.update(WORKER_HEARTBEAT_SECONDS=10, WORKER_MAINTENANCE_SECONDS=30)
    worker = make_worker(["high"], redis_conn, app.config)
    # A job's claim lapses after three missed beats; an idle worker wakes for maintenance.
    assert worker.get_heartbeat_ttl(None) == 30
    assert worker.maintenance_interval == 30
    assert worker.dequeue_timeout <= 30
