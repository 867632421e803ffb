"""The retention job through a real queue and worker: sent by the scheduler, safe twice."""

from datetime import timedelta

from rq import Queue

from jobs import schedule
from portal.extensions import db
from portal.models import Guest, JobState, utcnow
from portal.queue import enqueue
from tests.fixtures.factories import make_guest, make_visit


def test_the_scheduled_purge_runs_on_a_worker(app, redis_conn, work, host_user, access_level):
    guest = make_guest("Ada Lovelace", email="ada@example.com")
    visit = make_visit(host_user, access_level, guest=guest, state="expired")
    visit.starts_at = utcnow() - timedelta(days=100)
    visit.ends_at = visit.starts_at + timedelta(hours=2)
    db.session.commit()

    # What the scheduler puts on the queue is what the worker runs.
    schedule.run_scheduler(redis_conn, app.config, burst=True)
    assert "gatehouse-purge_personal_data" in Queue("low", connection=redis_conn).job_ids
    work()

    db.session.expire_all()
    guest = db.session.get(Guest, guest.id)
    assert (guest.full_name, guest.email, guest.photo) == ("Removed guest", None, None)


def test_the_purge_job_reports_its_counts_and_runs_twice(app, work, host_user, access_level):
    guest = make_guest()
    visit = make_visit(host_user, access_level, guest=guest, state="left")
    visit.starts_at = utcnow() - timedelta(days=3)
    visit.ends_at = visit.starts_at + timedelta(hours=2)
    db.session.commit()

    first = enqueue("jobs.maintenance.purge_personal_data", kind="purge_personal_data", queue="low")
    work()
    second = enqueue(
        "jobs.maintenance.purge_personal_data", kind="purge_personal_data", queue="low"
    )
    work()

    db.session.expire_all()
    assert first.state == JobState.FINISHED and first.result["photos_deleted"] == 1
    assert first.result["guests_anonymized"] == 0
    assert second.state == JobState.FINISHED and not any(second.result.values())
    assert db.session.get(Guest, guest.id).photo is None
