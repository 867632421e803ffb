"""Uploads over the limit are refused with 413 before they are read; sheets get a larger limit."""

import io

import pytest

from tests.fixtures.app import csrf_token


@pytest.fixture
def app_config(app_config):
    return app_config | {"MAX_CONTENT_LENGTH": 64 * 1024, "MAX_IMPORT_UPLOAD": 512 * 1024}


def test_a_photo_over_the_limit_is_refused(host_client, access_level):
    token = csrf_token(host_client, "/visits/new")
    data = {"csrf_token": token, "full_name": "Ada", "photo": (io.BytesIO(b"x" * 200_000), "a.jpg")}
    response = host_client.post("/visits/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 413


def test_a_sheet_upload_may_be_larger(app, organizer_client, organizer_user, access_level):
    from datetime import timedelta

    from portal.models import utcnow
    from portal.services.events import create_event

    start = utcnow() + timedelta(days=1)
    event = create_event(
        organizer_user,
        name="Expo",
        location=None,
        starts_at=start,
        ends_at=start + timedelta(hours=8),
        access_level=access_level,
    )
    token = csrf_token(organizer_client, f"/events/{event.id}")
    sheet = b"full_name;email\nAda Lovelace;ada@example.test\n" + b"\n" * 150_000
    data = {"csrf_token": token, "file": (io.BytesIO(sheet), "guests.csv")}
    response = organizer_client.post(
        f"/events/{event.id}/imports", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 303
    assert "/imports/" in response.headers["Location"]

    data = {"csrf_token": token, "file": (io.BytesIO(b"x" * 600_000), "guests.csv")}
    response = organizer_client.post(
        f"/events/{event.id}/imports", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 413
