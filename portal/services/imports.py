"""Guest lists: stage (validate) a sheet, confirm it, enroll its guests (architecture.md, flow 3).

Nothing is written until a sheet has been read and every row checked: ``stage_import`` keeps the
counts, the row errors and the valid rows on a GuestImport (state ``validated``). ``confirm_import``
creates every visit in ONE transaction and enqueues ``jobs.imports.enroll_import`` after the
commit. ``enroll_import`` works in chunks (persons concurrently under the shared limiter, one grant
per chunk and access level, one re-apply at the end); it is resumable and never enrolls anybody
twice: persons are adopted by their person code and finished visits are skipped.
"""

import logging
import math
import shutil
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path

from flask import current_app
from rq import Retry
from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload, undefer

from portal import queue
from portal.extensions import db
from portal.hikvision import operations as ops
from portal.i18n import N_
from portal.models import (
    ACCESS_STATES,
    AuditAction,
    Guest,
    GuestImport,
    JobRecord,
    Visit,
    VisitState,
    utcnow,
)
from portal.services import audit, claims, delivery, enrollment
from portal.services.brief import cap_text, cap_warnings
from portal.services.jobs import JobFailure
from portal.services.photos import PhotoError, normalize_photo
from portal.services.sheets import (
    GuestRow,
    PhotoArchive,
    PhotoArchiveError,
    SheetError,
    dedupe_keys,
    read_sheet,
    validate_rows,
)
from portal.services.visits import set_state

log = logging.getLogger(__name__)

SHEET_SUFFIXES = {"", ".csv", ".txt", ".tsv", ".xlsx", ".xlsm"}
COPY_CHUNK = 1024 * 1024
CONFIRM_FLUSH_EVERY = 200  # rows written (and their photos released) per flush
FIRST_CHUNK = 20  # small first chunks: progress moves within seconds
MAX_CHUNK = 200
PREVIEW_ROWS = 20
# States a visit of an import is still waiting in (enrolling: a run died half-way).
WAITING_STATES = (VisitState.PENDING.value, VisitState.ENROLLING.value)
ACCESS_STATE_VALUES = tuple(state.value for state in ACCESS_STATES)

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
UNCONFIRMED_STATES = ("validated", "expired")
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


def imports_dir() -> Path:
    """Where uploaded photo archives wait for their import (private to the portal)."""
    configured = current_app.config["IMPORT_FILES_DIR"]
    return Path(configured) if configured else Path(current_app.instance_path) / "imports"


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
        state="validated",
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


def delete_archive(path, import_id=None) -> bool:
    """Delete the folder of a stored photo archive; only ever a folder of our own."""
    directory = Path(path).parent
    if directory.resolve().parent != imports_dir().resolve():
        log.warning("import %s points outside the imports folder; file left", import_id)
        return False
    shutil.rmtree(directory, ignore_errors=True)
    return True


def purge_import_files(guest_import) -> bool:
    """Delete the import's stored photo archive (its photos live on in the guests); commits."""
    path = guest_import.photos_path
    if not path:
        return False
    delete_archive(path, guest_import.id)
    guest_import.photos_path = None
    db.session.commit()
    return True


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


def _write_visits(guest_import, user):
    """Add a pending visit per new valid row (flushed in chunks); returns (created, skipped)."""
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


def confirm_import(guest_import, user) -> JobRecord | None:
    """Create every new guest's visit in one transaction, then enqueue ``enroll_import``.

    Raises ImportStateError when the import was already confirmed or has nothing to import, and
    queue.QueueUnavailable (after the commit: the visits stay pending) when Redis is down.
    """
    if guest_import.state == "expired":
        raise ImportStateError(UPLOAD_EXPIRED)
    if guest_import.event.cancelled_at is not None and guest_import.state == "validated":
        raise ImportStateError(EVENT_CANCELLED)
    if guest_import.state != "validated":
        raise ImportStateError(ALREADY_CONFIRMED)
    if not guest_import.rows_valid:
        raise ImportStateError(NOTHING_TO_IMPORT)
    import_id = guest_import.id
    try:
        if not _claim(guest_import, ("validated",), "confirmed"):
            db.session.rollback()
            raise ImportStateError(ALREADY_CONFIRMED)
        created, skipped = _write_visits(guest_import, user)
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
    return start_enrollment(guest_import, user)


def _job_timeout(count):
    """Seconds the job may run: three times the rate-limit floor, plus a margin."""
    config = current_app.config
    per_call = config["HIKCENTRAL_RATE_LIMIT_WINDOW"] / config["HIKCENTRAL_RATE_LIMIT_CALLS"]
    return int(math.ceil(count * 1.1 * per_call * 3)) + 600


