"""Staging a guest list in its job: a real SimpleWorker reads the stored files, retries a dead
worker's run without duplicate rows, and a staging that cannot finish ends with a sentence."""

import io
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue
from sqlalchemy import update

import jobs
from portal.models import GuestImport, JobRecord, utcnow
from portal.queue import QUEUE_DOWN_MESSAGE, QueueUnavailable
from portal.services import imports, recovery, retention
from portal.sheets import read_sheet, validate_rows
from tests.events.imports_support import guest_rows, make_event, photos_zip, sheet, upload
from tests.fixtures.sheets import photo, zip_bytes
from tests.jobs.test_enroll_jobs import reload
from tests.jobs.test_recovery import start_on_a_worker_that_dies

N = 8


@pytest.fixture
def event(app, organizer_user, level):
    return make_event(organizer_user, level)


def mixed_sheet():
    """N guests with photos: a bad e-mail, a photo named wrong, a photo missing from the ZIP."""
    rows = guest_rows(N, with_photos=True)
    rows[1][1] = "not-an-email"
    rows[2][4] = "absent.jpg"
    archive = photos_zip([f"g{n}.jpg" for n in range(N) if n != 3])
    return sheet(rows), archive


def uploaded(event, user, data, archive=None):
    photos = upload(archive, "photos.zip") if archive is not None else None
    return imports.upload_import(event, user, upload(data, "guests.csv"), photos)


def files_of(app):
    root = Path(app.config["IMPORT_FILES_DIR"])
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_worker_stages_the_same_rows_and_errors_as_reading_the_sheet_here(
    app, db, work, event, organizer_user
):
    data, archive = mixed_sheet()
    guest_import = uploaded(event, organizer_user, data, archive)
    assert guest_import.state == "staging" and files_of(app) == ["photos.zip", "sheet.csv"]

    work()

    guest_import = reload(db, GuestImport, guest_import.id)
    record = db.session.get(JobRecord, guest_import.job_id)
    assert (record.kind, record.state) == ("stage_import", "finished")
    assert record.result["rows_valid"] == guest_import.rows_valid
    # What validating the same bytes in this process gives, row by row.
    with imports.PhotoArchive(io.BytesIO(archive)) as photos:
        with read_sheet(io.BytesIO(data), "guests.csv") as rows:
            expected = validate_rows(
                rows,
                event_window=(event.starts_at, event.ends_at),
                existing_keys=set(),
                photos=photos,
                now=utcnow(),
                timezone=app.config["TIMEZONE"],
            )
    assert guest_import.state == "validated"
    assert (guest_import.rows_total, guest_import.rows_valid) == (N, N - 3)
    assert guest_import.errors == list(expected.errors)
    assert guest_import.valid_rows == [row.to_dict() for row in expected.rows]
    assert {error["column"] for error in guest_import.errors} == {"email", "photo"}
    # The sheet was read into the rows; the archive waits for the confirm.
    assert files_of(app) == ["photos.zip"] and guest_import.sheet_path is None


def test_a_dead_workers_staging_runs_again_without_duplicate_rows(
    app, db, work, redis_conn, event, organizer_user
):
    guest_import = uploaded(event, organizer_user, sheet(guest_rows(N)))
    record = db.session.get(JobRecord, guest_import.job_id)
    job = start_on_a_worker_that_dies(redis_conn, record)
    # The dead worker had taken the job: whatever it read, it committed nothing.
    assert reload(db, GuestImport, guest_import.id).state == "staging"

    assert recovery.find_abandoned(at=utcnow() + timedelta(seconds=5)) == 1
    assert reload(db, JobRecord, record.id).result["retrying"]["reason"] == recovery.WORKER_LOST
    Queue(job.origin, connection=redis_conn).enqueue_job(job)  # the retry falls due
    work()

    guest_import = reload(db, GuestImport, guest_import.id)
    assert (guest_import.state, guest_import.rows_total, len(guest_import.valid_rows)) == (
        "validated",
        N,
        N,
    )
    assert reload(db, JobRecord, record.id).state == "finished"
    # A job run once more (RQ may deliver twice) leaves the import as it is.
    assert imports.stage_import(guest_import)["rows_valid"] == N
    assert len(reload(db, GuestImport, guest_import.id).valid_rows) == N


