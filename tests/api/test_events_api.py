"""API: create an event, upload its guest sheet, confirm, follow the import."""

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Event, GuestImport, Role, Visit, utcnow
from tests.api.conftest import bearer
from tests.events.imports_support import (
    guest_rows,
    make_event,
    photos_zip,
    run_worker,
    sheet,
)
from tests.fixtures.factories import make_user
from tests.fixtures.sheets import zip_bomb


@pytest.fixture
def organizer_headers(organizer_user):
    return bearer(organizer_user)


@pytest.fixture
def event(organizer_user, level):
    return make_event(organizer_user, level)


def upload(api, event, headers, data, filename="guests.csv", photos=None):
    form = {"file": (io.BytesIO(data), filename)}
    if photos is not None:
        form["photos"] = (io.BytesIO(photos), "photos.zip")
    return api.post(
        f"/api/v1/events/{event.id}/imports",
        data=form,
        headers=headers,
        content_type="multipart/form-data",
    )


def staged(api, event, headers, data, **kwargs):
    """Upload, let the staging job run, then GET the import: its body."""
    response = upload(api, event, headers, data, **kwargs)
    assert response.status_code == 202, response.get_json()
    run_worker(api.application.extensions["redis"])
    return api.get(response.headers["Location"], headers=headers).get_json()


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_create_event(api, organizer_headers, level):
    start = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    body = {
        "name": "Launch",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=6)).isoformat(),
        "access_level": level.id,
    }
    response = api.post("/api/v1/events", json=body, headers=organizer_headers)
    assert response.status_code == 201
    data = response.get_json()
    assert data["name"] == "Launch" and data["access_level"] == level.id
    assert data["starts_at"] == start.isoformat()
    assert db.session.get(Event, data["id"]).name == "Launch"


def test_create_event_names_bad_fields(api, organizer_headers):
    body = {"name": "", "starts_at": "tomorrow", "ends_at": "2030-01-01T10:00:00"}
    response = api.post("/api/v1/events", json=body, headers=organizer_headers)
    assert response.status_code == 400
    fields = response.get_json()["fields"]
    assert set(fields) == {"starts_at", "ends_at", "access_level"}
    body = {
        "name": " ",
        "starts_at": "2030-01-01T10:00:00+00:00",
        "ends_at": "2030-01-01T09:00:00+00:00",
        "access_level": 999,
    }
    fields = api.post("/api/v1/events", json=body, headers=organizer_headers).get_json()["fields"]
    assert set(fields) == {"name", "ends_at", "access_level"}
    assert count(Event) == 0


def test_hosts_may_not_create_events_or_imports(api, host_user, event):
    headers = bearer(host_user)
    assert api.post("/api/v1/events", json={}, headers=headers).status_code == 403
    assert upload(api, event, headers, sheet(guest_rows(1))).status_code == 403


def test_upload_answers_202_and_the_import_is_then_validated_with_row_errors(
    api, organizer_headers, event, redis_conn
):
    rows = guest_rows(3, with_photos=True)
    rows[1][1] = "nope@"
    response = upload(
        api, event, organizer_headers, sheet(rows), photos=photos_zip(["g0.jpg", "g1.jpg"])
    )
    assert response.status_code == 202
    accepted = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/imports/{accepted['id']}")
    assert (accepted["state"], accepted["rows_total"], accepted["preview"]) == ("staging", 0, [])
    assert accepted["job"]["state"] == "queued"

    run_worker(redis_conn)
    data = api.get(response.headers["Location"], headers=organizer_headers).get_json()
    assert data["state"] == "validated" and data["reason"] is None
    assert (data["rows_total"], data["rows_valid"], data["rows_invalid"]) == (3, 1, 2)
    by_row = {(e["row"], e["column"]) for e in data["rows"]}
    assert by_row == {(3, "email"), (4, "photo")}
    assert [row["full_name"] for row in data["preview"]] == ["Guest Number0 Tester"]
    assert data["job"]["state"] == "finished"
    job = api.get(data["job"]["url"], headers=organizer_headers).get_json()
    assert job["kind"] == "stage_import" and job["result"]["rows_valid"] == 1


