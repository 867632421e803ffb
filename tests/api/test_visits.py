"""Visits over the API: register (JSON and multipart), list, read, change, cancel; jobs."""

import base64
import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from rq import Queue
from rq.job import Job
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Guest, JobRecord, Visit, VisitState, utcnow
from tests.api.conftest import bearer
from tests.fixtures.factories import face_jpeg, make_user, make_visit

MOSCOW = timezone(timedelta(hours=3))


def window(start_in=timedelta(hours=2), length=timedelta(hours=3)):
    """A future visit window as ISO strings in UTC+3, and the same instants in UTC."""
    start = (utcnow() + start_in).replace(microsecond=0)
    end = start + length
    return (start.astimezone(MOSCOW).isoformat(), end.astimezone(MOSCOW).isoformat()), (
        start,
        end,
    )


def payload(level, **overrides):
    (starts_at, ends_at), _ = window()
    body = {
        "guest": {
            "full_name": "Grace Hopper",
            "email": "grace@example.com",
            "phone": "+1 555 0100",
            "company": "Navy",
        },
        "starts_at": starts_at,
        "ends_at": ends_at,
        "purpose": "Compiler review",
        "access_level": level.id,
        "photo": base64.b64encode(face_jpeg()).decode(),
    }
    body.update(overrides)
    return body


def visit_count():
    return db.session.scalar(select(func.count()).select_from(Visit))


def assert_field_error(response, field):
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert field in body["fields"], body
    assert body["fields"][field]
    assert body["error"]
    return body["fields"][field]


# --- POST /visits -------------------------------------------------------------------------


