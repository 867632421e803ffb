"""Import pages: upload, preview with errors, errors.csv, confirm, progress, retry, role rules."""

import csv
import io

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import GuestImport, ImportState, JobRecord, Role, Visit
from portal.services import imports
from portal.sheets import validate
from tests.events.imports_support import (
    guest_rows,
    make_event,
    photos_zip,
    run_worker,
    sheet,
)
from tests.fixtures.app import client_for, csrf_token
from tests.fixtures.factories import make_user
from tests.fixtures.sheets import zip_bomb


@pytest.fixture
def event(app, organizer_user, level):
    return make_event(organizer_user, level)


def post_upload(client, event, data, filename="guests.csv", photos=None, token=None, stage=True):
    form = {
        "csrf_token": token or csrf_token(client, f"/events/{event.id}"),
        "file": (io.BytesIO(data), filename),
    }
    if photos is not None:
        form["photos"] = (io.BytesIO(photos), "photos.zip")
    response = client.post(
        f"/events/{event.id}/imports", data=form, content_type="multipart/form-data"
    )
    if stage:
        run_worker(client.application.extensions["redis"])  # the staging job
    return response


def imports_count():
    return db.session.scalar(select(func.count()).select_from(GuestImport))


def latest_import():
    db.session.expire_all()
    return db.session.scalars(select(GuestImport).order_by(GuestImport.id.desc())).first()


def test_upload_shows_the_preview_with_errors_by_row_and_column(organizer_client, event):
    rows = guest_rows(3)
    rows[2][1] = "broken@"
    response = post_upload(organizer_client, event, sheet(rows))
    guest_import = latest_import()
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/imports/{guest_import.id}")

    page = organizer_client.get(f"/imports/{guest_import.id}").get_data(as_text=True)
    assert 'data-count="valid">2<' in page and 'data-count="invalid">1<' in page
    assert "Guest Number0 Tester" in page and "Guest Number1 Tester" in page
    # The problem by row and column, and the CSV of problems.
    assert (
        '<td class="keep-label" data-label="Row">4</td><td data-label="Column">email</td>' in page
    )
    assert "is not a valid e-mail address" in page
    assert f"/imports/{guest_import.id}/errors.csv" in page
    assert "Import 2 guests" in page
    # Local time (Moscow) on the page.
    first = imports.preview_rows(guest_import)[0]
    zone = organizer_client.application.config["TIMEZONE"]
    moment = first.starts_at.astimezone(zone)
    assert f"{moment.day} {moment:%b %Y, %H:%M}" in page


def test_the_upload_answers_at_once_and_the_page_follows_the_staging(
    organizer_client, event, redis_conn, monkeypatch
):
    def not_in_the_request(*args, **kwargs):
        raise AssertionError("the upload request read the sheet or decoded a photo")

    monkeypatch.setattr(validate, "normalize_photo", not_in_the_request)
    monkeypatch.setattr(imports, "read_sheet", not_in_the_request)
    names = ["g0.jpg", "g1.jpg"]
    response = post_upload(
        organizer_client,
        event,
        sheet(guest_rows(2, with_photos=True)),
        photos=photos_zip(names),
        stage=False,
    )
    guest_import = latest_import()
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/imports/{guest_import.id}")
    assert guest_import.state == "staging"
    page = organizer_client.get(f"/imports/{guest_import.id}").get_data(as_text=True)
    assert 'id="staging-note"' in page and "Checking the sheet" in page
    assert f"/jobs/{guest_import.job_id}.json" in page and "job-progress.js" in page
    assert "Import 2 guests" not in page and 'id="discard"' not in page

    monkeypatch.undo()
    run_worker(redis_conn)
    page = organizer_client.get(f"/imports/{guest_import.id}").get_data(as_text=True)
    assert latest_import().state == "validated"
    assert "Import 2 guests" in page and "Guest Number1 Tester" in page
    assert 'id="staging-note"' not in page and "job-progress.js" not in page


def test_the_preview_pages_through_every_valid_row(organizer_client, event):
    post_upload(organizer_client, event, sheet(guest_rows(60)))
    url = f"/imports/{latest_import().id}"

    first = organizer_client.get(url).get_data(as_text=True)
    assert "(1–50 of 60)" in first
    assert "Guest Number49 Tester" in first and "Guest Number50 Tester" not in first
    assert f'href="{url}?rows=2"' in first

    second = organizer_client.get(f"{url}?rows=2").get_data(as_text=True)
    assert "(51–60 of 60)" in second
    assert "Guest Number50 Tester" in second and "Guest Number59 Tester" in second
    assert "Guest Number49 Tester" not in second
    # The sheet's header is row 1: the 60th guest is row 61.
    assert '<td data-label="Row">61</td>' in second


