"""Guest lists: stage (validate) a sheet, confirm it, discard it, retry its failed guests.

Nothing is written until a sheet has been read and every row checked. The upload request only
stores the files (``upload_import``: a GuestImport in state ``staging``); its job
(``stage_import``) reads them and keeps the counts, the row errors and the valid rows on the
import (``validated``), or ends it ``failed`` with a sentence. ``confirm_import`` creates every
visit in ONE transaction and starts the enrollment (``import_enrollment``) after the commit
(architecture.md, flow 3).
"""

import logging
import shutil
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError

from portal import queue
from portal.extensions import db
from portal.i18n import N_
from portal.models import (
    AuditAction,
    Guest,
    GuestImport,
    ImportState,
    JobRecord,
    Visit,
    VisitState,
    utcnow,
)
from portal.services import audit, import_files, invitations
from portal.services.brief import cap_text, cap_warnings
from portal.services.errors import FieldErrors, ServiceError
from portal.services.import_enrollment import (
    NOT_CONFIRMED,
    WAITING_STATES,
    is_running,
    start_enrollment,
)
from portal.services.jobs import JobFailure
from portal.services.photos import PhotoError, normalize_photo
from portal.services.visits import set_state
from portal.sheets import (
    GuestRow,
    PhotoArchive,
    PhotoArchiveError,
    SheetError,
    dedupe_keys,
    read_sheet,
    validate_rows,
)

log = logging.getLogger(__name__)

SHEET_SUFFIXES = {"", ".csv", ".txt", ".tsv", ".xlsx", ".xlsm"}
COPY_CHUNK = 1024 * 1024
CONFIRM_FLUSH_EVERY = 200  # rows written (and their photos released) per flush
PREVIEW_ROWS = 20
INVITE_FOLLOWS = N_("Waiting for the guest's photo: an invitation is sent by e-mail.")

ALREADY_CONFIRMED = N_("This guest list was already confirmed; its guests are being enrolled.")
NOTHING_TO_IMPORT = N_("The sheet has no valid rows to import: fix the file and upload it again.")
STILL_RUNNING = N_("Enrollment of this guest list is still running; wait until it ends.")
NOTHING_FAILED = N_("No guest of this list has failed enrollment.")
CONFLICT = N_("Another guest list of this event was confirmed at the same moment; confirm again.")
UPLOAD_EXPIRED = N_(
    "This upload expired before it was confirmed and its rows were deleted: "
    "upload the guest sheet again."
)
CANNOT_DISCARD = N_(
    "This guest list was confirmed: its guests stay registered, it cannot be discarded."
)
# Imports that were never confirmed (no visit came from them): they may be discarded.
UNCONFIRMED_STATES = (
    ImportState.VALIDATED.value,
    ImportState.EXPIRED.value,
    ImportState.FAILED.value,
)
STAGING_TIMEOUT = 30 * 60  # seconds: a sheet of the most rows, each with a large photo
STILL_STAGING = N_("The sheet is still being checked; confirm it once its preview is shown.")
STAGING_FAILED = N_("This upload could not be used: upload the guest sheet again.")
FILES_GONE = N_("The uploaded files are no longer there: upload the guest sheet again.")
IMPORTED = N_("Imported from %(filename)s.")
EVENT_CANCELLED = N_("This event was cancelled: its guest list can no longer change.")


# States of an import that cannot be confirmed, and why.
REFUSED_CONFIRM = {
    ImportState.EXPIRED: UPLOAD_EXPIRED,
    ImportState.STAGING: STILL_STAGING,
    ImportState.FAILED: STAGING_FAILED,
}


class ImportFileError(FieldErrors):
    """An uploaded file that cannot be used; nothing was written.

    The sentence for the organizer stands beside ``field``, the upload it is about ("file" or
    "photos"); ``rows`` are the row errors ({"row", "column", "message"}) when one applies.
    """

    def __init__(self, message, *, field="file", rows=None):
        message = cap_text(message)  # it may quote the sheet, and it travels in a flash cookie
        super().__init__({field: message}, message)
        self.rows = rows or []


class ImportStateError(ServiceError):
    """The import's state does not allow the action; the message says why."""


# --- staging ---------------------------------------------------------------------------------