def _retry_policy():
    intervals = current_app.config.get("JOB_RETRY_INTERVALS") or queue.HIKCENTRAL_RETRY_INTERVALS
    return Retry(max=len(intervals), interval=list(intervals))


def start_enrollment(guest_import, user) -> JobRecord:
    """Enqueue ``enroll_import`` for the import (after its visits are committed)."""
    count = db.session.scalar(
        select(func.count()).select_from(Visit).where(Visit.import_id == guest_import.id)
    )
    record = queue.enqueue(
        "jobs.imports.enroll_import",
        guest_import.id,
        kind="enroll_import",
        subject_type="import",
        subject_id=guest_import.id,
        created_by=user,
        retry=_retry_policy(),
        job_timeout=_job_timeout(count or 0),
    )
    guest_import.job_id = record.id
    db.session.commit()
    return record


def import_job(guest_import) -> JobRecord | None:
    """The import's latest enrollment job, or None."""
    return db.session.get(JobRecord, guest_import.job_id) if guest_import.job_id else None


def is_running(guest_import) -> bool:
    """Whether an enrollment job of the import is queued or running."""
    record = import_job(guest_import)
    return record is not None and record.state in ("queued", "started")


def retry_failed(guest_import, user) -> JobRecord:
    """Put the import's failed guests back to pending and enqueue the enrollment again."""
    if guest_import.state == "validated":
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
    guest_import.state = "confirmed"
    db.session.commit()
    return start_enrollment(guest_import, user)


# --- enrolling -------------------------------------------------------------------------------


def load_import(import_id):
    """The import ``import_id``, or a JobFailure when it no longer exists."""
    guest_import = db.session.get(GuestImport, import_id)
    if guest_import is None:
        raise JobFailure(N_("Guest list %(id)d no longer exists.") % {"id": import_id})
    return guest_import


def state_counts(guest_import) -> dict[str, int]:
    """{state: count} of the import's visits."""
    rows = db.session.execute(
        select(Visit.state, func.count())
        .where(Visit.import_id == guest_import.id)
        .group_by(Visit.state)
    )
    return dict(rows.all())


def progress(guest_import) -> tuple[int, int, int]:
    """(done, total, failed): guests no longer waiting, all guests, failed guests."""
    counts = state_counts(guest_import)
    total = sum(counts.values())
    waiting = sum(counts.get(state, 0) for state in WAITING_STATES)
    return total - waiting, total, counts.get(VisitState.FAILED.value, 0)


def chunk_sizes(first=FIRST_CHUNK, largest=MAX_CHUNK):
    """Chunk sizes that start small (early progress) and double up to ``largest``."""
    size = first
    while True:
        yield size
        size = min(size * 2, largest)


def _chunks(ids, first, largest):
    start = 0
    for size in chunk_sizes(first, largest):
        if start >= len(ids):
            return
        yield ids[start : start + size]
        start += size


def _waiting_ids(guest_import, owner):
    """The import's visits this run may take: pending ones, and those it (or nobody) holds."""
    return db.session.scalars(
        select(Visit.id)
        .where(
            Visit.import_id == guest_import.id,
            or_(
                Visit.state == VisitState.PENDING.value,
                and_(
                    Visit.state == VisitState.ENROLLING.value,
                    or_(Visit.claimed_by == owner, Visit.claimed_by.is_(None)),
                ),
            ),
        )
        .order_by(Visit.id)
    ).all()


def _load_chunk(ids, owner):
    """Claim the chunk's visits for this run (another run may hold some), then load them."""
    held = claims.claim(ids, owner)
    visits = db.session.scalars(
        select(Visit)
        .where(Visit.id.in_(held), Visit.state == VisitState.ENROLLING.value)
        .options(
            selectinload(Visit.guest).options(undefer(Guest.photo)),
            selectinload(Visit.access_level),
        )
        .order_by(Visit.id)
        .execution_options(populate_existing=True)
    ).all()
    return visits


