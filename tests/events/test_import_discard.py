"""Discarding an abandoned guest list: its row and stored photos go, visits are never touched."""

import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import GuestImport, ImportState, Role, Visit
from portal.services import imports
from portal.services.imports import ImportStateError
from tests.events.imports_support import (
    guest_rows,
    make_event,
    photos_zip,
    run_worker,
    sheet,
    stage_upload,
    upload,
)
from tests.fixtures.app import client_for, csrf_token
from tests.fixtures.factories import make_user


@pytest.fixture
def event(app, organizer_user, access_level):
    return make_event(organizer_user, access_level)


def stage_with_photos(event, user, count=2):
    names = [f"g{n}.jpg" for n in range(count)]
    return stage_upload(
        event,
        user,
        upload(sheet(guest_rows(count, with_photos=True)), "guests.csv"),
        upload(photos_zip(names), "photos.zip"),
    )


def import_count():
    return db.session.scalar(select(func.count()).select_from(GuestImport))


def stored_files(app):
    root = Path(app.config["IMPORT_FILES_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_discard_deletes_the_row_and_its_photo_archive(app, event, organizer_user):
    keep = stage_with_photos(event, organizer_user)
    guest_import = stage_with_photos(event, organizer_user)
    folder = Path(guest_import.photos_path).parent
    assert folder.is_dir()

    imports.discard_import(guest_import)

    assert not folder.exists()
    assert import_count() == 1
    # The other upload and its archive are left alone.
    assert stored_files(app) == [Path(keep.photos_path)]
    assert db.session.get(GuestImport, keep.id) is not None


def test_a_confirmed_import_cannot_be_discarded(app, event, organizer_user, redis_conn):
    guest_import = stage_with_photos(event, organizer_user)
    imports.confirm_import(guest_import, organizer_user)
    guest_import = db.session.get(GuestImport, guest_import.id)
    with pytest.raises(ImportStateError) as caught:
        imports.discard_import(guest_import)
    assert "cannot be discarded" in caught.value.message
    assert import_count() == 1
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 2


def test_an_import_with_visits_is_never_deleted_whatever_its_state_says(
    app, event, organizer_user, redis_conn
):
    guest_import = stage_with_photos(event, organizer_user)
    imports.confirm_import(guest_import, organizer_user)
    # Even a row wrongly put back to "validated" keeps its visits and itself.
    guest_import = db.session.get(GuestImport, guest_import.id)
    guest_import.state = ImportState.VALIDATED
    db.session.commit()
    with pytest.raises(ImportStateError):
        imports.discard_import(guest_import)
    assert import_count() == 1
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 2


def test_an_expired_upload_can_be_discarded_and_not_confirmed(app, event, organizer_user):
    guest_import = stage_upload(event, organizer_user, upload(sheet(guest_rows(1)), "guests.csv"))
    guest_import.state = ImportState.EXPIRED
    db.session.commit()
    with pytest.raises(ImportStateError) as caught:
        imports.confirm_import(guest_import, organizer_user)
    assert "expired" in caught.value.message
    imports.discard_import(guest_import)
    assert import_count() == 0


# --- the page ----------------------------------------------------------------------------------


def post_upload(client, event, rows):
    form = {
        "csrf_token": csrf_token(client, f"/events/{event.id}"),
        "file": (io.BytesIO(sheet(rows)), "guests.csv"),
    }
    response = client.post(
        f"/events/{event.id}/imports", data=form, content_type="multipart/form-data"
    )
    run_worker(client.application.extensions["redis"])  # the staging job
    return response


def latest_import():
    db.session.expire_all()
    return db.session.scalars(select(GuestImport).order_by(GuestImport.id.desc())).first()


def test_the_page_offers_discard_with_a_confirm_prompt(organizer_client, event):
    post_upload(organizer_client, event, guest_rows(2))
    url = f"/imports/{latest_import().id}"
    page = organizer_client.get(url).get_data(as_text=True)
    assert f'action="{url}/discard"' in page
    assert 'data-confirm="Discard this upload?' in page


def test_discard_from_the_page_returns_to_a_clean_event_page(organizer_client, event):
    post_upload(organizer_client, event, guest_rows(2))
    guest_import = latest_import()
    url = f"/imports/{guest_import.id}"
    response = organizer_client.post(
        f"{url}/discard", data={"csrf_token": csrf_token(organizer_client, url)}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/events/{event.id}")
    page = organizer_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "guests.csv was discarded" in page
    assert f'href="{url}"' not in page and "<h3>Imports</h3>" not in page
    assert import_count() == 0
    assert organizer_client.get(url).status_code == 404


def test_discard_of_a_confirmed_list_is_refused_on_the_page(
    organizer_client, event, organizer_user, redis_conn
):
    post_upload(organizer_client, event, guest_rows(1))
    guest_import = latest_import()
    imports.confirm_import(guest_import, organizer_user)
    url = f"/imports/{guest_import.id}"
    page = organizer_client.get(url).get_data(as_text=True)
    assert "/discard" not in page
    response = organizer_client.post(
        f"{url}/discard", data={"csrf_token": csrf_token(organizer_client, url)}
    )
    assert response.headers["Location"].endswith(url)
    assert "cannot be discarded" in organizer_client.get(url).get_data(as_text=True)
    assert import_count() == 1


def test_discard_needs_csrf(organizer_client, event):
    post_upload(organizer_client, event, guest_rows(1))
    guest_import = latest_import()
    assert organizer_client.post(f"/imports/{guest_import.id}/discard").status_code == 400
    assert import_count() == 1


def test_discard_role_rules(app, organizer_client, host_client, event):
    post_upload(organizer_client, event, guest_rows(1))
    url = f"/imports/{latest_import().id}/discard"
    token = csrf_token(host_client, "/profile")
    assert host_client.post(url, data={"csrf_token": token}).status_code == 403
    other = client_for(app, make_user(Role.ORGANIZER))
    assert other.post(url, data={"csrf_token": csrf_token(other, "/events")}).status_code == 404
    assert import_count() == 1
    admin = client_for(app, make_user(Role.ADMIN))
    assert admin.post(url, data={"csrf_token": csrf_token(admin, "/events")}).status_code == 302
    assert import_count() == 0