def load_import(import_id):
    """The import ``import_id`` (for a job), or a JobFailure when it no longer exists."""
    guest_import = db.session.get(GuestImport, import_id)
    if guest_import is None:
        raise JobFailure(N_("Guest list %(id)d no longer exists.") % {"id": import_id})
    return guest_import


def _upload_parts(upload):
    """(stream, filename) of a werkzeug FileStorage, a (stream, filename) pair, or None."""
    if upload is None:
        return None, ""
    if isinstance(upload, tuple):
        stream, filename = upload
    else:
        stream, filename = getattr(upload, "stream", None), getattr(upload, "filename", "")
    return stream, (filename or "").strip()


def _check_sheet_name(stream, filename):
    if stream is None or not filename:
        raise ImportFileError(N_("Choose a guest sheet (CSV or .xlsx) to upload."))
    suffix = Path(filename).suffix.lower()
    if suffix == ".xls":
        raise ImportFileError(
            f"{filename} is an old-format Excel file: open it in Excel and save it as .xlsx."
        )
    if suffix not in SHEET_SUFFIXES:
        raise ImportFileError(f"{filename} is not a guest sheet: upload a CSV or .xlsx file.")


def _save(stream, filename, path, *, field) -> int:
    """Copy an uploaded file to ``path`` (private, at most MAX_IMPORT_UPLOAD); its size."""
    limit = current_app.config["MAX_IMPORT_UPLOAD"]
    size = 0
    with open(path, "wb") as out:
        path.chmod(0o600)
        while chunk := stream.read(COPY_CHUNK):
            size += len(chunk)
            if size > limit:
                raise ImportFileError(
                    f"{filename} is larger than {limit // (1024 * 1024)} MB.", field=field
                )
            out.write(chunk)
    return size


def _open_archive(path):
    try:
        return PhotoArchive(path)
    except PhotoArchiveError as exc:
        raise ImportFileError(exc.message, field="photos") from exc


def existing_guest_keys(event) -> set[str]:
    """Every duplicate key of the guests already registered for ``event``."""
    keys = set()
    rows = db.session.execute(
        select(Visit.guest_key, Guest.full_name, Guest.email, Guest.phone)
        .join(Visit.guest)
        .where(Visit.event_id == event.id)
    )
    for guest_key, full_name, email, phone in rows:
        if guest_key:
            keys.add(guest_key)
        keys.update(dedupe_keys(full_name, email, phone))
    return keys


def _validate(stream, filename, event, archive):
    try:
        with read_sheet(stream, filename) as sheet:
            return validate_rows(
                sheet,
                event_window=(event.starts_at, event.ends_at),
                existing_keys=existing_guest_keys(event),
                photos=archive,
                now=utcnow(),
                timezone=current_app.config["TIMEZONE"],
            )
    except SheetError as exc:
        raise ImportFileError(exc.message, rows=[exc.as_error()]) from exc
    except PhotoArchiveError as exc:
        raise ImportFileError(exc.message, field="photos") from exc


def store_upload(event, user, sheet_file, photos_file=None) -> GuestImport:
    """Keep the uploaded sheet (+ photo ZIP) on a new GuestImport(staging); commits.

    Only the bytes are copied (``stage_import`` reads them). Raises ImportFileError (nothing
    written, no file kept) when the upload is not a guest sheet or is too large.
    """
    if event.cancelled_at is not None:
        raise ImportFileError(EVENT_CANCELLED)
    stream, filename = _upload_parts(sheet_file)
    _check_sheet_name(stream, filename)
    photo_stream, photo_name = _upload_parts(photos_file)
    directory = import_files.new_folder()
    try:
        sheet_path = directory / f"sheet{Path(filename).suffix.lower()}"
        _save(stream, filename, sheet_path, field="file")
        photos_path = None
        if photo_stream is not None and photo_name:
            photos_path = directory / "photos.zip"
            if not _save(photo_stream, photo_name, photos_path, field="photos"):
                raise ImportFileError(
                    N_("The photo archive %(name)s is empty.") % {"name": photo_name},
                    field="photos",
                )
        guest_import = GuestImport(
            event=event,
            uploaded_by=user,
            filename=filename[:255],
            sheet_path=str(sheet_path),
            photos_path=str(photos_path) if photos_path else None,
            state=ImportState.STAGING.value,
        )
        db.session.add(guest_import)
        audit.record(AuditAction.IMPORT_UPLOADED, guest_import, by=user, details=filename)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return guest_import


