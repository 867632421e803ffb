"""portal.queue: the JobRecord is committed first, then the RQ job carries its id."""

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue
from rq.job import Job

from portal.models import JobRecord, JobState
from portal.queue import (
    QUEUE_DOWN_MESSAGE,
    QueueUnavailable,
    enqueue,
    enqueue_about,
    enqueue_again,
    get_queue,
)


def test_enqueue_writes_record_then_job(app, db, redis_conn, host_user):
    record = enqueue(
        "jobs.enroll.enroll_visit",
        42,
        kind="enroll_visit",
        subject_type="visit",
        subject_id=42,
        created_by=host_user,
        queue="high",
    )
    db.session.expire_all()
    stored = db.session.get(JobRecord, record.id)
    assert stored.state == JobState.QUEUED
    assert stored.created_by_id == host_user.id
    assert stored.call == {
        "func": "jobs.enroll.enroll_visit",
        "args": [42],
        "queue": "high",
        "job_timeout": None,
    }
    assert len(stored.rq_job_id) == 32
    job = Job.fetch(stored.rq_job_id, connection=redis_conn)
    assert job.func_name == "jobs.enroll.enroll_visit"
    assert job.args == (42,)
    assert Queue("high", connection=redis_conn).job_ids == [stored.rq_job_id]
    # Enrollment gets the transient-failure retry policy without the caller asking.
    assert job.retries_left == 5
    assert job.retry_intervals == [10, 30, 60, 120, 300]


def test_a_job_about_a_subject_takes_its_id_first(app, db, redis_conn, host_user):
    record = enqueue_about(
        "event", 7, "jobs.events.revoke_event_guests", [3, 4], kind="revoke", created_by=host_user
    )
    db.session.expire_all()
    stored = db.session.get(JobRecord, record.id)
    assert (stored.subject_type, stored.subject_id, stored.kind) == ("event", 7, "revoke")
    assert stored.call["args"] == [7, [3, 4]] and stored.created_by_id == host_user.id
    job = Job.fetch(stored.rq_job_id, connection=redis_conn)
    assert job.args == (7, [3, 4]) and job.description == "revoke event 7"


def test_enqueue_passes_explicit_retry_and_timeout(app, redis_conn):
    from rq import Retry

    record = enqueue("jobs.access.expire_visits", kind="expire", retry=Retry(2, 1), job_timeout=77)
    job = Job.fetch(record.rq_job_id, connection=redis_conn)
    assert job.retries_left == 2
    assert job.timeout == 77


def test_unknown_queue_is_refused(app, db):
    with pytest.raises(ValueError, match="unknown queue 'urgent'"):
        enqueue("jobs.enroll.enroll_visit", 1, kind="enroll_visit", queue="urgent")
    assert db.session.query(JobRecord).count() == 0


def test_redis_down_marks_record_failed(app, db, monkeypatch):
    # No retries: a refused connection is the whole point, waiting for backoffs only costs time.
    dead = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    monkeypatch.setitem(app.extensions, "redis", dead)
    with pytest.raises(QueueUnavailable):
        enqueue("jobs.enroll.enroll_visit", 5, kind="enroll_visit")
    record = db.session.query(JobRecord).one()
    assert record.state == JobState.FAILED
    assert record.error == QUEUE_DOWN_MESSAGE
    assert record.ended_at is not None


def test_enqueue_again_copies_the_call(app, db, redis_conn, admin_user):
    first = enqueue(
        "jobs.enroll.revoke_visit",
        9,
        kind="revoke_visit",
        subject_type="visit",
        subject_id=9,
        queue="low",
    )
    again = enqueue_again(first, created_by=admin_user)
    assert again.id != first.id and again.rq_job_id != first.rq_job_id
    assert (again.kind, again.subject_type, again.subject_id) == ("revoke_visit", "visit", 9)
    assert again.created_by_id == admin_user.id
    assert get_queue("low").job_ids == [first.rq_job_id, again.rq_job_id]
