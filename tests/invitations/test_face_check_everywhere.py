"""The face check guards every way a photo comes in: the host's form, the API, a sheet."""

import base64
import io

from markupsafe import escape
from PIL import Image
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Visit
from portal.services import face_check
from tests.api.conftest import bearer
from tests.api.test_visits import payload
from tests.events.imports_support import guest_rows, make_event, sheet, stage_upload, upload
from tests.fixtures.sheets import zip_bytes
from tests.invitations.test_host_pages import register


def blank_white():
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (255, 255, 255)).save(buf, "JPEG")
    return buf.getvalue()


def test_the_host_form_refuses_a_photo_without_a_face(host_client, level):
    response = register(host_client, level, photo=(io.BytesIO(blank_white()), "white.jpg"))
    assert response.status_code == 422
    assert str(escape(face_check.NO_FACE)) in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 0


def test_the_api_refuses_a_photo_without_a_face(app, level, host_user):
    body = payload(level, photo=base64.b64encode(blank_white()).decode())
    response = app.test_client().post("/api/v1/visits", json=body, headers=bearer(host_user))
    assert response.status_code == 400
    assert response.get_json()["fields"]["photo"] == face_check.NO_FACE


def test_a_sheet_row_with_a_faceless_photo_is_an_error_of_its_row(app, organizer_user, level):
    event = make_event(organizer_user, level)
    rows = guest_rows(1, with_photos=True)
    archive = zip_bytes({"g0.jpg": blank_white()})
    guest_import = stage_upload(
        event, organizer_user, upload(sheet(rows), "guests.csv"), upload(archive, "photos.zip")
    )
    assert guest_import.rows_valid == 0
    [error] = guest_import.errors
    assert error["row"] == 2 and error["column"].lower() == "photo"
    assert error["message"] == f"g0.jpg: {face_check.NO_FACE}"