def start_staging(guest_import, user) -> JobRecord:
    """Enqueue ``jobs.imports.stage_import`` for a stored upload; raises QueueUnavailable."""
    record = queue.enqueue_about(
        "import",
        guest_import.id,
        "jobs.imports.stage_import",
        kind="stage_import",
        created_by=user,
        job_timeout=STAGING_TIMEOUT,
    )
    guest_import.job_id = record.id
    db.session.commit()
    return record


def upload_import(event, user, sheet_file, photos_file=None) -> GuestImport:
    """Store an upload and enqueue its staging, so the request answers at once; commits.

    Raises ImportFileError as ``store_upload`` does, and queue.QueueUnavailable when Redis is
    down (the import then ends failed with that sentence and its files are deleted).
    """
    guest_import = store_upload(event, user, sheet_file, photos_file)
    try:
        start_staging(guest_import, user)
    except queue.QueueUnavailable:
        fail_staging(guest_import, queue.QUEUE_DOWN_MESSAGE)
        raise
    return guest_import


def _check_files(guest_import):
    """(validation report, whether a row takes a photo) of the import's stored files."""
    event = guest_import.event
    if event.cancelled_at is not None:
        raise ImportFileError(EVENT_CANCELLED)
    archive = None
    try:
        if guest_import.photos_path:
            archive = _open_archive(guest_import.photos_path)
        with open(guest_import.sheet_path or "", "rb") as stream:
            report = _validate(stream, guest_import.filename, event, archive)
    except OSError as exc:  # the folder was purged meanwhile
        raise ImportFileError(FILES_GONE) from exc
    finally:
        if archive is not None:
            archive.close()
    return report, archive is not None and any(row.photo_name for row in report.rows)


def stage_import(guest_import) -> dict:
    """Read and check a stored upload (the staging job): validated, or failed with a sentence.

    Safe to run again (a retried job): an import that is no longer staging is left as it is.
    Raises JobFailure, once the failure is recorded on the import, when a file cannot be used.
    """
    if guest_import.state == ImportState.STAGING:
        try:
            report, archive_used = _check_files(guest_import)
        except ImportFileError as error:
            fail_staging(guest_import, error.message, rows=error.rows)
            raise JobFailure(error.message) from error
        _keep_report(guest_import, report, archive_used)
    return {
        "import": guest_import.id,
        "rows_total": guest_import.rows_total,
        "rows_valid": guest_import.rows_valid,
        "rows_invalid": guest_import.rows_invalid,
    }


def _keep_report(guest_import, report, archive_used):
    """Store the report (import validated), then delete the files nothing will read; commits."""
    sheet_path, photos_path = guest_import.sheet_path, guest_import.photos_path
    guest_import.rows_total = report.rows_total
    guest_import.rows_valid = report.rows_valid
    guest_import.rows_invalid = report.rows_invalid
    guest_import.errors = list(report.errors)
    guest_import.valid_rows = [row.to_dict() for row in report.rows]
    guest_import.warnings = cap_warnings(report.warnings)
    guest_import.sheet_path = None
    guest_import.photos_path = photos_path if archive_used else None
    guest_import.state = ImportState.VALIDATED.value
    db.session.commit()
    # Only after the commit: a job that dies before it finds its files again when retried.
    if photos_path and not archive_used:
        import_files.delete_archive(photos_path, guest_import.id)  # the folder, sheet included
    elif sheet_path:
        Path(sheet_path).unlink(missing_ok=True)


def fail_staging(guest_import, sentence, *, rows=()) -> None:
    """End an import's staging as failed with ``sentence``; its files are deleted; commits."""
    paths = [path for path in (guest_import.sheet_path, guest_import.photos_path) if path]
    guest_import.state = ImportState.FAILED.value
    guest_import.state_reason = cap_text(sentence)
    guest_import.errors = list(rows)
    guest_import.sheet_path = guest_import.photos_path = None
    db.session.commit()
    for path in paths:
        import_files.delete_archive(path, guest_import.id)
    log.info("import %s failed its staging", guest_import.id)


