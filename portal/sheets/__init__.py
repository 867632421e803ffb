"""Guest sheets for event imports: read, validate, export (pure functions, no HTTP, no DB).

    with read_sheet(upload.stream, upload.filename) as sheet:
        report = validate_rows(sheet, event_window=(event.starts_at, event.ends_at),
                               existing_keys=keys, photos=archive, now=utcnow(),
                               timezone=app.config["TIMEZONE"])

``existing_keys`` are the ``dedupe_keys(full_name, email, phone)`` of the guests already
registered for the event. ``SheetError`` (a file that cannot be read at all, raised by
``read_sheet`` or while iterating its rows) and ``PhotoArchiveError`` (a photo ZIP that cannot be
used) carry a ``message`` for the organizer; everything row by row is in the report.
"""

from portal.sheets.export import csv_safe, errors_csv, template_csv, template_xlsx
from portal.sheets.headers import FIELDS, match_header
from portal.sheets.photo_archive import PhotoArchive, PhotoArchiveError
from portal.sheets.reader import SheetError, SheetReader, SheetRow, read_sheet
from portal.sheets.validate import (
    MAX_ROWS,
    GuestRow,
    ValidationReport,
    quick_photo_check,
    validate_rows,
)
from portal.sheets.values import dedupe_keys

__all__ = [
    "FIELDS",
    "MAX_ROWS",
    "GuestRow",
    "PhotoArchive",
    "PhotoArchiveError",
    "SheetError",
    "SheetReader",
    "SheetRow",
    "ValidationReport",
    "csv_safe",
    "dedupe_keys",
    "errors_csv",
    "match_header",
    "quick_photo_check",
    "read_sheet",
    "template_csv",
    "template_xlsx",
    "validate_rows",
]