def test_register_with_json_and_base64_photo(
    api, host_user, host_headers, access_level, redis_conn
):
    body = payload(access_level)
    response = api.post("/api/v1/visits", json=body, headers=host_headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    data = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/visits/{data['id']}")
    assert data["state"] == "pending"
    assert data["guest"] == {**body["guest"], "language": None}
    _, (start, end) = window()
    assert datetime.fromisoformat(data["starts_at"]) == datetime.fromisoformat(body["starts_at"])
    assert data["starts_at"].endswith("+00:00")
    assert data["person_code"]
    assert data["hik_person_id"] is None
    assert data["checked_in_at"] is None

    visit = db.session.get(Visit, data["id"])
    assert visit.host_id == host_user.id
    assert visit.guest.photo[:2] == b"\xff\xd8"  # stored as a normalized JPEG
    record = db.session.get(JobRecord, data["job"]["id"])
    assert data["job"]["url"] == f"/api/v1/jobs/{record.id}"
    assert (record.kind, record.subject_type, record.subject_id) == (
        "enroll_visit",
        "visit",
        visit.id,
    )
    assert record.created_by_id == host_user.id
    job = Job.fetch(record.rq_job_id, connection=redis_conn)
    assert job.func_name == "jobs.enroll.enroll_visit"
    assert job.args == (visit.id,)
    queued = [
        q
        for q in ("high", "default", "low")
        if record.rq_job_id in Queue(q, connection=redis_conn).job_ids
    ]
    assert queued, "the enrollment job is not on any queue"


def test_register_with_multipart_photo(api, host_headers, access_level, redis_conn):
    (starts_at, ends_at), _ = window()
    form = {
        "guest.full_name": "Alan Turing",
        "email": "alan@example.com",
        "starts_at": starts_at,
        "ends_at": ends_at,
        "access_level": str(access_level.id),
        "photo": (io.BytesIO(face_jpeg()), "face.jpg", "image/jpeg"),
    }
    response = api.post(
        "/api/v1/visits", data=form, headers=host_headers, content_type="multipart/form-data"
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    data = response.get_json()
    assert data["guest"]["full_name"] == "Alan Turing"
    assert data["guest"]["email"] == "alan@example.com"
    guest = db.session.get(Visit, data["id"]).guest
    assert guest.photo_sha256
    record = db.session.get(JobRecord, data["job"]["id"])
    assert Job.fetch(record.rq_job_id, connection=redis_conn).func_name == (
        "jobs.enroll.enroll_visit"
    )


PHOTO_REQUIRED = "Add a photo of the guest's face: the doors recognise guests by face."


@pytest.mark.parametrize("photo", [None, "", "absent"])
def test_register_without_photo_is_refused(api, host_headers, access_level, redis_conn, photo):
    body = payload(access_level)
    if photo == "absent":
        del body["photo"]
    else:
        body["photo"] = photo
    response = api.post("/api/v1/visits", json=body, headers=host_headers)
    assert assert_field_error(response, "photo") == PHOTO_REQUIRED
    assert visit_count() == 0
    assert db.session.scalar(select(func.count()).select_from(Guest)) == 0
    assert Queue("high", connection=redis_conn).count == 0


def test_multipart_without_a_photo_is_refused(api, host_headers, access_level):
    (starts_at, ends_at), _ = window()
    form = {
        "full_name": "Alan Turing",
        "starts_at": starts_at,
        "ends_at": ends_at,
        "access_level": str(access_level.id),
    }
    response = api.post(
        "/api/v1/visits", data=form, headers=host_headers, content_type="multipart/form-data"
    )
    assert assert_field_error(response, "photo") == PHOTO_REQUIRED
    assert visit_count() == 0


def test_register_without_photo_is_allowed_when_not_required(app, api, host_headers, access_level):
    app.config["REQUIRE_GUEST_PHOTO"] = False
    body = payload(access_level)
    del body["photo"]
    response = api.post("/api/v1/visits", json=body, headers=host_headers)
    assert response.status_code == 201
    assert db.session.get(Visit, response.get_json()["id"]).guest.photo is None


def test_a_data_url_photo_is_accepted(api, host_headers, access_level):
    photo = "data:image/jpeg;base64," + base64.b64encode(face_jpeg()).decode()
    response = api.post(
        "/api/v1/visits", json=payload(access_level, photo=photo), headers=host_headers
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"guest": {"email": "x@example.com"}}, "guest.full_name", "name"),
        ({"guest": {"full_name": "  "}}, "guest.full_name", "name"),
        ({"guest": {"full_name": "Ada", "email": "not-an-email"}}, "guest.email", "email"),
        ({"guest": "Ada Lovelace"}, "guest", "object"),
        ({"guest": {"full_name": 42}}, "guest.full_name", "string"),
        ({"starts_at": "2030-01-01T10:00:00"}, "starts_at", "UTC offset"),
        ({"ends_at": "2030-01-01T10:00:00"}, "ends_at", "UTC offset"),
        ({"starts_at": 1893456000}, "starts_at", "ISO 8601"),
        ({"starts_at": "next tuesday"}, "starts_at", "ISO 8601"),
        ({"starts_at": None}, "starts_at", "required"),
        ({"access_level": 999999}, "access_level", "access level"),
        ({"access_level": "abc"}, "access_level", "id"),
        ({"access_level": True}, "access_level", "id"),
        ({"access_level": None}, "access_level", "required"),
        ({"purpose": ["a", "b"]}, "purpose", "string"),
        ({"photo": "%%% not base64 %%%"}, "photo", "base64"),
        ({"photo": base64.b64encode(b"GIF89a not really").decode()}, "photo", "image"),
        ({"photo": 12}, "photo", "base64"),
    ],
)
def test_register_names_the_bad_field(api, host_headers, access_level, change, field, words):
    response = api.post(
        "/api/v1/visits", json=payload(access_level, **change), headers=host_headers
    )
    message = assert_field_error(response, field)
    assert words.lower() in message.lower()
    assert visit_count() == 0


def test_end_before_start_is_refused(api, host_headers, access_level):
    (starts_at, ends_at), _ = window()
    response = api.post(
        "/api/v1/visits",
        json=payload(access_level, starts_at=ends_at, ends_at=starts_at),
        headers=host_headers,
    )
    assert "after the start" in assert_field_error(response, "ends_at")


def test_inactive_access_level_is_refused(api, host_headers, access_level):
    access_level.active = False
    db.session.commit()
    response = api.post("/api/v1/visits", json=payload(access_level), headers=host_headers)
    assert_field_error(response, "access_level")


def test_several_service_errors_come_together(api, host_headers, access_level):
    body = payload(access_level, guest={"full_name": "", "email": "nope"}, access_level=999999)
    response = api.post("/api/v1/visits", json=body, headers=host_headers)
    assert response.status_code == 400
    assert {"guest.full_name", "guest.email", "access_level"} <= set(response.get_json()["fields"])


@pytest.mark.parametrize("raw", [b"{not json", b'{"guest": ', b"", b"\xff\xfe"])
def test_malformed_json_is_400(api, host_headers, raw):
    response = api.post(
        "/api/v1/visits", data=raw, headers=host_headers, content_type="application/json"
    )
    assert_field_error(response, "body")
    assert "JSON" in response.get_json()["error"]


