"""Reading a guest sheet: CSV or XLSX detected by content, rows streamed after the header."""

import codecs
import csv
import io
import logging
import os
import re
import tempfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from xml.etree.ElementTree import ParseError

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from portal.i18n import N_
from portal.services.brief import MAX_NAME_CHARS, cap_text, name_list
from portal.sheets.headers import HEADER_SEARCH_ROWS, ColumnMap, find_header
from portal.sheets.photo_archive import PhotoArchiveError, check_zip_limits, open_zip
from portal.sheets.values import cell_text

log = logging.getLogger(__name__)

HEAD_BYTES = 8192
CHUNK = 64 * 1024
SNIFF_CHARS = 32 * 1024
DELIMITERS = ";,\t|"
XLSX_MAX_BYTES = 256 * 1024 * 1024  # unpacked workbook
XLSX_MAX_RATIO = 1000  # sheet XML compresses very well, but not a thousandfold
NAME_JOINED = {"full_name", "first_name", "last_name", "middle_name"}

_MAGIC = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", N_("an old-format Excel 97-2003 (.xls) workbook")),
    (b"%PDF", N_("a PDF document")),
    (b"\x89PNG", N_("a PNG image")),
    (b"\xff\xd8\xff", N_("a JPEG image")),
    (b"GIF8", N_("a GIF image")),
    (b"\x1f\x8b", N_("a gzip archive")),
    (b"Rar!", N_("a RAR archive")),
    (b"7z\xbc\xaf", N_("a 7-Zip archive")),
)
_MARKUP = re.compile(rb"^\s*<(!doctype html|html|\?xml|table)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# What openpyxl and zipfile raise on a damaged workbook.
XLSX_ERRORS = (
    zipfile.BadZipFile,
    InvalidFileException,
    ParseError,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    AttributeError,
    OSError,
    EOFError,
    zlib.error,
)


class SheetError(ValueError):
    """A sheet that cannot be read; the message is a sentence for the organizer."""

    def __init__(self, message, *, row=None, column=None):
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column

    def as_error(self) -> dict:
        """The {"row", "column", "message"} form used for row errors."""
        return {"row": self.row, "column": self.column, "message": self.message}

    def __str__(self):
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        # For logs and the command line; pages show the message with its row and column.
        return f"{', '.join(where).capitalize()}: {self.message}" if where else self.message


@dataclass(slots=True)
class SheetRow:
    """One data row: its number as the user sees it and its values by guest field."""

    number: int
    values: dict
    labels: dict  # field -> header text as written (shared by all rows of a sheet)


class SheetReader:
    """An opened guest sheet: what was detected, and its data rows (one pass)."""

    def __init__(self, filename, kind, raw_rows, closer, **details):
        self.filename = filename
        self.kind = kind  # "csv" | "xlsx"
        self.encoding = details.get("encoding")
        self.delimiter = details.get("delimiter")
        self.sheet_name = details.get("sheet_name")
        self.sheet_names = details.get("sheet_names", [])
        self.warnings: list[str] = list(details.get("warnings", []))
        self._raw = raw_rows
        self._closer = closer
        self._pending = []
        self._map = self._detect_header()

    @property
    def header_row(self) -> int:
        return self._map.header_row

    @property
    def headers(self) -> list[str]:
        """The header row's cells as written ('' for blank cells)."""
        return self._map.headers

    @property
    def labels(self) -> dict[str, str]:
        """Guest field -> the header text the user wrote for it."""
        return self._map.labels

    @property
    def fields(self) -> list[str]:
        return list(self._map.columns)

    def _detect_header(self) -> ColumnMap:
        seen = []
        for number, cells in self._raw:
            if any(cell_text(cell) for cell in cells):
                seen.append((number, cells))
                if len(seen) >= HEADER_SEARCH_ROWS:
                    break
        if not seen:
            if not self.sheet_name:
                raise SheetError(N_("The file is empty: it has no rows."))
            others = ", ".join(repr(n) for n in self.sheet_names if n != self.sheet_name)
            if others:
                raise SheetError(
                    N_(
                        "The sheet %(name)s is empty: it has no rows. "
                        "The workbook's other sheets: %(others)s."
                    )
                    % {"name": repr(self.sheet_name), "others": others}
                )
            raise SheetError(
                N_("The sheet %(name)s is empty: it has no rows.") % {"name": repr(self.sheet_name)}
            )
        mapped, after = find_header(seen)
        if mapped is None:
            raise SheetError(
                N_(
                    "No column headers recognized: the first row must name the columns, "
                    "at least the guest's name (full_name or ФИО, or first_name and last_name)."
                ),
                row=seen[0][0],
            )
        if not mapped.has_name:
            found = name_list(h for h in mapped.headers if h) or N_("none")
            raise SheetError(
                N_(
                    "The sheet has no name column: add full_name (ФИО), or first_name and "
                    "last_name (Имя, Фамилия). Columns found: %(found)s."
                )
                % {"found": found},
                row=mapped.header_row,
            )
        self._pending = after
        self._note_columns(mapped)
        return mapped

    def _note_columns(self, mapped):
        if mapped.ignored:
            names = name_list(mapped.ignored)
            self.warnings.append(
                N_("Columns not recognized and ignored: %(names)s.") % {"names": names}
            )
        if len(mapped.duplicates) == 1:
            self.warnings.append(
                N_("Column %(name)s repeats an earlier column and is ignored.")
                % {"name": repr(cap_text(mapped.duplicates[0], MAX_NAME_CHARS))}
            )
        elif mapped.duplicates:
            self.warnings.append(
                N_("Columns repeating earlier ones are ignored: %(names)s.")
                % {"names": name_list(mapped.duplicates)}
            )

    def __iter__(self):
        return self.rows()

    def rows(self):
        """The data rows after the header; rows with nothing in the guest columns are skipped."""
        for number, cells in self._pending:
            row = self._row(number, cells)
            if row is not None:
                yield row
        self._pending = []
        for number, cells in self._raw:
            row = self._row(number, cells)
            if row is not None:
                yield row

    def _row(self, number, cells):
        values = {}
        for name, indexes in self._map.columns.items():
            found = [cells[i] for i in indexes if i < len(cells) and cell_text(cells[i])]
            if not found:
                continue
            if name in NAME_JOINED:
                values[name] = " ".join(cell_text(value) for value in found)
            else:
                values[name] = found[0]
        return SheetRow(number, values, self._map.labels) if values else None

    def close(self):
        closer, self._closer = self._closer, None
        if closer is not None:
            closer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


def read_sheet(source, filename, *, sheet_name=None) -> SheetReader:
    """Open a CSV or XLSX guest sheet (bytes, a path or a binary stream) and find its header."""
    stream, owned = _open_source(source)
    try:
        head = stream.read(HEAD_BYTES)
        stream.seek(0)
        kind = _sniff_kind(head, filename)
        notes = _extension_notes(kind, filename)
        if kind == "xlsx":
            raw, closer, details = _open_xlsx(stream, filename, sheet_name)
        else:
            raw, closer, details = _open_csv(stream, head, owned)
    except BaseException:
        if owned:
            stream.close()
        raise
    details["warnings"] = notes
    closed = []

    def close_all():
        if not closed:
            closed.append(True)
            closer()
            if owned:
                stream.close()

    try:
        return SheetReader(filename, kind, raw, close_all, **details)
    except BaseException:
        close_all()
        raise


def _open_source(source):
    """A seekable binary stream and whether we own (and must close) it."""
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source)), True
    if isinstance(source, str | os.PathLike):
        return open(Path(source), "rb"), True  # noqa: SIM115 (closed by the reader)
    if getattr(source, "seekable", lambda: False)():
        source.seek(0)
        return source, False
    copy = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    while chunk := source.read(CHUNK):
        copy.write(chunk)
    copy.seek(0)
    return copy, True