def preview_rows(guest_import, limit=PREVIEW_ROWS) -> list[GuestRow]:
    """The first valid rows as they will be imported."""
    return [GuestRow.from_dict(data) for data in (guest_import.valid_rows or [])[:limit]]


def discard_import(guest_import) -> None:
    """Delete a never-confirmed import with its stored photo archive; commits.

    Raises ImportStateError when the import was confirmed (or a confirm won the race): its
    visits are never touched.
    """
    import_id, path = guest_import.id, guest_import.photos_path
    # One statement decides, so a confirm running at the same moment either wins or waits.
    deleted = db.session.execute(
        delete(GuestImport)
        .where(
            GuestImport.id == import_id,
            GuestImport.state.in_(UNCONFIRMED_STATES),
            ~exists().where(Visit.import_id == GuestImport.id),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if deleted != 1:
        db.session.rollback()
        raise ImportStateError(CANNOT_DISCARD)
    audit.record(AuditAction.IMPORT_DISCARDED, guest_import, details=guest_import.filename)
    db.session.commit()
    if guest_import in db.session:
        db.session.expunge(guest_import)
    # The row is gone first: a crash here leaves only a folder, which the retention sweep finds.
    if path:
        import_files.delete_archive(path, import_id)
    log.info("import %s discarded", import_id)


# --- confirming ------------------------------------------------------------------------------


def _claim(guest_import, from_states, to_state):
    """Move the import from one of ``from_states`` to ``to_state`` unless someone else did."""
    claimed = db.session.execute(
        update(GuestImport)
        .where(GuestImport.id == guest_import.id, GuestImport.state.in_(from_states))
        .values(state=to_state)
        .execution_options(synchronize_session=False)
    ).rowcount
    return claimed == 1


def _photo_for(row, archive):
    """(normalized photo or None, error sentence or None) for a row's archive member."""
    if not row.photo_name:
        return None, None
    if archive is None:
        return None, (
            N_("The photo %(name)s is no longer available: upload the list again.")
            % {"name": row.photo_name}
        )
    try:
        return normalize_photo(archive.find(row.photo_name) or b""), None
    except (PhotoError, PhotoArchiveError) as exc:
        return None, f"{row.photo_name}: {exc.message}"


def _new_visit(guest_import, row, photo, user):
    event = guest_import.event
    guest = Guest(
        full_name=row.full_name,
        email=row.email,
        phone=row.phone,
        company=row.company,
        photo=photo.jpeg if photo else None,
        photo_sha256=photo.sha256 if photo else None,
    )
    return Visit(
        guest=guest,
        host_id=user.id,
        event_id=event.id,
        import_id=guest_import.id,
        access_level_id=event.access_level_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        purpose=event.name[:500],
        guest_key=row.dedupe_key,
    )


def _write_visits(guest_import, user, *, invite_missing=False):
    """Add a pending visit per new valid row (flushed in chunks); returns (created, skipped).

    With ``invite_missing`` a row with an e-mail and no photo awaits the guest's photo instead.
    """
    known = existing_guest_keys(guest_import.event)
    archive = _open_archive(guest_import.photos_path) if guest_import.photos_path else None
    reason = IMPORTED % {"filename": guest_import.filename}
    created = skipped = 0
    batch = []
    try:
        for data in guest_import.valid_rows or []:
            row = GuestRow.from_dict(data)
            keys = row.keys or (row.dedupe_key,)
            if any(key in known for key in keys):
                skipped += 1
                continue
            known.update(keys)
            photo, problem = _photo_for(row, archive)
            visit = _new_visit(guest_import, row, photo, user)
            set_state(visit, VisitState.PENDING, reason, by=user)
            if problem:
                set_state(visit, VisitState.FAILED, problem, by=user)
            elif invite_missing and photo is None and row.email:
                set_state(visit, VisitState.AWAITING_PHOTO, INVITE_FOLLOWS, by=user)
            db.session.add(visit)
            batch.append(visit)
            created += 1
            if len(batch) >= CONFIRM_FLUSH_EVERY:
                _flush_and_release(batch)
        _flush_and_release(batch)
    finally:
        if archive is not None:
            archive.close()
    return created, skipped


def _flush_and_release(visits):
    """Write the rows (the transaction stays open) and drop them from the session's memory."""
    db.session.flush()
    for visit in visits:
        db.session.expunge(visit.guest)
        db.session.expunge(visit)  # cascades to its history rows
    visits.clear()


def rows_without_photo(guest_import):
    """(valid rows without a photo, how many of them have an e-mail to invite)."""
    rows = [row for row in guest_import.valid_rows or [] if not row.get("photo_name")]
    return len(rows), sum(1 for row in rows if row.get("email"))


def confirm_import(guest_import, user, *, invite_missing=False) -> JobRecord | None:
    """Create every new guest's visit in one transaction, then enqueue ``enroll_import``.

    With ``invite_missing`` a guest without a photo but with an e-mail waits for their photo
    (``awaiting_photo``) instead of being enrolled faceless; the event's invitations follow.

    Raises ImportStateError when the import was already confirmed or has nothing to import, and
    queue.QueueUnavailable (after the commit: the visits stay pending) when Redis is down.
    """
    if guest_import.state in REFUSED_CONFIRM:
        raise ImportStateError(REFUSED_CONFIRM[guest_import.state])
    if guest_import.event.cancelled_at is not None and guest_import.state == ImportState.VALIDATED:
        raise ImportStateError(EVENT_CANCELLED)
    if guest_import.state != ImportState.VALIDATED:
        raise ImportStateError(ALREADY_CONFIRMED)
    if not guest_import.rows_valid:
        raise ImportStateError(NOTHING_TO_IMPORT)
    import_id = guest_import.id
    try:
        if not _claim(guest_import, (ImportState.VALIDATED.value,), ImportState.CONFIRMED.value):
            db.session.rollback()
            raise ImportStateError(ALREADY_CONFIRMED)
        created, skipped = _write_visits(guest_import, user, invite_missing=invite_missing)
        audit.record(
            AuditAction.IMPORT_CONFIRMED,
            guest_import,
            by=user,
            details=f"{created} visits, {skipped} already registered",
        )
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ImportStateError(CONFLICT) from exc
    except BaseException:
        db.session.rollback()
        raise
    guest_import = db.session.get(GuestImport, import_id, populate_existing=True)
    log.info("import %s confirmed: %s visits, %s already registered", import_id, created, skipped)
    # The photos now live in the guests' rows: the uploaded archive is no longer needed.
    import_files.purge_import_files(guest_import)
    record = start_enrollment(guest_import, user)
    if invite_missing:
        _invite_missing(guest_import.event, user)
    return record


def _invite_missing(event, user):
    """Start the event's invitations; a failure leaves the button on the event page to retry."""
    try:
        invitations.invite_event_guests(event, by=user)
    except (invitations.VisitStateError, queue.QueueUnavailable) as exc:
        log.warning("invitations of event %s not started: %s", event.id, exc)


def retry_offered(guest_import, counts) -> bool:
    """Whether a retry has work: confirmed, no job running, guests failed or waiting."""
    if guest_import.state in NOT_CONFIRMED or is_running(guest_import):
        return False
    return any(counts.get(state) for state in (VisitState.FAILED.value, *WAITING_STATES))


def retry_failed(guest_import, user) -> JobRecord:
    """Put the import's failed guests back to pending and enqueue the enrollment again."""
    if guest_import.state in NOT_CONFIRMED:
        raise ImportStateError(N_("Confirm the guest list first."))
    if is_running(guest_import):
        raise ImportStateError(STILL_RUNNING)
    failed = db.session.scalars(
        select(Visit).where(
            Visit.import_id == guest_import.id, Visit.state == VisitState.FAILED.value
        )
    ).all()
    waiting = db.session.scalar(
        select(func.count())
        .select_from(Visit)
        .where(Visit.import_id == guest_import.id, Visit.state.in_(WAITING_STATES))
    )
    if not failed and not waiting:
        raise ImportStateError(NOTHING_FAILED)
    for visit in failed:
        set_state(visit, VisitState.PENDING, N_("Retry requested."), by=user)
    guest_import.state = ImportState.CONFIRMED.value
    db.session.commit()
    return start_enrollment(guest_import, user)