@pytest.mark.parametrize("document", [[], ["a"], "text", 3, None])
def test_a_body_that_is_not_an_object_is_400(api, host_headers, document):
    response = api.post("/api/v1/visits", json=document, headers=host_headers)
    assert_field_error(response, "body")


def test_exception_text_never_reaches_the_client(api, host_headers, access_level, monkeypatch):
    from portal.services import visits as visit_service

    def broken(*args, **kwargs):
        raise visit_service.VisitStateError("This visit is left: it cannot be cancelled.")

    monkeypatch.setattr(visit_service, "register_visit", broken)
    response = api.post("/api/v1/visits", json=payload(access_level), headers=host_headers)
    assert response.status_code == 409
    assert set(response.get_json()) == {"error", "fields"}


# --- GET /visits, GET /visits/<id> ----------------------------------------------------------


@pytest.fixture
def two_hosts_visits(host_user, access_level):
    other = make_user(email="other-host@example.test")
    mine = make_visit(host_user, access_level)
    theirs = make_visit(other, access_level)
    return mine, theirs, other


def test_host_lists_only_own_visits(api, host_headers, two_hosts_visits):
    mine, _, _ = two_hosts_visits
    body = api.get("/api/v1/visits", headers=host_headers).get_json()
    assert [item["id"] for item in body["items"]] == [mine.id]
    assert body["next"] is None


def test_security_lists_all_visits(api, security_headers, two_hosts_visits):
    mine, theirs, _ = two_hosts_visits
    body = api.get("/api/v1/visits", headers=security_headers).get_json()
    assert {item["id"] for item in body["items"]} == {mine.id, theirs.id}


def test_host_gets_404_for_another_hosts_visit(api, host_headers, two_hosts_visits):
    _, theirs, _ = two_hosts_visits
    response = api.get(f"/api/v1/visits/{theirs.id}", headers=host_headers)
    assert response.status_code == 404
    assert response.get_json()["fields"] == {}
    assert api.get("/api/v1/visits/999999", headers=host_headers).status_code == 404


def test_visit_document(api, host_headers, host_user, access_level):
    visit = make_visit(host_user, access_level, state=VisitState.ON_SITE.value)
    visit.hik_person_id = "P-1"
    visit.checked_in_at = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    db.session.commit()
    data = api.get(f"/api/v1/visits/{visit.id}", headers=host_headers).get_json()
    assert set(data) >= {
        "id",
        "state",
        "state_reason",
        "guest",
        "starts_at",
        "ends_at",
        "person_code",
        "hik_person_id",
        "checked_in_at",
        "checked_out_at",
        "job",
    }
    assert data["state"] == "on_site"
    assert data["guest"] == {
        "full_name": "Ada Lovelace",
        "email": None,
        "phone": None,
        "company": None,
        "language": None,
    }
    assert data["checked_in_at"] == "2030-01-02T03:04:05+00:00"
    assert data["person_code"] == visit.person_code
    assert data["hik_person_id"] == "P-1"
    assert data["job"] is None


def test_security_reads_any_visit(api, security_headers, two_hosts_visits):
    _, theirs, _ = two_hosts_visits
    assert api.get(f"/api/v1/visits/{theirs.id}", headers=security_headers).status_code == 200


def test_state_filter(api, host_headers, host_user, access_level):
    make_visit(host_user, access_level)
    on_site = make_visit(host_user, access_level, state=VisitState.ON_SITE.value)
    body = api.get("/api/v1/visits?state=on_site", headers=host_headers).get_json()
    assert [item["id"] for item in body["items"]] == [on_site.id]


def test_unknown_state_filter_is_400(api, host_headers):
    response = api.get("/api/v1/visits?state=visiting", headers=host_headers)
    assert "on_site" in assert_field_error(response, "state")


def test_visits_are_paged_with_a_next_link(api, host_headers, host_user, access_level):
    visits = [make_visit(host_user, access_level) for _ in range(3)]
    first = api.get("/api/v1/visits?per_page=2&state=pending", headers=host_headers).get_json()
    assert [item["id"] for item in first["items"]] == [visits[2].id, visits[1].id]
    assert "state=pending" in first["next"] and "page=2" in first["next"]
    second = api.get(first["next"], headers=host_headers).get_json()
    assert [item["id"] for item in second["items"]] == [visits[0].id]
    assert second["next"] is None
    too_many = api.get("/api/v1/visits?per_page=500", headers=host_headers)
    assert_field_error(too_many, "per_page")