def _sniff_kind(head, filename):
    if not head.lstrip(codecs.BOM_UTF8).strip():
        raise SheetError(N_("%(file)s is empty.") % {"file": filename})
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "xlsx"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise SheetError(
                N_(
                    "%(file)s is %(what)s, not a CSV or .xlsx sheet: "
                    "open it in Excel and save it as .xlsx or CSV."
                )
                % {"file": filename, "what": what}
            )
    if _MARKUP.match(head.lstrip(codecs.BOM_UTF8)):
        raise SheetError(
            N_(
                "%(file)s is a web page or XML, not a CSV or .xlsx sheet: "
                "open it in Excel and save it as .xlsx or CSV."
            )
            % {"file": filename}
        )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "csv"
    if b"\x00" in head:
        raise SheetError(
            N_(
                "%(file)s is a binary file, not a CSV or .xlsx sheet: "
                "open it in Excel and save it as .xlsx or CSV."
            )
            % {"file": filename}
        )
    return "csv"


def _extension_notes(kind, filename):
    suffix = Path(filename or "").suffix.lower()
    if kind == "csv" and suffix in {".xlsx", ".xlsm"}:
        return [f"{filename} is not an Excel workbook but a text (CSV) file; it was read as CSV."]
    if kind == "xlsx" and suffix in {".csv", ".txt"}:
        return [f"{filename} is an Excel workbook, not a CSV file; it was read as a workbook."]
    return []


def _open_xlsx(stream, filename, sheet_name):
    _check_workbook_archive(stream, filename)
    stream.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions
            book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except XLSX_ERRORS as exc:
        log.info("xlsx refused: %s", type(exc).__name__)
        raise SheetError(
            N_(
                "%(file)s is a damaged Excel file: "
                "open it in Excel and save it as .xlsx or CSV again."
            )
            % {"file": filename}
        ) from exc
    try:
        sheet = _pick_sheet(book, sheet_name)
        sheet.reset_dimensions()  # some writers store a wrong size; read what is there
    except BaseException:
        book.close()
        raise
    details = {"sheet_name": sheet.title, "sheet_names": list(book.sheetnames)}
    return _xlsx_rows(sheet, filename), book.close, details