@pytest.mark.parametrize(
    ("data", "filename", "photos", "field", "words"),
    [
        (b"full_name\nAda\n", "guests.docx", None, "file", "upload a CSV"),
        (None, "guests.csv", b"", "photos", "is empty"),
    ],
)
def test_what_is_not_a_sheet_is_a_400_naming_it(
    api, organizer_headers, event, data, filename, photos, field, words
):
    data = data if data is not None else sheet(guest_rows(1, with_photos=True))
    response = upload(api, event, organizer_headers, data, filename, photos=photos)
    assert response.status_code == 400
    body = response.get_json()
    assert words in body["error"]
    assert body["fields"] == {field: body["error"]}
    assert isinstance(body["rows"], list)
    assert count(GuestImport) == 0


@pytest.mark.parametrize(
    ("data", "filename", "photos", "words"),
    [
        (b"", "guests.csv", None, "is empty"),
        (b"%PDF-1.7", "guests.csv", None, "PDF"),
        (b"PK\x03\x04broken", "guests.xlsx", None, "damaged"),
        (b"email\nx@example.com\n", "guests.csv", None, "name column"),
        (None, "guests.csv", zip_bomb(), "ZIP bomb"),
        (None, "guests.csv", b"not a zip", "not a valid ZIP"),
    ],
)
def test_a_file_the_staging_cannot_read_ends_the_import_failed_with_the_reason(
    api, organizer_headers, event, data, filename, photos, words
):
    data = data if data is not None else sheet(guest_rows(1, with_photos=True))
    body = staged(api, event, organizer_headers, data, filename=filename, photos=photos)
    assert body["state"] == "failed" and words in body["reason"]
    assert (body["rows_valid"], body["preview"]) == (0, [])
    assert body["job"]["state"] == "failed" and body["job"]["error"] == body["reason"]


def test_no_name_column_gives_the_header_row(api, organizer_headers, event):
    body = staged(api, event, organizer_headers, b"email;phone\nx@example.com;\n")
    assert body["rows"][0]["row"] == 1


def test_upload_needs_multipart(api, organizer_headers, event):
    response = api.post(
        f"/api/v1/events/{event.id}/imports", json={"file": "x"}, headers=organizer_headers
    )
    assert response.status_code == 400
    assert "multipart" in response.get_json()["error"]


def test_confirm_then_follow_to_the_end(api, organizer_headers, event, redis_conn):
    data = staged(api, event, organizer_headers, sheet(guest_rows(3)))
    response = api.post(f"/api/v1/imports/{data['id']}/confirm", headers=organizer_headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["state"] == "confirmed"
    assert body["job"]["url"] == f"/api/v1/jobs/{body['job']['id']}"
    assert body["visits"] == {"pending": 3}

    again = api.post(f"/api/v1/imports/{data['id']}/confirm", headers=organizer_headers)
    assert again.status_code == 409
    assert "already confirmed" in again.get_json()["error"]

    run_worker(redis_conn)

    body = api.get(f"/api/v1/imports/{data['id']}", headers=organizer_headers).get_json()
    assert body["state"] == "done"
    assert body["visits"] == {"enrolled": 3}
    assert body["job"]["state"] == "finished"
    assert body["job"]["progress"] == {"done": 3, "failed": 0, "total": 3}
    job = api.get(body["job"]["url"], headers=organizer_headers).get_json()
    assert job["kind"] == "enroll_import" and job["state"] == "finished"
    assert count(Visit) == 3


def test_other_organizers_get_404(app, api, organizer_headers, event):
    data = upload(api, event, organizer_headers, sheet(guest_rows(1))).get_json()
    other = bearer(make_user(Role.ORGANIZER))
    assert api.get(f"/api/v1/imports/{data['id']}", headers=other).status_code == 404
    assert api.post(f"/api/v1/imports/{data['id']}/confirm", headers=other).status_code == 404
    assert upload(api, event, other, sheet(guest_rows(1))).status_code == 404
    admin = bearer(make_user(Role.ADMIN))
    assert api.get(f"/api/v1/imports/{data['id']}", headers=admin).status_code == 200


def test_no_token_is_401(api, event):
    assert api.get("/api/v1/imports/1").status_code == 401
    assert upload(api, event, {}, sheet(guest_rows(1))).status_code == 401
