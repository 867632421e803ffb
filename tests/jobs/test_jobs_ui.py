"""Job pages: list with role rules and filter, detail with progress, JSON twin, retry action."""

from portal.extensions import db as _db
from portal.models import JobRecord, JobState, Role
from portal.queue import enqueue
from tests.fixtures.app import client_for, csrf_token
from tests.fixtures.factories import make_user


def failed_job(user, *, func="tests.jobs.sample_jobs.count_to", args=(3,)):
    record = enqueue(
        func, *args, kind="enroll_visit", subject_type="visit", subject_id=7, created_by=user
    )
    record.state = JobState.FAILED
    record.error = "HikCentral did not answer; try again later."
    _db.session.commit()
    return record


def test_hosts_see_only_their_jobs(app, host_client, host_user, security_client):
    mine = enqueue("tests.jobs.sample_jobs.count_to", 1, kind="mine", created_by=host_user)
    other = make_user(Role.HOST)
    theirs = enqueue("tests.jobs.sample_jobs.count_to", 1, kind="theirs", created_by=other)

    page = host_client.get("/jobs").get_data(as_text=True)
    assert f"/jobs/{mine.id}" in page and f"/jobs/{theirs.id}" not in page
    assert host_client.get(f"/jobs/{theirs.id}").status_code == 404
    assert host_client.get(f"/jobs/{theirs.id}.json").status_code == 404

    page = security_client.get("/jobs").get_data(as_text=True)
    assert f"/jobs/{mine.id}" in page and f"/jobs/{theirs.id}" in page


def test_anonymous_is_sent_to_log_in(anon_client):
    response = anon_client.get("/jobs")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_state_filter_and_subject_link(app, admin_client, admin_user):
    done = enqueue("tests.jobs.sample_jobs.count_to", 1, kind="done_kind", created_by=admin_user)
    failed = failed_job(admin_user)
    page = admin_client.get("/jobs?state=failed").get_data(as_text=True)
    assert f"/jobs/{failed.id}" in page and f'/jobs/{done.id}"' not in page
    assert 'href="/visits/7"' in page
    # An unknown state shows everything rather than failing.
    assert admin_client.get("/jobs?state=bogus").status_code == 200


def test_pagination(app, host_client, host_user):
    for n in range(27):
        enqueue("tests.jobs.sample_jobs.count_to", n, kind="bulk", created_by=host_user)
    first = host_client.get("/jobs").get_data(as_text=True)
    second = host_client.get("/jobs?page=2").get_data(as_text=True)
    assert first.count("<tr>") == 26  # header + 25
    assert second.count("<tr>") == 3


def test_detail_and_json_twin_follow_the_worker(app, db, work, host_client, host_user):
    record = enqueue("tests.jobs.sample_jobs.count_to", 4, kind="count", created_by=host_user)
    queued = host_client.get(f"/jobs/{record.id}.json").get_json()
    assert queued["state"] == "queued"
    assert queued["url"] == f"/jobs/{record.id}"
    page = host_client.get(f"/jobs/{record.id}").get_data(as_text=True)
    assert f'data-json-url="/jobs/{record.id}.json"' in page
    assert "js/job-progress.js" in page

    work()
    data = host_client.get(f"/jobs/{record.id}.json").get_json()
    assert data["state"] == "finished"
    assert data["progress"] == {"done": 4, "failed": 1, "total": 4}
    assert data["error"] is None
    assert set(data) >= {"id", "kind", "state", "progress", "result", "error", "url"}
    page = host_client.get(f"/jobs/{record.id}").get_data(as_text=True)
    assert "Retry this job" not in page
    assert "created" in page  # the per-item outcome from the result


def test_failed_job_shows_error_and_retries(app, db, work, host_client, host_user):
    record = failed_job(host_user)
    url = f"/jobs/{record.id}"
    page = host_client.get(url).get_data(as_text=True)
    assert "HikCentral did not answer; try again later." in page
    assert "Retry this job" in page

    # Without the CSRF token the form is refused.
    assert host_client.post(f"{url}/retry").status_code == 400
    token = csrf_token(host_client, url)
    response = host_client.post(f"{url}/retry", data={"csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    new = db.session.query(JobRecord).order_by(JobRecord.id.desc()).first()
    assert new.id != record.id and response.headers["Location"].endswith(f"/jobs/{new.id}")
    assert (new.kind, new.subject_id, new.call["args"]) == ("enroll_visit", 7, [3])
    work()
    db.session.expire_all()
    assert db.session.get(JobRecord, new.id).state == JobState.FINISHED


def test_only_creator_or_admin_may_retry(app, host_user, security_client, admin_client):
    record = failed_job(host_user)
    url = f"/jobs/{record.id}"
    assert "Retry this job" not in security_client.get(url).get_data(as_text=True)
    token = csrf_token(security_client, url)  # the log-out form carries one
    assert security_client.post(f"{url}/retry", data={"csrf_token": token}).status_code == 403
    other_host = client_for(app, make_user(Role.HOST))
    token = csrf_token(other_host, "/jobs")
    assert other_host.post(f"{url}/retry", data={"csrf_token": token}).status_code == 404
    token = csrf_token(admin_client, url)
    assert admin_client.post(f"{url}/retry", data={"csrf_token": token}).status_code == 302


def test_hosts_follow_the_jobs_about_their_visits(app, db, host_client, host_user, admin_user):
    from portal.services import visits as visit_service
    from tests.fixtures.factories import make_access_level, make_visit

    level = make_access_level()
    mine = make_visit(host_user, level, state="enrolled", hik_person_id="p1")
    other = make_user(Role.HOST)
    theirs = make_visit(other, level, state="enrolled", hik_person_id="p2")
    cancel = visit_service.cancel_visit(mine, by=admin_user)  # the admin cancels my visit
    not_mine = visit_service.cancel_visit(theirs, by=admin_user)
    unrelated = enqueue("tests.jobs.sample_jobs.count_to", 1, kind="admin", created_by=admin_user)

    for url in (f"/jobs/{cancel.id}", f"/jobs/{cancel.id}.json"):
        assert host_client.get(url).status_code == 200, url
    page = host_client.get("/jobs").get_data(as_text=True)
    assert f"/jobs/{cancel.id}" in page
    assert f"/jobs/{not_mine.id}" not in page and f"/jobs/{unrelated.id}" not in page
    for job in (not_mine, unrelated):
        assert host_client.get(f"/jobs/{job.id}").status_code == 404
        assert host_client.get(f"/jobs/{job.id}.json").status_code == 404
    # Seeing a job is not retrying it: that stays with its creator and admins.
    assert "Retry this job" not in host_client.get(f"/jobs/{cancel.id}").get_data(as_text=True)

    other_client = client_for(app, other)
    assert other_client.get(f"/jobs/{cancel.id}").status_code == 404
    assert other_client.get(f"/jobs/{not_mine.id}").status_code == 200