def test_token_user_not_session_user_decides(app, host_user, two_hosts_visits):
    # Logged in to the pages as one host, calling the API with another host's token.
    mine, theirs, other = two_hosts_visits
    client = app.test_client(user=host_user)
    body = client.get("/api/v1/visits", headers=bearer(other)).get_json()
    assert [item["id"] for item in body["items"]] == [theirs.id]


# --- PATCH / DELETE ---------------------------------------------------------------------------


@pytest.fixture
def enrolled_visit(host_user, access_level):
    return make_visit(
        host_user, access_level, state=VisitState.ENROLLED.value, hik_person_id="P-42"
    )


def test_patch_changes_the_window_and_answers_the_new_job(
    api, host_headers, enrolled_visit, redis_conn
):
    (starts_at, ends_at), (start, end) = window(length=timedelta(hours=8))
    response = api.patch(
        f"/api/v1/visits/{enrolled_visit.id}",
        json={"starts_at": starts_at, "ends_at": ends_at},
        headers=host_headers,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()
    assert datetime.fromisoformat(data["ends_at"]) == end
    record = db.session.get(JobRecord, data["job"]["id"])
    assert record.kind == "update_validity"
    assert Job.fetch(record.rq_job_id, connection=redis_conn).func_name == (
        "jobs.enroll.update_validity"
    )
    db.session.expire_all()
    assert db.session.get(Visit, enrolled_visit.id).ends_at == end


def test_patch_only_the_end(api, host_headers, enrolled_visit):
    new_end = enrolled_visit.ends_at + timedelta(hours=1)
    response = api.patch(
        f"/api/v1/visits/{enrolled_visit.id}",
        json={"ends_at": new_end.isoformat()},
        headers=host_headers,
    )
    assert response.status_code == 200
    data = response.get_json()
    assert datetime.fromisoformat(data["ends_at"]) == new_end
    assert datetime.fromisoformat(data["starts_at"]) == enrolled_visit.starts_at


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ends_at": "2030-01-01T10:00"}, "ends_at"),
        ({"starts_at": 5}, "starts_at"),
        ({"state": "left"}, "state"),
        ({}, "body"),
    ],
)
def test_patch_names_the_bad_field(api, host_headers, enrolled_visit, body, field):
    response = api.patch(f"/api/v1/visits/{enrolled_visit.id}", json=body, headers=host_headers)
    assert_field_error(response, field)


def test_patch_end_before_start(api, host_headers, enrolled_visit):
    earlier = enrolled_visit.starts_at - timedelta(minutes=1)
    response = api.patch(
        f"/api/v1/visits/{enrolled_visit.id}",
        json={"ends_at": earlier.isoformat()},
        headers=host_headers,
    )
    assert_field_error(response, "ends_at")


def test_patch_of_another_hosts_visit_is_404(api, host_headers, two_hosts_visits):
    _, theirs, _ = two_hosts_visits
    response = api.patch(
        f"/api/v1/visits/{theirs.id}", json={"ends_at": "2030-01-01T10:00Z"}, headers=host_headers
    )
    assert response.status_code == 404


def test_security_may_read_but_not_change(api, security_headers, enrolled_visit):
    response = api.delete(f"/api/v1/visits/{enrolled_visit.id}", headers=security_headers)
    assert response.status_code == 403
    assert response.get_json()["error"]