def test_a_staging_whose_worker_died_for_good_is_failed_by_the_sweep(
    app, db, redis_conn, event, organizer_user
):
    guest_import = uploaded(event, organizer_user, sheet(guest_rows(2)), photos_zip(["a.jpg"]))
    record = db.session.get(JobRecord, guest_import.job_id)
    job = start_on_a_worker_that_dies(redis_conn, record)
    job.retries_left = 0  # its last attempt
    job.save()
    recovery.find_abandoned(at=utcnow() + timedelta(seconds=5))
    assert reload(db, JobRecord, record.id).state == "failed"
    assert reload(db, GuestImport, guest_import.id).state == "staging"

    # The sweep gives an upload a grace period before it looks at its job.
    assert recovery.fail_stopped_stagings(utcnow()) == 0
    summary = recovery.reconcile(None, now=utcnow() + timedelta(minutes=5))
    assert summary["stopped_stagings"] == 1
    guest_import = reload(db, GuestImport, guest_import.id)
    assert (guest_import.state, guest_import.state_reason) == (
        "failed",
        recovery.STAGING_STOPPED,
    )
    assert files_of(app) == []


def test_an_unexpected_error_ends_the_import_failed_with_a_sentence(
    app, db, work, event, organizer_user, monkeypatch
):
    guest_import = uploaded(event, organizer_user, sheet(guest_rows(2)))

    def breaks(guest_import):
        raise RuntimeError("secret detail /etc/passwd")

    monkeypatch.setattr(imports, "_check_files", breaks)
    work()
    guest_import = reload(db, GuestImport, guest_import.id)
    assert (guest_import.state, guest_import.state_reason) == ("failed", jobs.UNEXPECTED)
    assert db.session.get(JobRecord, guest_import.job_id).error == jobs.UNEXPECTED
    assert files_of(app) == []


def test_a_photo_that_is_no_image_is_a_row_error_not_a_failed_staging(
    app, db, work, event, organizer_user
):
    archive = zip_bytes({"g0.jpg": photo(), "g1.jpg": b"\xff\xd8 not really a jpeg"})
    guest_import = uploaded(event, organizer_user, sheet(guest_rows(2, with_photos=True)), archive)
    work()
    guest_import = reload(db, GuestImport, guest_import.id)
    assert (guest_import.state, guest_import.rows_valid) == ("validated", 1)
    [error] = guest_import.errors
    assert (error["row"], error["column"]) == (3, "photo")
    assert error["message"].startswith("g1.jpg: ")


def test_redis_down_at_the_upload_fails_the_import_and_keeps_no_file(
    app, db, event, organizer_user, monkeypatch
):
    dead = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    monkeypatch.setitem(app.extensions, "redis", dead)
    with pytest.raises(QueueUnavailable):
        uploaded(event, organizer_user, sheet(guest_rows(1)), photos_zip(["a.jpg"]))
    guest_import = db.session.query(GuestImport).one()
    assert (guest_import.state, guest_import.state_reason) == ("failed", QUEUE_DOWN_MESSAGE)
    assert files_of(app) == []


def test_the_retention_sweep_keeps_a_staging_upload_and_purges_a_failed_ones_files(
    app, db, event, organizer_user
):
    staging = imports.store_upload(event, organizer_user, upload(sheet(guest_rows(1)), "a.csv"))
    failed = imports.store_upload(event, organizer_user, upload(sheet(guest_rows(1)), "b.csv"))
    # A failed staging whose files a crash left behind (fail_staging deletes them itself).
    db.session.execute(
        update(GuestImport)
        .where(GuestImport.id == failed.id)
        .values(state="failed", created_at=utcnow() - timedelta(days=3))
    )
    db.session.commit()
    counts = retention.expire_import_uploads(utcnow() - timedelta(days=1))
    assert counts["import_files_deleted"] == 1
    assert Path(reload(db, GuestImport, staging.id).sheet_path).is_file()
    assert reload(db, GuestImport, failed.id).sheet_path is None
    assert files_of(app) == ["sheet.csv"]
