"""Guest imports: staging (validation, nothing written on bad files), confirm, retry, purge."""

import json
import stat
from pathlib import Path

import pytest
from rq import Queue
from sqlalchemy import func, select, text

from portal import queue
from portal.extensions import db
from portal.models import Guest, GuestImport, ImportState, JobRecord, JobState, Visit
from portal.services import import_enrollment, import_files, imports
from portal.services.imports import ImportFileError, ImportStateError
from portal.services.jobs import JobFailure
from tests.events.imports_support import (
    guest_rows,
    make_event,
    photos_zip,
    sheet,
    stage_upload,
    upload,
)
from tests.fixtures.sheets import xlsx_bytes, zip_bomb, zip_bytes


@pytest.fixture
def event(app, organizer_user, access_level):
    return make_event(organizer_user, access_level)


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def stored_files(app):
    root = Path(app.config["IMPORT_FILES_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def stage(event, user, rows, *, photos=None, filename="guests.csv"):
    photos_file = upload(photos, "photos.zip") if photos is not None else None
    return stage_upload(event, user, upload(sheet(rows), filename), photos_file)


def test_stage_keeps_valid_rows_and_every_error_by_row_and_column(app, event, organizer_user):
    rows = guest_rows(3)
    rows[1][1] = "not-an-email"
    rows.append(["", "x@example.com", "", "", ""])
    guest_import = stage(event, organizer_user, rows)

    assert guest_import.state == ImportState.VALIDATED
    assert (guest_import.rows_total, guest_import.rows_valid, guest_import.rows_invalid) == (
        4,
        2,
        2,
    )
    by_row = {e["row"]: e for e in guest_import.errors}
    assert by_row[3]["column"] == "email"
    assert "not a valid e-mail" in by_row[3]["message"]
    assert by_row[5]["column"] == "full_name"
    assert [r["full_name"] for r in guest_import.valid_rows] == [
        "Guest Number0 Tester",
        "Guest Number2 Tester",
    ]
    # JSON-safe: ISO times, no bytes; the default window is the event's.
    json.dumps(guest_import.valid_rows)
    first = imports.preview_rows(guest_import)[0]
    assert (first.starts_at, first.ends_at) == (event.starts_at, event.ends_at)
    assert count(Visit) == 0 and count(Guest) == 0


def test_stage_keeps_the_photo_archive_privately(app, event, organizer_user):
    names = ["g0.jpg", "g1.jpg"]
    guest_import = stage(
        event, organizer_user, guest_rows(2, with_photos=True), photos=photos_zip(names)
    )
    assert guest_import.rows_valid == 2
    assert [r["photo_name"] for r in guest_import.valid_rows] == names
    path = Path(guest_import.photos_path)
    assert path.is_file() and path.name == "photos.zip"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.parent.parent == Path(app.config["IMPORT_FILES_DIR"])


def test_a_missing_photo_is_a_row_error_and_an_unused_archive_is_not_kept(
    app, event, organizer_user
):
    rows = guest_rows(1, with_photos=True)
    guest_import = stage(event, organizer_user, rows, photos=photos_zip(["other.jpg"]))
    assert guest_import.rows_valid == 0
    [error] = guest_import.errors
    assert (error["row"], error["column"]) == (2, "photo")
    assert "not in the photo archive" in error["message"]
    assert guest_import.photos_path is None
    assert stored_files(app) == []


def test_the_upload_only_stores_the_files_and_staging_reads_them(app, event, organizer_user):
    stored = imports.store_upload(
        event,
        organizer_user,
        upload(sheet(guest_rows(2, with_photos=True)), "Guests.CSV"),
        upload(photos_zip(["g0.jpg", "g1.jpg"]), "photos.zip"),
    )
    assert (stored.state, stored.rows_total, stored.valid_rows) == ("staging", 0, [])
    sheet_file, photos_file = Path(stored.sheet_path), Path(stored.photos_path)
    assert sheet_file.parent == photos_file.parent and sheet_file.name == "sheet.csv"
    assert stat.S_IMODE(sheet_file.stat().st_mode) == 0o600

    summary = imports.stage_import(stored)
    assert stored.state == "validated"
    assert summary == {
        "import": stored.id,
        "rows_total": 2,
        "rows_valid": 2,
        "rows_invalid": 0,
    }
    # The sheet is read into the rows; the archive waits for the confirm.
    assert stored.sheet_path is None and not sheet_file.exists() and photos_file.is_file()
    # Staging again (a retried job) changes nothing.
    assert imports.stage_import(stored) == summary
    assert len(stored.valid_rows) == 2


# (sheet, file name, words): refused at the upload, before anything is stored.
REFUSED_AT_UPLOAD = [
    (b"full_name\nAda Lovelace\n", "guests.pdf", "upload a CSV or .xlsx"),
    (b"whatever", "guests.xls", "old-format Excel"),
]
# (sheet, file name, words): stored, then refused by the staging job.
REFUSED_BY_STAGING = [
    (b"", "guests.csv", "empty"),
    (b"%PDF-1.4 something", "guests.csv", "PDF"),
    (b"PK\x03\x04 broken workbook", "guests.xlsx", "damaged"),
    (xlsx_bytes([["Notes", "City"], ["a", "b"]]), "guests.xlsx", "guest's name"),
    (b"email;phone\nx@example.com;+7 900 0000000\n", "guests.csv", "name column"),
]


@pytest.mark.parametrize(("data", "filename", "words"), REFUSED_AT_UPLOAD)
def test_what_is_not_a_sheet_is_refused_at_the_upload_and_nothing_written(
    app, event, organizer_user, data, filename, words
):
    with pytest.raises(ImportFileError) as caught:
        imports.store_upload(event, organizer_user, upload(data, filename))
    assert list(caught.value.fields) == ["file"]
    assert words.lower() in caught.value.message.lower()
    assert count(GuestImport) == 0
    assert stored_files(app) == []


@pytest.mark.parametrize(("data", "filename", "words"), REFUSED_BY_STAGING)
def test_a_sheet_that_cannot_be_read_fails_its_staging_with_a_sentence_and_no_file(
    app, event, organizer_user, data, filename, words
):
    stored = imports.store_upload(event, organizer_user, upload(data, filename))
    with pytest.raises(JobFailure) as caught:
        imports.stage_import(stored)
    assert words.lower() in caught.value.message.lower()
    failed = db.session.get(GuestImport, stored.id)
    assert (failed.state, failed.state_reason) == ("failed", caught.value.message)
    assert failed.rows_valid == 0 and failed.sheet_path is None
    assert stored_files(app) == []
    # Nothing to confirm; the organizer may discard it.
    with pytest.raises(ImportStateError, match="upload the guest sheet again"):
        imports.confirm_import(failed, organizer_user)
    imports.discard_import(failed)
    assert count(GuestImport) == 0


def test_an_empty_photo_archive_is_refused_at_the_upload(app, event, organizer_user):
    with pytest.raises(ImportFileError) as caught:
        stage(event, organizer_user, guest_rows(1, with_photos=True), photos=b"")
    assert list(caught.value.fields) == ["photos"] and "empty" in caught.value.message
    assert count(GuestImport) == 0
    assert stored_files(app) == []


@pytest.mark.parametrize(
    ("archive", "words"),
    [
        (b"PK\x03\x04 not really a zip", "not a valid ZIP"),
        (b"just text", "not a valid ZIP"),
        (zip_bomb(), "ZIP bomb"),
    ],
)
def test_bad_photo_archives_fail_the_staging_and_are_not_kept(
    app, event, organizer_user, archive, words
):
    with pytest.raises(JobFailure) as caught:
        stage(event, organizer_user, guest_rows(1, with_photos=True), photos=archive)
    assert words.lower() in caught.value.message.lower()
    failed = db.session.scalars(select(GuestImport)).one()
    assert failed.state == "failed" and words.lower() in failed.state_reason.lower()
    assert failed.photos_path is None
    assert stored_files(app) == []


def test_no_sheet_at_all(app, event, organizer_user):
    with pytest.raises(ImportFileError, match="Choose a guest sheet"):
        imports.store_upload(event, organizer_user, None)


def test_a_list_still_being_checked_cannot_be_confirmed_discarded_or_retried(
    app, event, organizer_user
):
    stored = imports.store_upload(event, organizer_user, upload(sheet(guest_rows(1)), "g.csv"))
    with pytest.raises(ImportStateError, match="still being checked"):
        imports.confirm_import(stored, organizer_user)
    with pytest.raises(ImportStateError, match="cannot be discarded"):
        imports.discard_import(stored)
    with pytest.raises(ImportStateError, match="Confirm the guest list first"):
        imports.retry_failed(stored, organizer_user)
    assert db.session.get(GuestImport, stored.id).state == "staging"


def test_confirm_writes_every_visit_then_enqueues_after_the_commit(
    app, event, organizer_user, monkeypatch, redis_conn
):
    guest_import = stage(
        event,
        organizer_user,
        guest_rows(3, with_photos=True),
        photos=photos_zip(["g0.jpg", "g1.jpg", "g2.jpg"]),
    )
    seen = {}
    real_enqueue = queue.enqueue

    def watching_enqueue(*args, **kwargs):
        # What another connection (a fast worker) sees at the moment of the enqueue.
        with db.engine.connect() as other:
            seen["visits"] = other.execute(text("select count(*) from visits")).scalar()
        return real_enqueue(*args, **kwargs)

    monkeypatch.setattr(queue, "enqueue", watching_enqueue)
    record = imports.confirm_import(guest_import, organizer_user)

    assert seen["visits"] == 3
    assert record.kind == "enroll_import"
    assert (record.subject_type, record.subject_id) == ("import", guest_import.id)
    assert record.call["func"] == "jobs.imports.enroll_import"
    assert Queue("default", connection=redis_conn).job_ids == [record.rq_job_id]
    db.session.expire_all()
    guest_import = db.session.get(GuestImport, guest_import.id)
    assert guest_import.state == ImportState.CONFIRMED
    assert guest_import.job_id == record.id
    visits = db.session.scalars(select(Visit).order_by(Visit.id)).all()
    assert {v.state for v in visits} == {"pending"}
    for visit in visits:
        assert visit.import_id == guest_import.id
        assert visit.event_id == event.id
        assert visit.host_id == organizer_user.id
        assert visit.access_level_id == event.access_level_id
        assert (visit.starts_at, visit.ends_at) == (event.starts_at, event.ends_at)
        assert visit.guest_key and visit.guest.photo.startswith(b"\xff\xd8")
        assert visit.history[0].reason == "Imported from guests.csv."
    # The photos live in the guests now; the uploaded archive is gone.
    assert guest_import.photos_path is None
    assert stored_files(app) == []


def test_confirm_is_one_transaction(app, event, organizer_user, monkeypatch, redis_conn):
    guest_import = stage(
        event,
        organizer_user,
        guest_rows(3, with_photos=True),
        photos=photos_zip(["g0.jpg", "g1.jpg", "g2.jpg"]),
    )
    calls = []
    real = imports.normalize_photo

    def breaks_on_third(data):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return real(data)

    monkeypatch.setattr(imports, "normalize_photo", breaks_on_third)
    with pytest.raises(RuntimeError):
        imports.confirm_import(guest_import, organizer_user)
    assert count(Visit) == 0 and count(Guest) == 0 and count(JobRecord) == 0
    assert db.session.get(GuestImport, guest_import.id).state == ImportState.VALIDATED


def test_confirming_twice_is_refused(app, event, organizer_user, redis_conn):
    guest_import = stage(event, organizer_user, guest_rows(2))
    imports.confirm_import(guest_import, organizer_user)
    with pytest.raises(ImportStateError, match="already confirmed"):
        imports.confirm_import(guest_import, organizer_user)
    assert count(Visit) == 2 and count(JobRecord) == 1


def test_a_list_without_valid_rows_cannot_be_confirmed(app, event, organizer_user):
    guest_import = stage(event, organizer_user, [["", "a@example.com", "", "", ""]])
    with pytest.raises(ImportStateError, match="no valid rows"):
        imports.confirm_import(guest_import, organizer_user)


def test_uploading_the_same_sheet_again_adds_no_duplicates(app, event, organizer_user, redis_conn):
    rows = guest_rows(4)
    first = stage(event, organizer_user, rows)
    second = stage(event, organizer_user, rows)  # staged before the first was confirmed
    imports.confirm_import(first, organizer_user)
    imports.confirm_import(second, organizer_user)
    assert count(Visit) == 4 and count(Guest) == 4

    third = stage(event, organizer_user, [*rows, *guest_rows(1, start=10)])
    assert third.rows_valid == 1
    assert sum("Already registered" in e["message"] for e in third.errors) == 4
    # The same guest written differently (case, phone as 8...) is still the same guest.
    again = stage(event, organizer_user, [["guest number0 TESTER", "", "8 900 0000000", "", ""]])
    assert again.rows_valid == 0
    assert "Already registered" in again.errors[0]["message"]


def retry_offered(guest_import):
    return imports.retry_offered(guest_import, import_enrollment.state_counts(guest_import))


def test_retry_failed_puts_failed_guests_back_and_enqueues(app, event, organizer_user, redis_conn):
    guest_import = stage(event, organizer_user, guest_rows(2))
    assert not retry_offered(guest_import)  # not confirmed yet
    first_job = imports.confirm_import(guest_import, organizer_user)
    assert not retry_offered(guest_import)  # its job is still queued
    with pytest.raises(ImportStateError, match="still running"):
        imports.retry_failed(guest_import, organizer_user)
    first_job.state = JobState.FINISHED.value
    visit = db.session.scalars(select(Visit)).first()
    visit.state = "failed"
    visit.state_reason = "HikCentral refused the photo."
    db.session.commit()

    assert retry_offered(guest_import)
    record = imports.retry_failed(guest_import, organizer_user)
    assert record.id != first_job.id and guest_import.job_id == record.id
    assert db.session.get(Visit, visit.id).state == "pending"
    assert guest_import.state == ImportState.CONFIRMED


def test_retry_without_failures_is_refused(app, event, organizer_user, redis_conn):
    guest_import = stage(event, organizer_user, guest_rows(1))
    record = imports.confirm_import(guest_import, organizer_user)
    record.state = JobState.FINISHED.value
    db.session.execute(text("update visits set state = 'enrolled'"))
    db.session.commit()
    assert not retry_offered(guest_import)
    with pytest.raises(ImportStateError, match="No guest"):
        imports.retry_failed(guest_import, organizer_user)


def test_purge_only_deletes_our_own_folder(app, event, organizer_user, tmp_path):
    outside = tmp_path / "elsewhere" / "photos.zip"
    outside.parent.mkdir()
    outside.write_bytes(zip_bytes({"a.jpg": b"x"}))
    guest_import = stage(event, organizer_user, guest_rows(1))
    guest_import.photos_path = str(outside)
    assert import_files.purge_import_files(guest_import) is True
    assert outside.exists() and guest_import.photos_path is None


@pytest.mark.slow
def test_a_5000_row_sheet_is_staged_and_confirmed_in_bounded_memory(
    app, event, organizer_user, redis_conn, monkeypatch
):
    from tests.fixtures.sheets import big_xlsx_bytes

    guest_import = stage_upload(event, organizer_user, upload(big_xlsx_bytes(5000), "big.xlsx"))
    assert (guest_import.rows_total, guest_import.rows_valid) == (5000, 5000)
    held = []
    real = imports._flush_and_release

    def watching(visits):
        real(visits)
        held.append(len(db.session.identity_map))

    monkeypatch.setattr(imports, "_flush_and_release", watching)
    imports.confirm_import(guest_import, organizer_user)
    assert count(Visit) == 5000
    # Written in chunks, and the session lets go of each chunk once it is written.
    assert len(held) == 5000 // imports.CONFIRM_FLUSH_EVERY + 1
    assert max(held) < 50


def test_confirm_releases_photos_chunk_by_chunk(
    app, event, organizer_user, redis_conn, monkeypatch
):
    monkeypatch.setattr(imports, "CONFIRM_FLUSH_EVERY", 4)
    names = [f"g{n}.jpg" for n in range(10)]
    guest_import = stage(
        event, organizer_user, guest_rows(10, with_photos=True), photos=photos_zip(names)
    )
    sizes = []
    real = imports._flush_and_release

    def watching(visits):
        sizes.append(len(visits))
        real(visits)

    monkeypatch.setattr(imports, "_flush_and_release", watching)
    imports.confirm_import(guest_import, organizer_user)
    assert sizes == [4, 4, 2]
    assert (
        db.session.scalar(select(func.count()).select_from(Guest).where(Guest.photo.is_not(None)))
        == 10
    )