def test_delete_cancels_and_answers_the_revoke_job(api, host_headers, enrolled_visit, redis_conn):
    response = api.delete(f"/api/v1/visits/{enrolled_visit.id}", headers=host_headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()
    assert data["state"] == "cancelled"
    record = db.session.get(JobRecord, data["job"]["id"])
    assert record.kind == "revoke_visit"
    assert Job.fetch(record.rq_job_id, connection=redis_conn).args == (enrolled_visit.id,)


def test_delete_twice_is_409(api, host_headers, enrolled_visit):
    assert (
        api.delete(f"/api/v1/visits/{enrolled_visit.id}", headers=host_headers).status_code == 200
    )
    again = api.delete(f"/api/v1/visits/{enrolled_visit.id}", headers=host_headers)
    assert again.status_code == 409
    assert "cancelled" in again.get_json()["error"]


def test_admin_may_cancel_any_visit(api, admin_headers, enrolled_visit):
    response = api.delete(f"/api/v1/visits/{enrolled_visit.id}", headers=admin_headers)
    assert response.status_code == 200


# --- GET /jobs/<id> -------------------------------------------------------------------------


def registered_job(api, headers, access_level):
    response = api.post("/api/v1/visits", json=payload(access_level), headers=headers)
    assert response.status_code == 201
    return response.get_json()["job"]


def test_get_own_job(api, host_headers, access_level):
    link = registered_job(api, host_headers, access_level)
    response = api.get(link["url"], headers=host_headers)
    assert response.status_code == 200
    data = response.get_json()
    assert data["id"] == link["id"]
    assert data["kind"] == "enroll_visit"
    assert data["state"] == "queued"
    assert data["progress"]["done"] == 0 and "total" in data["progress"]
    assert data["result"] is None and data["error"] is None


def test_host_cannot_see_another_hosts_job(api, host_headers, access_level):
    other = make_user(email="job-owner@example.test")
    link = registered_job(api, bearer(other), access_level)
    assert api.get(link["url"], headers=host_headers).status_code == 404


def test_host_sees_the_jobs_about_own_visits(
    api, host_headers, admin_headers, security_headers, access_level
):
    link = registered_job(api, host_headers, access_level)
    visit_id = api.get(link["url"], headers=host_headers).get_json()["subject"]["id"]
    db.session.get(Visit, visit_id).hik_person_id = "P-7"
    db.session.commit()
    cancelled = api.delete(f"/api/v1/visits/{visit_id}", headers=admin_headers).get_json()
    cancel_url = cancelled["job"]["url"]
    response = api.get(cancel_url, headers=host_headers)
    assert response.status_code == 200
    assert response.get_json()["kind"] == "revoke_visit"
    assert api.get(cancel_url, headers=security_headers).status_code == 200
    other = make_user(email="someone-else@example.test")
    assert api.get(cancel_url, headers=bearer(other)).status_code == 404


def test_security_sees_any_job(api, host_headers, security_headers, access_level):
    link = registered_job(api, host_headers, access_level)
    assert api.get(link["url"], headers=security_headers).status_code == 200


def test_unknown_job_is_404(api, host_headers):
    assert api.get("/api/v1/jobs/424242", headers=host_headers).status_code == 404


def test_guests_are_not_created_by_refused_requests(api, host_headers, access_level):
    api.post("/api/v1/visits", json=payload(access_level, starts_at=1), headers=host_headers)
    assert db.session.scalar(select(func.count()).select_from(Guest)) == 0


def test_list_items_carry_the_latest_job(api, host_headers, access_level):
    first = api.post("/api/v1/visits", json=payload(access_level), headers=host_headers)
    visit_id = first.get_json()["id"]
    cancelled = api.delete(f"/api/v1/visits/{visit_id}", headers=host_headers).get_json()
    items = api.get("/api/v1/visits", headers=host_headers).get_json()["items"]
    single = api.get(f"/api/v1/visits/{visit_id}", headers=host_headers).get_json()
    assert items[0]["job"] == single["job"]
    assert items[0]["state"] == cancelled["state"] == "cancelled"


def test_multipart_with_a_file_that_is_not_an_image(api, host_headers, access_level):
    (starts_at, ends_at), _ = window()
    form = {
        "full_name": "Alan Turing",
        "starts_at": starts_at,
        "ends_at": ends_at,
        "access_level": str(access_level.id),
        "photo": (io.BytesIO(b"%PDF-1.4 not a photo"), "face.jpg", "image/jpeg"),
    }
    response = api.post(
        "/api/v1/visits", data=form, headers=host_headers, content_type="multipart/form-data"
    )
    assert_field_error(response, "photo")
    assert visit_count() == 0


def test_multipart_without_a_name(api, host_headers, access_level):
    (starts_at, ends_at), _ = window()
    form = {
        "starts_at": starts_at,
        "ends_at": ends_at,
        "access_level": str(access_level.id),
        "photo": (io.BytesIO(face_jpeg()), "face.jpg", "image/jpeg"),
    }
    response = api.post(
        "/api/v1/visits", data=form, headers=host_headers, content_type="multipart/form-data"
    )
    assert_field_error(response, "guest.full_name")