def test_upload_without_csrf_is_refused(organizer_client, event):
    response = organizer_client.post(
        f"/events/{event.id}/imports",
        data={"file": (io.BytesIO(sheet(guest_rows(1))), "guests.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert imports_count() == 0


def test_a_file_that_is_no_sheet_is_explained_on_the_event_page_and_nothing_written(
    organizer_client, event
):
    response = post_upload(organizer_client, event, b"full_name\nAda\n", "guests.exe")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/events/{event.id}")
    page = organizer_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "upload a CSV or .xlsx" in page
    assert imports_count() == 0


@pytest.mark.parametrize(
    ("data", "filename", "photos", "words"),
    [
        (b"", "guests.csv", None, "is empty"),
        (b"PK\x03\x04garbage", "guests.xlsx", None, "damaged Excel file"),
        (b"email\nx@example.com\n", "guests.csv", None, "name column"),
        (None, "guests.csv", b"PK\x03\x04garbage", "not a valid ZIP"),
        (None, "guests.csv", zip_bomb(), "ZIP bomb"),
    ],
)
def test_a_file_its_staging_cannot_read_is_explained_on_the_import_page(
    organizer_client, event, data, filename, photos, words
):
    data = data if data is not None else sheet(guest_rows(1, with_photos=True))
    response = post_upload(organizer_client, event, data, filename, photos=photos)
    guest_import = latest_import()
    assert response.headers["Location"].endswith(f"/imports/{guest_import.id}")
    assert guest_import.state == "failed" and guest_import.valid_rows == []
    page = organizer_client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="staging-failed"' in page and words in page
    assert "Import 1 guest" not in page and 'id="discard"' in page


def test_names_with_html_are_escaped_on_the_preview(organizer_client, event):
    rows = [["<script>alert(1)</script> Evil", "e@example.com", "", "", ""]]
    rows.append(["", "<b>bold</b>@x", "", "", ""])
    post_upload(organizer_client, event, sheet(rows))
    page = organizer_client.get(f"/imports/{latest_import().id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Evil" in page
    assert "<b>bold</b>" not in page


def test_errors_csv_escapes_formulas(organizer_client, event):
    rows = [['=HYPERLINK("http://evil")', "", "", "", ""], ["Ok Name", "=1+2", "", "", ""]]
    rows.append(["Ok Guest", "", "", "", "x.jpg"])
    post_upload(organizer_client, event, sheet(rows))
    guest_import = latest_import()
    response = organizer_client.get(f"/imports/{guest_import.id}/errors.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert table[0] == ["row", "column", "message"]
    assert len(table) == 1 + len(guest_import.errors)
    for _, _, message in table[1:]:
        assert not message.startswith(("=", "+", "-", "@"))
    assert any("=1+2" in message for _, _, message in table[1:])


def test_many_errors_are_paged(organizer_client, event):
    rows = [["", f"x{n}@example.com", "", "", ""] for n in range(130)]
    post_upload(organizer_client, event, sheet(rows))
    guest_import = latest_import()
    first = organizer_client.get(f"/imports/{guest_import.id}").get_data(as_text=True)
    assert first.count("name is empty.") == 100
    assert "Problems (130)" in first and "Nothing to import" in first
    second = organizer_client.get(f"/imports/{guest_import.id}?page=2").get_data(as_text=True)
    assert second.count("name is empty.") == 30


def test_confirm_then_progress_reaches_the_end(organizer_client, event, redis_conn):
    names = [f"g{n}.jpg" for n in range(3)]
    post_upload(
        organizer_client,
        event,
        sheet(guest_rows(3, with_photos=True)),
        photos=photos_zip(names),
    )
    guest_import = latest_import()
    url = f"/imports/{guest_import.id}"
    response = organizer_client.post(
        f"{url}/confirm", data={"csrf_token": csrf_token(organizer_client, url)}
    )
    assert response.status_code == 302
    page = organizer_client.get(url).get_data(as_text=True)
    assert "enrollment has started" in page
    guest_import = latest_import()
    assert guest_import.state == ImportState.CONFIRMED and guest_import.job_id
    assert f"/jobs/{guest_import.job_id}.json" in page and "job-progress.js" in page
    assert "0 of 3" in page or "of 0" in page

    run_worker(redis_conn)

    page = organizer_client.get(url).get_data(as_text=True)
    assert "3 of 3" in page and "Failed guests" not in page
    assert latest_import().state == ImportState.DONE
    # Confirming again is refused politely.
    again = organizer_client.post(
        f"{url}/confirm", data={"csrf_token": csrf_token(organizer_client, url)}
    )
    assert "already confirmed" in organizer_client.get(again.headers["Location"]).get_data(
        as_text=True
    )
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 3


def test_failed_guests_are_listed_and_retried(organizer_client, event, redis_conn):
    post_upload(
        organizer_client,
        event,
        sheet(guest_rows(2, with_photos=True)),
        photos=photos_zip(["g0.jpg", "g1.jpg"]),
    )
    guest_import = latest_import()
    url = f"/imports/{guest_import.id}"
    organizer_client.post(f"{url}/confirm", data={"csrf_token": csrf_token(organizer_client, url)})
    visit = db.session.scalars(select(Visit).order_by(Visit.id)).first()
    good = visit.guest.photo
    visit.guest.photo = b"\xff\xd8 broken"
    db.session.commit()
    run_worker(redis_conn)

    page = organizer_client.get(url).get_data(as_text=True)
    assert "Failed guests (1)" in page
    assert "Guest Number0 Tester" in page and "HikCentral refused the photo" in page
    assert "Retry failed" in page and "2 of 2 · 1 failed" in page

    db.session.expire_all()
    visit = db.session.get(Visit, visit.id)
    visit.guest.photo = good
    db.session.commit()
    response = organizer_client.post(
        f"{url}/retry", data={"csrf_token": csrf_token(organizer_client, url)}
    )
    assert response.status_code == 302
    run_worker(redis_conn)
    db.session.expire_all()
    assert {v.state for v in db.session.scalars(select(Visit))} == {"enrolled"}
    kinds = db.session.scalars(select(JobRecord.kind).order_by(JobRecord.id)).all()
    assert kinds == ["stage_import", "enroll_import", "enroll_import"]
    assert "Failed guests" not in organizer_client.get(url).get_data(as_text=True)


def test_confirm_and_retry_need_csrf(organizer_client, event):
    post_upload(organizer_client, event, sheet(guest_rows(1)))
    guest_import = latest_import()
    assert organizer_client.post(f"/imports/{guest_import.id}/confirm").status_code == 400
    assert organizer_client.post(f"/imports/{guest_import.id}/retry").status_code == 400
    assert latest_import().state == ImportState.VALIDATED


def test_role_rules(app, organizer_client, host_client, event, organizer_user):
    post_upload(organizer_client, event, sheet(guest_rows(1)))
    guest_import = latest_import()
    url = f"/imports/{guest_import.id}"
    # Hosts may not use imports at all.
    assert host_client.get(url).status_code == 403
    assert host_client.get("/imports/template.csv").status_code == 403
    response = post_upload(
        host_client, event, sheet(guest_rows(1)), token=csrf_token(host_client, "/profile")
    )
    assert response.status_code == 403
    # Another organizer does not learn that the import exists.
    other = client_for(app, make_user(Role.ORGANIZER))
    assert other.get(url).status_code == 404
    assert other.get(f"{url}/errors.csv").status_code == 404
    token = csrf_token(other, "/events")
    assert other.post(f"{url}/confirm", data={"csrf_token": token}).status_code == 404
    response = post_upload(other, event, sheet(guest_rows(1)), token=token)
    assert response.status_code == 404
    # An admin may.
    admin = client_for(app, make_user(Role.ADMIN))
    assert admin.get(url).status_code == 200


def test_templates(organizer_client):
    response = organizer_client.get("/imports/template.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.get_data().decode("utf-8-sig").startswith("full_name,")
    ru = organizer_client.get("/imports/template.csv?lang=ru").get_data().decode("utf-8-sig")
    assert ru.startswith("ФИО;")
    xlsx = organizer_client.get("/imports/template.xlsx")
    assert xlsx.status_code == 200 and xlsx.get_data()[:2] == b"PK"
    assert organizer_client.get("/imports/template.pdf").status_code == 404


def test_event_page_links_to_the_import(organizer_client, event):
    post_upload(organizer_client, event, sheet(guest_rows(1)))
    page = organizer_client.get(f"/events/{event.id}").get_data(as_text=True)
    assert f'href="/imports/{latest_import().id}"' in page
    assert "/imports/template.xlsx" in page
    assert f'action="/events/{event.id}/imports"' in page
