"""Personal data kept only while it is needed, then purged on schedule.

Four rules, each a few set-based UPDATEs over batches of ids (keyset paging, one commit per
batch), each safe to run twice and after a lost run because it works from the rows' state:

- a guest's photo goes PHOTO_RETENTION_DAYS after the end of their last visit, once no visit of
  theirs is live (expiry has deleted the person on HikCentral by then);
- a guest whose last visit ended PERSONAL_DATA_RETENTION_DAYS ago is anonymized; the visits stay
  for statistics, without the texts that may name the guest (reasons, purpose, duplicate key),
  and the sheet rows of their guest lists are emptied;
- a guest list never confirmed within IMPORT_FILES_RETENTION_HOURS expires: its rows and its
  photo ZIP are deleted, and its page says the upload expired;
- audit log entries older than AUDIT_RETENTION_DAYS are deleted.
"""

import logging
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from portal.extensions import db
from portal.models import (
    LIVE_STATES,
    Guest,
    GuestImport,
    ImportState,
    Visit,
    VisitStateChange,
    utcnow,
)
from portal.services import audit, import_files, imports

log = logging.getLogger(__name__)

BATCH = 500
ANONYMIZED_NAME = "Removed guest"
LIVE_STATE_VALUES = tuple(state.value for state in LIVE_STATES)


def _cutoffs(config, now):
    """(photo cutoff, personal data cutoff, import upload cutoff) for ``now``."""
    return (
        now - timedelta(days=config.get("PHOTO_RETENTION_DAYS", 1)),
        now - timedelta(days=config.get("PERSONAL_DATA_RETENTION_DAYS", 90)),
        now - timedelta(hours=config.get("IMPORT_FILES_RETENTION_HOURS", 24)),
    )


def _guest_done_before(cutoff):
    """Guests with no live visit whose last visit (or, without one, whose record) ended by then."""
    visit = aliased(Visit)
    live = exists().where(visit.guest_id == Guest.id, visit.state.in_(LIVE_STATE_VALUES))
    last_end = select(func.max(visit.ends_at)).where(visit.guest_id == Guest.id)
    return and_(~live, func.coalesce(last_end.scalar_subquery(), Guest.created_at) <= cutoff)


def _batches(id_column, condition):
    """Lists of at most BATCH ids matching ``condition``, ascending; each id at most once."""
    last = 0
    while True:
        ids = db.session.scalars(
            select(id_column).where(condition, id_column > last).order_by(id_column).limit(BATCH)
        ).all()
        if not ids:
            return
        yield ids
        last = ids[-1]
        if len(ids) < BATCH:
            return


