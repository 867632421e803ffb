"""Files we hand to organizers: the error list as CSV and the guest sheet templates."""

import csv
import io
from datetime import UTC, datetime, time, timedelta

from openpyxl import Workbook
from openpyxl.styles import Font

from portal.models import utcnow

BOM = "\ufeff"
# A spreadsheet treats a cell starting with these as a formula (CSV/formula injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# The template's headers per language (any of them is read back, see headers.py); a language
# without its own headers gets the English ones.
TEMPLATE_HEADERS = {
    "en": ["full_name", "email", "phone", "company", "photo", "starts_at", "ends_at"],
    "ru": ["ФИО", "Email", "Телефон", "Компания", "Фото", "Начало", "Окончание"],
}
TEMPLATE_EXAMPLES = {
    "en": ["Ada Lovelace", "ada@example.com", "(020) 7946 0000", "Analytical Engines", "ada.jpg"],
    "ru": [
        "Иванов Иван Иванович",
        "ivanov@example.com",
        "8 (999) 123-45-67",
        "ООО Ромашка",
        "ivanov.jpg",
    ],
}
# Example phones do not start with "+": Excel would take that for a formula.
# Excel in Russian locales separates CSV fields with ";", in English ones with ",".
TEMPLATE_DELIMITERS = {"en": ",", "ru": ";"}
TIME_FORMAT = "%d.%m.%Y %H:%M"
ERROR_HEADERS = ("row", "column", "message")


def csv_safe(value) -> str:
    """A cell that a spreadsheet will show as text, never run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_bytes(rows, delimiter) -> bytes:
    buf = io.StringIO()
    buf.write(BOM)  # Excel reads UTF-8 only when the file starts with a BOM
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow([csv_safe(cell) for cell in row])
    return buf.getvalue().encode("utf-8")


def errors_csv(errors, *, delimiter=";", headers=ERROR_HEADERS, say=str) -> bytes:
    """The row errors as a CSV for Excel (UTF-8 with BOM, formula-safe).

    ``headers`` name the three columns and ``say`` renders each stored message (the page passes
    the viewer's language).
    """
    rows = [headers]
    rows += [(e.get("row") or "", e.get("column") or "", say(e.get("message", ""))) for e in errors]
    return _csv_bytes(rows, delimiter)


def _example_window(example_window, zone):
    if example_window:
        return tuple(moment.astimezone(zone) for moment in example_window)
    tomorrow = utcnow().astimezone(zone).date() + timedelta(days=1)
    return (
        datetime.combine(tomorrow, time(9), zone),
        datetime.combine(tomorrow, time(18), zone),
    )


def template_language(language):
    """``language`` when it has its own template headers, else English."""
    return language if language in TEMPLATE_HEADERS else "en"


def template_csv(*, language="en", example_window=None, timezone=UTC) -> bytes:
    """A guest sheet template as CSV: the headers and one example row."""
    language = template_language(language)
    start, end = _example_window(example_window, timezone)
    example = TEMPLATE_EXAMPLES[language] + [start.strftime(TIME_FORMAT), end.strftime(TIME_FORMAT)]
    return _csv_bytes([TEMPLATE_HEADERS[language], example], TEMPLATE_DELIMITERS[language])


def template_xlsx(*, language="en", example_window=None, timezone=UTC) -> bytes:
    """A guest sheet template as XLSX: bold headers, one example row, real date cells."""
    language = template_language(language)
    start, end = _example_window(example_window, timezone)
    book = Workbook()
    sheet = book.active
    sheet.title = "Guests" if language == "en" else "Гости"
    sheet.append(TEMPLATE_HEADERS[language])
    sheet.append(TEMPLATE_EXAMPLES[language] + [_naive(start), _naive(end)])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for cell in sheet[2]:
        cell.number_format = "@"  # phone numbers stay text (a leading + survives)
    for cell in sheet[2][5:]:
        cell.number_format = "dd.mm.yyyy hh:mm"
    for column, width in zip("ABCDEFG", (28, 26, 20, 24, 16, 18, 18), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _naive(moment):
    """Excel has no time zones: local wall time."""
    return moment.replace(tzinfo=None)
