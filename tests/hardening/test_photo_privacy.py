"""Guest photos are personal data: only the visit's host, security and admins see them, never
cached, and never written to a log or a job's result."""

import base64
import json
import logging

from rq import Queue
from rq.job import Job

from portal.extensions import db
from portal.models import JobRecord, JobState, Role
from portal.queue import QUEUES
from portal.services.visits import enqueue_enrollment
from tests.events.imports_support import run_worker
from tests.fixtures.app import client_for
from tests.fixtures.factories import make_user, make_visit


def test_the_photo_answers_only_to_host_security_and_admin(app, host_user, access_level):
    visit = make_visit(host_user, access_level)
    url = f"/visits/{visit.id}/photo"
    expected = {
        Role.HOST: 200,  # the visit's host
        Role.SECURITY: 200,
        Role.ADMIN: 200,
        Role.ORGANIZER: 404,  # neither the host nor security: not even its existence
    }
    for role, status in expected.items():
        user = host_user if role == Role.HOST else make_user(role)
        response = client_for(app, user).get(url)
        assert response.status_code == status, role
        if status == 200:
            assert response.headers["Cache-Control"] == "private, no-store"
            assert response.mimetype == "image/jpeg"
    assert client_for(app, make_user(Role.HOST)).get(url).status_code == 404  # another host
    assert app.test_client().get(url).status_code == 302  # no session: log in first


def test_enrollment_never_logs_or_returns_the_photo(app, sim, redis_conn, host_user, level, caplog):
    visit = make_visit(host_user, level)
    photo = visit.guest.photo
    record = enqueue_enrollment(visit.id, by=host_user)
    with caplog.at_level(logging.DEBUG):
        run_worker(redis_conn)
    db.session.expire_all()
    record = db.session.get(JobRecord, record.id)
    assert record.state == JobState.FINISHED
    # The photo as sent to HikCentral (base64) and its raw bytes, in any form a log could take.
    traces = [base64.b64encode(photo).decode(), photo.hex(), repr(photo)[:60]]
    logged = caplog.text
    stored = json.dumps([record.result, record.call, record.error])
    rq_result = repr(Job.fetch(record.rq_job_id, connection=redis_conn).return_value())
    for trace in traces:
        assert trace[:40] not in logged
        assert trace[:40] not in stored
        assert trace[:40] not in rq_result
    assert all(Queue(name, connection=redis_conn).count == 0 for name in QUEUES)