class _Run:
    """One run of an import's enrollment: what it enrolled, what failed, what is left."""

    def __init__(self, client, *, org_code, max_workers, now, owner):
        self.client = client
        self.owner = owner
        # Visits this run's job held before (a retry): their persons exist already.
        self.resumed: set[int] = claims.resumable(owner)
        self.org_code = org_code
        self.max_workers = max_workers
        self.now = now
        self.enrolled_ids: list[str] = []
        self.counts = {"enrolled": 0, "failed": 0, "expired": 0, "transient": 0, "revoked": 0}
        self.transient_error = None
        # Visits an earlier run worked on: their person is looked up before it is added.
        self.retried: set[int] = set()

    def fail(self, visit, sentence):
        set_state(visit, VisitState.FAILED, sentence)
        self.counts["failed"] += 1

    def leave_for_later(self, visit, error):
        self.counts["transient"] += 1
        self.transient_error = error or enrollment.HIKCENTRAL_DOWN

    def prepare(self, visits):
        """Visits that can be enrolled now, marked enrolling; the others settled."""
        ready = []
        for visit in visits:
            if visit.ends_at <= self.now:
                set_state(visit, VisitState.EXPIRED, enrollment.WINDOW_OVER)
                self.counts["expired"] += 1
            elif not visit.access_level.active:
                name = visit.access_level.name
                self.fail(visit, enrollment.ACCESS_LEVEL_INACTIVE % {"name": name})
            else:
                ready.append(visit)
        db.session.commit()
        return ready

    def person_work(self, visits):
        """(visits whose person a crashed run made, visits to ensure, their specs)."""
        known = [visit for visit in visits if visit.id in self.resumed]
        todo = [visit for visit in visits if visit.id not in self.resumed]
        specs = [
            enrollment.person_spec(visit, look_first=visit.id in self.retried) for visit in todo
        ]
        return known, todo, specs

    def ensure_one(self, spec):
        """ensure_persons for one guest (in a helper thread: HTTP only, no database)."""
        [result] = ops.ensure_persons(self.client, [spec], org_code=self.org_code, max_workers=1)
        return result

    def apply_persons(self, known, todo, results):
        """Record each new person; returns the visits whose person exists."""
        ready = list(known)
        for visit, result in zip(todo, results, strict=True):
            if result.ok:
                enrollment.record_person(visit, result)
                ready.append(visit)
            elif result.transient:
                self.leave_for_later(visit, result.error)
            else:
                self.fail(visit, enrollment._host_sentence("person", result.error))
        # A later run (or a revoke) must know which persons exist.
        db.session.commit()
        return ready

    def grant_plan(self, visits):
        """{access level hik_id: [visits]} of a chunk: one grant call each."""
        by_level = {}
        for visit in visits:
            by_level.setdefault(visit.access_level.hik_id, []).append(visit)
        return by_level

    def apply_grants(self, by_level, outcome):
        """The visits granted; the others left for later or failed with a sentence."""
        granted = []
        for hik_id, members in by_level.items():
            for visit, result in zip(members, outcome[hik_id], strict=True):
                if result.ok:
                    granted.append(visit)
                elif result.transient:
                    self.leave_for_later(visit, result.error)
                else:
                    self.fail(visit, enrollment._host_sentence("grant", result.error))
        return granted

    def finish(self, visits):
        """Granted visits become enrolled, unless they were cancelled meanwhile."""
        ids = [visit.id for visit in visits]
        current = dict(
            db.session.execute(select(Visit.id, Visit.state).where(Visit.id.in_(ids))).all()
        )
        for visit in visits:
            if current.get(visit.id) != VisitState.ENROLLING:
                db.session.refresh(visit)
                log.info("visit %s became %s during enrollment; revoking", visit.id, visit.state)
                enrollment.revoke_visit(visit, self.client)
                self.counts["revoked"] += 1
                continue
            set_state(visit, VisitState.ENROLLED)
            self.enrolled_ids.append(visit.hik_person_id)
            self.counts["enrolled"] += 1
        db.session.commit()


def _unapplied(guest_import):
    """Visits of the import that hold access but were never re-applied to the devices."""
    return db.session.scalars(
        select(Visit).where(
            Visit.import_id == guest_import.id,
            Visit.state.in_(ACCESS_STATE_VALUES),
            Visit.delivery.is_(None),
            Visit.hik_person_id.is_not(None),
        )
    ).all()


def _reapply(guest_import, client):
    """Re-apply every enrolled person still waiting for it, in chunks; checks follow later."""
    visits = _unapplied(guest_import)
    if not visits:
        return 0
    delivery.reapply(client, visits)
    db.session.commit()
    delivery.schedule_next()
    return len(visits)


