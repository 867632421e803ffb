"""The worker and scheduler commands, run through the Flask CLI as an operator would."""

from rq import Queue

from portal.models import JobRecord, JobState, Visit
from tests.fixtures.factories import make_visit
from tests.jobs.test_enroll_jobs import enqueue_enroll


def test_worker_burst_runs_queued_jobs(app, db, sim, host_user, level):
    visit = make_visit(host_user, level)
    record = enqueue_enroll(visit)
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert "worker done: jobs ran" in result.output
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).state == "enrolled"
    assert db.session.get(JobRecord, record.id).state == JobState.FINISHED


def test_worker_listens_only_to_named_queues(app, db, sim, host_user, level, redis_conn):
    record = enqueue_enroll(make_visit(host_user, level))  # on "high"
    result = app.test_cli_runner().invoke(args=["worker", "--burst", "low"])
    assert result.exit_code == 0, result.output
    assert Queue("high", connection=redis_conn).job_ids == [record.rq_job_id]


def test_worker_refuses_unknown_queue(app):
    result = app.test_cli_runner().invoke(args=["worker", "--burst", "urgent"])
    assert result.exit_code != 0
    assert "unknown queue urgent" in result.output


def test_scheduler_burst_registers_and_enqueues(app, redis_conn):
    app.config["PASSAGE_POLL_SECONDS"] = 15
    result = app.test_cli_runner().invoke(args=["scheduler", "--burst"])
    assert result.exit_code == 0, result.output
    assert "looking every 1 s" in result.output  # a tenth of the 15 s poll
    assert Queue("default", connection=redis_conn).job_ids == ["gatehouse-expire_visits"]
    assert sorted(Queue("high", connection=redis_conn).job_ids) == [
        "gatehouse-monitor_passages",
        "gatehouse-reconcile",
    ]
