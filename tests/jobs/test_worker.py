"""The worker wrapper: JobRecord states, progress, error sentences, retries only when useful."""

from rq import Queue, Retry
from rq.job import Job, JobStatus

from portal.models import JobRecord, JobState
from portal.queue import enqueue
from tests.fixtures.factories import make_access_level, make_visit

JOBS = "tests.jobs.sample_jobs"


def reload(db, record):
    db.session.expire_all()
    return db.session.get(JobRecord, record.id)


def test_states_progress_and_result(app, db, work):
    record = enqueue(f"{JOBS}.count_to", 4, kind="count")
    work()
    record = reload(db, record)
    assert record.state == JobState.FINISHED
    assert (record.progress_done, record.progress_total, record.progress_failed) == (4, 4, 1)
    assert record.result["record"] == record.id
    assert record.started_at <= record.ended_at


def test_job_runs_in_its_own_session_and_sees_commits(app, db, work, host_user):
    visit = make_visit(host_user, make_access_level())
    record = enqueue(f"{JOBS}.read_visit", visit.id, kind="read")
    work()
    assert reload(db, record).result == {"state": "pending"}


def test_unexpected_error_is_a_sentence_not_a_traceback(app, db, work):
    record = enqueue(f"{JOBS}.crash", kind="crash", retry=Retry(max=3))
    work()
    record = reload(db, record)
    assert record.state == JobState.FAILED
    assert record.error == "The job stopped because of an unexpected error; it has been logged."
    assert "secret" not in record.error and "KeyError" not in record.error
    job = Job.fetch(record.rq_job_id, connection=app.extensions["redis"])
    # A bug is not retried even when retries were asked for.
    assert job.get_status() == JobStatus.FAILED
    assert job.retries_left == 0


def test_permanent_hikcentral_error(app, db, work):
    record = enqueue(f"{JOBS}.refuse", kind="refuse")
    work()
    record = reload(db, record)
    assert record.state == JobState.FAILED
    assert record.error.startswith("HikCentral refused the request")
    assert "personCode" not in record.error


def test_job_failure_keeps_its_sentence_and_result(app, db, work):
    record = enqueue(f"{JOBS}.stop_with_sentence", kind="import")
    work()
    record = reload(db, record)
    assert (record.state, record.error, record.result) == (
        JobState.FAILED,
        "The sheet has no guests.",
        {"rows": 0},
    )


def test_job_without_record_runs(app, redis_conn, work):
    # Jobs sent by the scheduler have no JobRecord; the wrapper copes.
    job = Queue("default", connection=redis_conn).enqueue(f"{JOBS}.no_record")
    work()
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == {"record": None}