def _check_workbook_archive(stream, filename):
    try:
        archive = open_zip(stream, what=filename)
    except PhotoArchiveError as exc:
        raise SheetError(
            N_(
                "%(file)s is a damaged Excel file: "
                "open it in Excel and save it as .xlsx or CSV again."
            )
            % {"file": filename}
        ) from exc
    with archive:
        names = set(archive.namelist())
        if "xl/workbook.xml" not in names:
            what = "an OpenDocument spreadsheet" if "content.xml" in names else "a ZIP archive"
            raise SheetError(
                N_(
                    "%(file)s is %(what)s, not a CSV or .xlsx sheet: "
                    "open it in Excel and save it as .xlsx or CSV."
                )
                % {"file": filename, "what": what}
            )
        try:
            check_zip_limits(
                archive, max_total_bytes=XLSX_MAX_BYTES, max_ratio=XLSX_MAX_RATIO, what=filename
            )
        except PhotoArchiveError as exc:
            raise SheetError(exc.message) from exc


def _pick_sheet(book, sheet_name):
    if not book.worksheets:
        raise SheetError(N_("The workbook has no sheets."))
    if sheet_name is None:
        return book.worksheets[0]
    wanted = sheet_name.strip().casefold()
    for sheet in book.worksheets:
        if sheet.title.strip().casefold() == wanted:
            return sheet
    names = ", ".join(repr(s.title) for s in book.worksheets)
    raise SheetError(
        N_("The workbook has no sheet named %(name)s; its sheets: %(names)s.")
        % {"name": repr(sheet_name), "names": names}
    )


def _xlsx_rows(sheet, filename):
    number = 0
    try:
        for number, cells in enumerate(sheet.iter_rows(min_row=1), start=1):
            yield number, [_xlsx_value(cell) for cell in cells]
    except XLSX_ERRORS as exc:
        log.info("xlsx row refused: %s", type(exc).__name__)
        raise SheetError(
            N_(
                "%(file)s is damaged after this row: "
                "open it in Excel and save it as .xlsx or CSV again."
            )
            % {"file": filename},
            row=number,
        ) from exc


def _xlsx_value(cell):
    """A cell's value; a date-formatted cell gives a date (Excel stores it as midnight)."""
    value = cell.value
    if isinstance(value, datetime) and "h" not in (cell.number_format or "").lower():
        return value.date()
    return value


def _open_csv(stream, head, owned):
    encoding = _detect_encoding(stream, head)
    errors = "replace" if encoding == "cp1251" else "strict"
    text = io.TextIOWrapper(stream, encoding=encoding, errors=errors, newline="")
    sample = text.read(SNIFF_CHARS)
    text.seek(0)
    if len(_CONTROL.findall(sample[:HEAD_BYTES])) > max(2, len(sample[:HEAD_BYTES]) // 100):
        text.detach()
        raise SheetError(
            N_(
                "The file is not a CSV text nor an .xlsx sheet: "
                "open it in Excel and save it as .xlsx or CSV."
            )
        )
    delimiter = sniff_delimiter(sample)
    details = {"encoding": encoding, "delimiter": delimiter}
    closer = text.close if owned else text.detach
    return _csv_rows(text, delimiter), closer, details


def _detect_encoding(stream, head):
    """UTF-8 (with or without BOM) or UTF-16 when the bytes say so, else cp1251."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := stream.read(CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1251"
    finally:
        stream.seek(0)


def sniff_delimiter(sample: str) -> str:
    """The delimiter among ; , tab | (csv.Sniffer, checked against a plain count)."""
    cut = sample.rfind("\n")
    sample = sample[: cut + 1] if cut > 0 else sample
    lines = [line for line in sample.splitlines() if line.strip()][:50]
    if not lines:
        return ","
    counts = {d: sum(len(f) - 1 for f in csv.reader(lines, delimiter=d)) for d in DELIMITERS}
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    best = max(DELIMITERS, key=lambda d: counts[d])
    # The Sniffer is fooled by commas inside names; trust it only when it is not far behind.
    if sniffed in counts and counts[sniffed] >= counts[best] / 2 and counts[sniffed] > 0:
        return sniffed
    return best if counts[best] > 0 else ","


def _csv_rows(text, delimiter):
    reader = csv.reader(text, delimiter=delimiter)
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, cells
    except csv.Error as exc:
        raise SheetError(
            N_("This row cannot be read as CSV (an unclosed quote or an overlong cell)."),
            row=number + 1,
        ) from exc
    except UnicodeDecodeError as exc:
        raise SheetError(N_("This row has bytes that are not text."), row=number + 1) from exc