def _update(model, ids, condition, values):
    """One UPDATE of the rows ``ids`` still matching ``condition``; returns the rows changed."""
    return db.session.execute(
        update(model)
        .where(model.id.in_(ids), condition)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount


def purge_photos(cutoff) -> int:
    """Delete the photo of every guest done with their visits before ``cutoff``; commits."""
    due = and_(Guest.photo.is_not(None), _guest_done_before(cutoff))
    deleted = 0
    for ids in _batches(Guest.id, due):
        deleted += _update(Guest, ids, due, {"photo": None, "photo_sha256": None})
        db.session.commit()
    return deleted


def _not_anonymized():
    return or_(
        Guest.full_name != ANONYMIZED_NAME,
        Guest.email.is_not(None),
        Guest.phone.is_not(None),
        Guest.company.is_not(None),
        Guest.photo_sha256.is_not(None),
        Guest.photo.is_not(None),
    )


def anonymize_guests(cutoff) -> dict[str, int]:
    """Anonymize every guest done with their visits before ``cutoff``; commits per batch.

    A guest and the texts of their visits change in the same transaction, so a guest that
    looks anonymized never has visits left that still name them.
    """
    due = and_(_not_anonymized(), _guest_done_before(cutoff))
    visit_texts = or_(
        Visit.state_reason.is_not(None), Visit.purpose.is_not(None), Visit.guest_key.is_not(None)
    )
    counts = {"guests_anonymized": 0, "visits_cleared": 0, "history_cleared": 0}
    for ids in _batches(Guest.id, due):
        visits = select(Visit.id).where(Visit.guest_id.in_(ids))
        counts["visits_cleared"] += db.session.execute(
            update(Visit)
            .where(Visit.guest_id.in_(ids), visit_texts)
            .values(state_reason=None, purpose=None, guest_key=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        counts["history_cleared"] += db.session.execute(
            update(VisitStateChange)
            .where(VisitStateChange.visit_id.in_(visits), VisitStateChange.reason.is_not(None))
            .values(reason=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        counts["guests_anonymized"] += _update(
            Guest,
            ids,
            due,
            {
                "full_name": ANONYMIZED_NAME,
                "email": None,
                "phone": None,
                "company": None,
                "photo": None,
                "photo_sha256": None,
            },
        )
        db.session.commit()
    counts["import_rows_cleared"] = _clear_old_import_rows(cutoff)
    return counts


def _clear_old_import_rows(cutoff) -> int:
    """Empty the sheet rows kept by confirmed guest lists whose every visit ended by ``cutoff``."""
    visit = aliased(Visit)
    recent = exists().where(visit.import_id == GuestImport.id, visit.ends_at > cutoff)
    has_rows = or_(
        func.json_array_length(GuestImport.valid_rows) > 0,
        func.json_array_length(GuestImport.errors) > 0,
    )
    due = and_(
        GuestImport.state.not_in(imports.UNCONFIRMED_STATES),
        GuestImport.created_at <= cutoff,
        ~recent,
        has_rows,
    )
    cleared = 0
    for ids in _batches(GuestImport.id, due):
        cleared += _update(GuestImport, ids, due, {"valid_rows": [], "errors": []})
        db.session.commit()
    return cleared


def expire_import_uploads(cutoff) -> dict[str, int]:
    """Expire guest lists never confirmed by ``cutoff`` and delete stored ZIPs nobody needs."""
    stale = and_(GuestImport.state == ImportState.VALIDATED.value, GuestImport.created_at <= cutoff)
    expired = 0
    for ids in _batches(GuestImport.id, stale):
        expired += _update(
            GuestImport,
            ids,
            stale,
            {"state": ImportState.EXPIRED.value, "valid_rows": [], "errors": []},
        )
        db.session.commit()
    return {
        "imports_expired": expired,
        "import_files_deleted": _delete_unneeded_archives() + _delete_orphan_folders(cutoff),
    }


def _delete_unneeded_archives() -> int:
    """Files of lists no longer staging or waiting for a confirm (confirm copied the photos)."""
    unneeded = and_(
        or_(GuestImport.photos_path.is_not(None), GuestImport.sheet_path.is_not(None)),
        GuestImport.state.not_in((ImportState.STAGING.value, ImportState.VALIDATED.value)),
    )
    deleted = 0
    for ids in _batches(GuestImport.id, unneeded):
        rows = db.session.execute(
            select(GuestImport.id, GuestImport.photos_path, GuestImport.sheet_path).where(
                GuestImport.id.in_(ids)
            )
        ).all()
        for import_id, *paths in rows:
            # Both files share the upload's folder, which goes as a whole.
            path = next(path for path in paths if path)
            deleted += import_files.delete_archive(path, import_id)
        _update(GuestImport, ids, unneeded, {"photos_path": None, "sheet_path": None})
        db.session.commit()
    return deleted


def _delete_orphan_folders(cutoff) -> int:
    """Upload folders no import points at (a crash between two steps), once older than cutoff."""
    root = import_files.imports_dir()
    if not root.is_dir():
        return 0
    kept = {
        Path(path).parent.resolve()
        for column in (GuestImport.photos_path, GuestImport.sheet_path)
        for path in db.session.scalars(select(column).where(column.is_not(None)))
    }
    oldest = cutoff.timestamp()
    deleted = 0
    for folder in root.iterdir():
        if not folder.is_dir() or folder.resolve() in kept:
            continue
        if _modified_at(folder) <= oldest:
            shutil.rmtree(folder, ignore_errors=True)
            deleted += 1
    return deleted


def _modified_at(folder):
    try:
        return max(os.stat(entry).st_mtime for entry in [folder, *folder.iterdir()])
    except OSError:
        return time.time()  # vanished or unreadable meanwhile: leave it to the next run


def purge_personal_data(*, now=None) -> dict[str, int]:
    """Apply every retention rule once; returns what each one removed (all 0 on a second run)."""
    now = now or utcnow()
    photo_cutoff, personal_cutoff, upload_cutoff = _cutoffs(current_app.config, now)
    counts = {"photos_deleted": purge_photos(photo_cutoff)}
    counts.update(anonymize_guests(personal_cutoff))
    counts.update(expire_import_uploads(upload_cutoff))
    counts["audit_entries_deleted"] = audit.purge(
        current_app.config.get("AUDIT_RETENTION_DAYS", 365), now=now
    )
    if any(counts.values()):
        log.info("personal data purged: %s", counts)
    return counts
