"""/healthz and /metrics: content and access rules."""

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from portal.extensions import db
from portal.models import JobRecord, JobState


def test_healthz_ok_without_login(anon_client):
    response = anon_client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": True, "redis": True}


def test_healthz_degraded_when_redis_is_down(app, anon_client):
    app.extensions["redis"] = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    response = anon_client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "degraded", "database": True, "redis": False}


def _job(kind, state, n):
    record = JobRecord(rq_job_id=f"{kind}-{state}-{n}", kind=kind, state=state)
    db.session.add(record)


def test_metrics_for_admin(app, admin_client, sim):
    for n in range(3):
        _job("enroll_visit", JobState.FINISHED, n)
    _job("enroll_visit", JobState.FAILED, 9)
    db.session.commit()
    # One HikCentral call so the client metrics carry a sample.
    admin_client.get("/admin/connection")
    response = admin_client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert "hikcentral_calls_total{" in text
    assert "hikcentral_call_seconds_bucket" in text
    assert 'gatehouse_jobs{kind="enroll_visit",state="finished"} 3.0' in text
    assert 'gatehouse_jobs{kind="enroll_visit",state="failed"} 1.0' in text
    assert 'gatehouse_queue_depth{queue="default"} 0.0' in text
    assert app.config["HIKCENTRAL_APP_SECRET"] not in text


@pytest.mark.parametrize("client_name", ["host_client", "security_client"])
def test_metrics_forbidden_for_non_admins(request, client_name):
    assert request.getfixturevalue(client_name).get("/metrics").status_code == 403


def test_metrics_sends_anonymous_to_login_by_default(anon_client):
    response = anon_client.get("/metrics")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_metrics_public_when_configured(app, anon_client):
    app.config["METRICS_PUBLIC"] = True
    response = anon_client.get("/metrics")
    assert response.status_code == 200
    assert "gatehouse_queue_depth" in response.get_data(as_text=True)
