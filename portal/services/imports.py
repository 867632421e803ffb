"""Guest lists: stage (validate) a sheet, confirm it, discard it, retry its failed guests.

Nothing is written until a sheet has been read and every row checked: ``stage_import`` keeps the
counts, the row errors and the valid rows on a GuestImport (state ``validated``). ``confirm_import``
creates every visit in ONE transaction and starts the enrollment (``import_enrollment``) after
the commit (architecture.md, flow 3).
"""

import logging
import shutil
import uuid
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
from portal.services import audit, invitations
from portal.services.brief import cap_text, cap_warnings
from portal.services.import_enrollment import WAITING_STATES, is_running, start_enrollment
from portal.services.import_files import delete_archive, imports_dir, purge_import_files
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
UNCONFIRMED_STATES = (ImportState.VALIDATED.value, ImportState.EXPIRED.value)
IMPORTED = N_("Imported from %(filename)s.")
EVENT_CANCELLED = N_("This event was cancelled: its guest list can no longer change.")


class ImportFileError(ValueError):
    """An uploaded file that cannot be used; nothing was written.

    ``message`` is a sentence for the organizer, ``field`` the upload it is about ("file" or
    "photos") and ``rows`` the row errors ({"row", "column", "message"}) when one applies.
    """

    def __init__(self, message, *, field="file", rows=None):
        message = cap_text(message)  # it may quote the sheet, and it travels in a flash cookie
        super().__init__(message)
        self.message = message
        self.field = field
        self.rows = rows or []


class ImportStateError(Exception):
    """The import's state does not allow the action; the message says why."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


# --- staging ---------------------------------------------------------------------------------


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


def _save_archive(stream, filename, directory) -> Path:
    """Copy the uploaded ZIP to ``directory`` (bounded, private) and return its path."""
    limit = current_app.config["MAX_IMPORT_UPLOAD"]
    directory.mkdir(parents=True, mode=0o700)
    path = directory / "photos.zip"
    size = 0
    with open(path, "wb") as out:
        path.chmod(0o600)
        while chunk := stream.read(COPY_CHUNK):
            size += len(chunk)
            if size > limit:
                raise ImportFileError(
                    f"{filename} is larger than {limit // (1024 * 1024)} MB.", field="photos"
                )
            out.write(chunk)
    if size == 0:
        raise ImportFileError(
            N_("The photo archive %(name)s is empty.") % {"name": filename}, field="photos"
        )
    return path


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


def stage_import(event, user, sheet_file, photos_file=None):
    """Read and validate a guest sheet (+ photo ZIP) into a GuestImport(validated); commits.

    Raises ImportFileError (nothing written, no file kept) when a file cannot be used.
    """
    if event.cancelled_at is not None:
        raise ImportFileError(EVENT_CANCELLED)
    stream, filename = _upload_parts(sheet_file)
    _check_sheet_name(stream, filename)
    photo_stream, photo_name = _upload_parts(photos_file)
    directory = imports_dir() / uuid.uuid4().hex
    archive = None
    try:
        if photo_stream is not None and photo_name:
            path = _save_archive(photo_stream, photo_name, directory)
            archive = _open_archive(path)
        report = _validate(stream, filename, event, archive)
    except BaseException:
        if archive is not None:
            archive.close()
        shutil.rmtree(directory, ignore_errors=True)
        raise
    archive_used = archive is not None and any(row.photo_name for row in report.rows)
    if archive is not None:
        archive.close()
        if not archive_used:
            shutil.rmtree(directory, ignore_errors=True)  # nothing in it will be imported
    guest_import = GuestImport(
        event=event,
        uploaded_by=user,
        filename=filename[:255],
        rows_total=report.rows_total,
        rows_valid=report.rows_valid,
        rows_invalid=report.rows_invalid,
        errors=list(report.errors),
        valid_rows=[row.to_dict() for row in report.rows],
        photos_path=str(directory / "photos.zip") if archive_used else None,
        state=ImportState.VALIDATED.value,
    )
    guest_import.warnings = cap_warnings(report.warnings)  # shown once, not stored
    db.session.add(guest_import)
    audit.record(AuditAction.IMPORT_UPLOADED, guest_import, by=user, details=filename)
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return guest_import


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
        delete_archive(path, import_id)
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
    if guest_import.state == ImportState.EXPIRED:
        raise ImportStateError(UPLOAD_EXPIRED)
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
    purge_import_files(guest_import)
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
    if guest_import.state == ImportState.VALIDATED or is_running(guest_import):
        return False
    return any(counts.get(state) for state in (VisitState.FAILED.value, *WAITING_STATES))


def retry_failed(guest_import, user) -> JobRecord:
    """Put the import's failed guests back to pending and enqueue the enrollment again."""
    if guest_import.state == ImportState.VALIDATED:
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