def enroll_import(
    guest_import, client, *, report=None, now=None, first_chunk=FIRST_CHUNK, job_id=None
):
    """Enroll the import's waiting guests in chunks; ``report(done, total, failed)`` per chunk.

    A transient failure that affects a whole chunk, or leaves guests waiting at the end, is
    raised (after the finished work is committed) so the job is retried and resumes.
    """
    if guest_import.state == "validated":
        raise JobFailure(N_("This guest list has not been confirmed yet."))
    config = current_app.config
    run = _Run(
        client,
        org_code=config.get("HIKCENTRAL_ORG_CODE", "1"),
        max_workers=max(1, int(config.get("HIKCENTRAL_MAX_IN_FLIGHT", 10))),
        now=now or utcnow(),
        owner=claims.run_id(job_id),
    )
    guest_import.state = "enrolling"
    db.session.commit()
    report = report or (lambda done, total, failed: None)

    def report_now():
        report(*progress(guest_import))

    report_now()
    waiting = _waiting_ids(guest_import, run.owner)
    _enroll_chunks(run, _chunks(waiting, first_chunk, MAX_CHUNK), report_now)
    reapplied = _reapply(guest_import, client)
    if run.counts["transient"]:
        raise enrollment.TransientEnrollmentError(run.transient_error)
    guest_import.state = "done"
    db.session.commit()
    purge_import_files(guest_import)
    done, total, failed = progress(guest_import)
    return {
        "import": guest_import.id,
        "total": total,
        "done": done,
        "failed": failed,
        "enrolled_now": run.counts["enrolled"],
        "failed_now": run.counts["failed"],
        "expired_now": run.counts["expired"],
        "reapplied": reapplied,
    }


def _enroll_chunks(run, chunks, report_now):
    """Persons flow through one pool without pausing between chunks (the next chunk is queued
    behind the current one); each chunk's grant overlaps the next chunk's persons. Helper threads
    only speak HTTP: every database change stays in this thread."""
    chunks = iter(chunks)
    persons = ThreadPoolExecutor(max_workers=run.max_workers, thread_name_prefix="import-person")
    granter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-grant")

    def start(ids):
        run.retried |= claims.attempted(ids) - run.resumed
        visits = run.prepare(_load_chunk(ids, run.owner))
        known, todo, specs = run.person_work(visits)
        return visits, known, todo, [persons.submit(run.ensure_one, spec) for spec in specs]

    try:
        queued = deque(start(ids) for ids in islice(chunks, 2))
        granting = None
        while queued:
            visits, known, todo, futures = queued.popleft()
            if granting is not None:  # the previous chunk's grant, while these persons go on
                _settle(run, *granting)
                granting = None
                report_now()
            before = run.counts["transient"]
            with_person = run.apply_persons(known, todo, [f.result() for f in futures])
            if visits and run.counts["transient"] - before == len(visits):
                # Nobody of the chunk got through: HikCentral is down; RQ retries the job later.
                raise enrollment.TransientEnrollmentError(run.transient_error)
            plan = run.grant_plan(with_person)
            calls = {level: [v.hik_person_id for v in members] for level, members in plan.items()}
            granting = (visits, plan, granter.submit(grant_calls, run.client, calls))
            following = next(chunks, None)
            if following is not None:
                queued.append(start(following))
        if granting is not None:
            _settle(run, *granting)
            report_now()
    finally:
        # After a failure, persons not yet sent stay waiting for the next run.
        persons.shutdown(wait=True, cancel_futures=True)
        granter.shutdown(wait=True)


def grant_calls(client, calls):
    """One grant call per access level: {hik_id: [person_id]} -> {hik_id: [ItemResult]}."""
    return {hik_id: ops.grant(client, hik_id, ids) for hik_id, ids in calls.items()}


def _settle(run, visits, plan, granting):
    """Apply a chunk's grant results, then let go of its visits (and their photos)."""
    run.finish(run.apply_grants(plan, granting.result()))
    for visit in visits:
        db.session.expunge(visit.guest)
        db.session.expunge(visit)


def give_up(guest_import, sentence):
    """After the last retry: guests still waiting end failed with ``sentence``; commits."""
    visits = db.session.scalars(
        select(Visit).where(Visit.import_id == guest_import.id, Visit.state.in_(WAITING_STATES))
    ).all()
    for visit in visits:
        set_state(visit, VisitState.FAILED, sentence)
    guest_import.state = "done"
    db.session.commit()


def failed_visits(guest_import):
    """The query of the import's failed guests, by name."""
    return (
        select(Visit)
        .join(Visit.guest)
        .where(Visit.import_id == guest_import.id, Visit.state == VisitState.FAILED.value)
        .options(selectinload(Visit.guest))
        .order_by(Guest.full_name, Visit.id)
    )
