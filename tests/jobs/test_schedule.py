"""Periodic jobs: idempotent registration with rq-scheduler, scheduler interval."""

from rq import Queue
from rq_scheduler import Scheduler

from jobs import schedule

EXPIRE, PURGE = "gatehouse-expire_visits", "gatehouse-purge_personal_data"
MONITOR = "gatehouse-monitor_passages"
RECONCILE, DRIFT = "gatehouse-reconcile", "gatehouse-repair_drift"
ALL = sorted([EXPIRE, PURGE, MONITOR, RECONCILE, DRIFT])


def test_registration_is_idempotent(app, redis_conn):
    scheduler = Scheduler(connection=redis_conn, interval=5)
    first = schedule.register_periodic_jobs(scheduler, app.config)
    assert first == dict.fromkeys(ALL, "registered")
    second = schedule.register_periodic_jobs(scheduler, app.config)
    assert second == dict.fromkeys(ALL, "kept")
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert sorted(jobs) == ALL
    assert jobs[EXPIRE].func_name == "jobs.access.expire_visits"
    assert jobs[EXPIRE].meta["interval"] == 60
    assert jobs[PURGE].func_name == "jobs.maintenance.purge_personal_data"
    assert jobs[PURGE].meta["interval"] == 3600
    assert jobs[PURGE].origin == "low"
    assert jobs[RECONCILE].func_name == "jobs.reconcile.reconcile"
    assert (jobs[RECONCILE].meta["interval"], jobs[RECONCILE].origin) == (60, "high")
    assert jobs[DRIFT].meta["interval"] == app.config["DRIFT_REPAIR_SECONDS"]
    # Passage monitoring: every PASSAGE_POLL_SECONDS on the high queue.
    assert jobs[MONITOR].func_name == "jobs.passages.monitor_passages"
    assert jobs[MONITOR].meta["interval"] == app.config["PASSAGE_POLL_SECONDS"] == 30
    assert jobs[MONITOR].origin == "high"


def test_a_changed_poll_period_replaces_the_monitor(app, redis_conn):
    scheduler = Scheduler(connection=redis_conn, interval=5)
    schedule.register_periodic_jobs(scheduler, app.config)
    outcome = schedule.register_periodic_jobs(scheduler, {**app.config, "PASSAGE_POLL_SECONDS": 10})
    assert outcome[MONITOR] == "registered" and outcome[EXPIRE] == "kept"
    assert {j.id: j for j in scheduler.get_jobs()}[MONITOR].meta["interval"] == 10


def test_stale_periodic_jobs_are_replaced(app, redis_conn):
    scheduler = Scheduler(connection=redis_conn, interval=5)
    from portal.models import utcnow

    scheduler.schedule(
        utcnow(), "jobs.access.expire_visits", interval=3600, id="gatehouse-expire_visits"
    )
    scheduler.schedule(utcnow(), "jobs.old.gone", interval=60, id="gatehouse-old_job")
    outcome = schedule.register_periodic_jobs(scheduler, app.config)
    assert outcome == dict.fromkeys(ALL, "registered")
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert sorted(jobs) == ALL
    assert jobs[EXPIRE].meta["interval"] == 60


def test_scheduler_enqueues_due_sweep(app, redis_conn):
    schedule.run_scheduler(redis_conn, app.config, burst=True)
    assert Queue("default", connection=redis_conn).job_ids == [EXPIRE]
    assert sorted(Queue("low", connection=redis_conn).job_ids) == sorted([DRIFT, PURGE])
    assert sorted(Queue("high", connection=redis_conn).job_ids) == sorted([MONITOR, RECONCILE])


def test_periodic_jobs_lost_with_redis_come_back_at_the_next_look(app, redis_conn):
    scheduler = schedule.make_scheduler(redis_conn, app.config)
    schedule.register_periodic_jobs(scheduler, app.config)
    redis_conn.flushdb()  # Redis flushed (or restored from an older snapshot)
    assert [j.id for j in scheduler.get_jobs()] == []
    scheduler.enqueue_jobs()
    assert sorted(j.id for j in scheduler.get_jobs()) == ALL


def test_scheduler_interval_follows_shortest_period(app):
    assert schedule.scheduler_interval({**app.config, "PASSAGE_POLL_SECONDS": 30}) == 3
    assert schedule.scheduler_interval({**app.config, "PASSAGE_POLL_SECONDS": 300}) == 6
    assert schedule.scheduler_interval({**app.config, "PASSAGE_POLL_SECONDS": 5}) == 1
