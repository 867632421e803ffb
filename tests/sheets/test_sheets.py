"""Guest sheets: reading CSV/XLSX as organizers really send them, and validating every row."""

import io
import json
import os
import tracemalloc
import zipfile
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from portal.bench.imports import import_
from portal.services.photos import PhotoError, normalize_photo
from portal.sheets import (
    GuestRow,
    SheetError,
    dedupe_keys,
    errors_csv,
    quick_photo_check,
    read_sheet,
    template_csv,
    template_xlsx,
    validate_rows,
)
from portal.sheets import reader as sheet_reader
from portal.sheets.photo_archive import PhotoArchive
from tests.fixtures.sheets import (
    EN_HEADERS,
    EVENT_END,
    EVENT_START,
    RU_HEADERS,
    SHEET_NOW,
    csv_bytes,
    photo,
    xlsx_bytes,
    zip_bytes,
)

MSK = ZoneInfo("Europe/Moscow")
WINDOW = (EVENT_START, EVENT_END)


def msk(*args):
    return datetime(*args, tzinfo=MSK).astimezone(UTC)


def check(data, filename="guests.csv", *, sheet_name=None, **options):
    """Read and validate a sheet the way the import page will."""
    options.setdefault("event_window", WINDOW)
    options.setdefault("now", SHEET_NOW)
    options.setdefault("timezone", MSK)
    with read_sheet(data, filename, sheet_name=sheet_name) as sheet:
        return validate_rows(sheet, **options)


def messages(report):
    return [(e["row"], e["column"], e["message"]) for e in report.errors]


# --- reading: encodings, delimiters, workbooks -------------------------------------------


def test_cp1251_semicolon_csv_with_russian_headers():
    rows = [RU_HEADERS[:4], ["Иванов Иван", "ivanov@example.com", "+7 (999) 123-45-67", "Ромашка"]]
    data = csv_bytes(rows, delimiter=";", encoding="cp1251")
    with read_sheet(data, "гости.csv") as sheet:
        assert (sheet.kind, sheet.encoding, sheet.delimiter) == ("csv", "cp1251", ";")
        assert sheet.labels == {
            "full_name": "ФИО",
            "email": "Электронная почта",
            "phone": "Телефон",
            "company": "Компания",
        }
        report = validate_rows(sheet, event_window=WINDOW, now=SHEET_NOW, timezone=MSK)
    guest = report.rows[0]
    assert (guest.row_number, guest.full_name, guest.company) == (2, "Иванов Иван", "Ромашка")
    assert (guest.starts_at, guest.ends_at) == WINDOW  # no times given: the event's window
    assert report.errors == []


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"])
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8"])
def test_any_excel_delimiter_and_utf8_with_or_without_bom(delimiter, encoding):
    rows = [
        EN_HEADERS[:4],
        ["Lovelace, Ada", "ada@example.com", "+44 20 7946 0000", 'The "Engine" Co; Ltd'],
        ["Charles Babbage", "cb@example.com", "", "Engines, Ltd"],
    ]
    with read_sheet(csv_bytes(rows, delimiter=delimiter, encoding=encoding), "g.csv") as sheet:
        assert (sheet.delimiter, sheet.encoding) == (delimiter, encoding)
        report = validate_rows(sheet, event_window=WINDOW, now=SHEET_NOW)
    assert [g.full_name for g in report.rows] == ["Lovelace, Ada", "Charles Babbage"]
    assert report.rows[0].company == 'The "Engine" Co; Ltd'
    assert report.rows[1].phone is None


def test_utf16_tab_text_from_excel_unicode_export():
    data = csv_bytes([RU_HEADERS[:2], ["Петрова Анна", "anna@example.com"]], delimiter="\t")
    data = data.decode("utf-8-sig").encode("utf-16")
    report = check(data, "unicode.txt")
    assert [g.full_name for g in report.rows] == ["Петрова Анна"]


def test_xlsx_first_sheet_by_default_and_a_named_sheet():
    data = xlsx_bytes(
        sheets={
            "Readme": [["Full name"], ["Not A Guest"]],
            "Гости": [["Name", "Email"], ["Ada Lovelace", "ada@example.com"]],
        }
    )
    with read_sheet(data, "g.xlsx") as sheet:
        assert (sheet.kind, sheet.sheet_name, sheet.sheet_names) == (
            "xlsx",
            "Readme",
            ["Readme", "Гости"],
        )
        assert [row.values["full_name"] for row in sheet] == ["Not A Guest"]
    report = check(data, "g.xlsx", sheet_name="гости")
    assert [(g.row_number, g.email) for g in report.rows] == [(2, "ada@example.com")]
    with pytest.raises(SheetError, match="no sheet named 'Guests'; its sheets: 'Readme', 'Гости'"):
        read_sheet(data, "g.xlsx", sheet_name="Guests")


def test_header_aliases_match_whatever_the_case_spaces_and_punctuation():
    headers = [
        "  Ф.И.О. ",
        "E-MAIL",
        "Моб. телефон",
        "Организация",
        "Фотография",
        "Время прихода",
        "Дата окончания",
        "Комментарий",
    ]
    with read_sheet(csv_bytes([headers, ["Ann Lee"] + [""] * 7]), "g.csv") as sheet:
        assert sheet.fields == [
            "full_name",
            "email",
            "phone",
            "company",
            "photo",
            "starts_at",
            "ends_at",
        ]
        assert sheet.labels["full_name"] == "Ф.И.О."
        assert sheet.warnings == ["Columns not recognized and ignored: 'Комментарий'."]


def test_first_last_and_middle_names_make_the_full_name():
    rows = [
        ["Фамилия", "Имя", "Отчество", "Email"],
        ["Иванов", "Иван", "Иванович", "i@example.com"],
        ["Lee", "Ann", "", "ann@example.com"],
        ["Петров", "", "", "p@example.com"],
    ]
    report = check(csv_bytes(rows))
    first, second = report.rows
    assert (first.full_name, first.given_name, first.family_name) == (
        "Иванов Иван Иванович",
        "Иван Иванович",
        "Иванов",
    )
    assert second.full_name == "Ann Lee"
    assert messages(report) == [
        (4, "Имя", "The first name is empty: the guest needs both names."),
    ]


# --- bad files -------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \r\n\r\n", b"\xef\xbb\xbf"])
def test_empty_file(data):
    with pytest.raises(SheetError, match="empty"):
        read_sheet(data, "guests.csv")


def test_workbook_with_an_empty_sheet():
    with pytest.raises(SheetError, match="The sheet 'Sheet1' is empty"):
        read_sheet(xlsx_bytes([]), "guests.xlsx")
    data = xlsx_bytes(sheets={"Лист1": [], "Гости": [["ФИО"], ["Ann Lee"]]})
    with pytest.raises(SheetError, match="The workbook's other sheets: 'Гости'"):
        read_sheet(data, "guests.xlsx")


@pytest.mark.parametrize(
    "data, what",
    [
        (photo(), "a JPEG image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "old-format Excel 97-2003"),
        (b"<html><table><tr><td>Name</td></tr></table></html>", "a web page"),
        (zip_bytes({"ivanov.jpg": b"x"}), "a ZIP archive"),
        (zip_bytes({"content.xml": b"<x/>", "mimetype": b"ods"}), "an OpenDocument spreadsheet"),
        (bytes(range(256)) * 8, "a binary file"),
    ],
)
def test_file_that_is_not_a_sheet_is_refused_by_content(data, what):
    with pytest.raises(SheetError, match=what) as caught:
        read_sheet(data, "guests.xlsx")
    assert "not a CSV or .xlsx sheet" in caught.value.message


def test_binary_garbage_without_nul_bytes_is_refused():
    garbage = bytes(b for b in os.urandom(6000) if b)  # decodes as cp1251, but is not text
    with pytest.raises(SheetError, match="not a CSV text"):
        read_sheet(garbage, "guests.csv")


def test_csv_named_xlsx_is_read_as_csv_with_a_warning():
    data = csv_bytes([["Name"], ["Ada Lovelace"]])
    with read_sheet(data, "guests.xlsx") as sheet:
        assert sheet.kind == "csv"
        assert sheet.warnings == [
            "guests.xlsx is not an Excel workbook but a text (CSV) file; it was read as CSV."
        ]
        assert [row.values for row in sheet] == [{"full_name": "Ada Lovelace"}]


def test_xlsx_named_csv_is_read_as_a_workbook_with_a_warning():
    with read_sheet(xlsx_bytes([["Name"], ["Ada Lovelace"]]), "guests.csv") as sheet:
        assert sheet.kind == "xlsx"
        assert "it was read as a workbook" in sheet.warnings[0]


def test_broken_xlsx_is_refused_clearly():
    data = xlsx_bytes([["Name"], ["Ada Lovelace"]])
    with pytest.raises(SheetError, match="guests.xlsx is a damaged Excel file"):
        read_sheet(data[: len(data) // 2], "guests.xlsx")
    garbage = zip_bytes({"xl/workbook.xml": b"<not really", "[Content_Types].xml": b"<"})
    with pytest.raises(SheetError, match="damaged Excel file"):
        read_sheet(garbage, "guests.xlsx")


def test_xlsx_that_unpacks_too_large_is_refused(monkeypatch):
    monkeypatch.setattr(sheet_reader, "XLSX_MAX_BYTES", 200_000)
    data = xlsx_bytes([["Name"]] + [[f"Guest {n}"] for n in range(5000)])
    with pytest.raises(SheetError, match="unpacks to more than"):
        read_sheet(data, "guests.xlsx")


def test_sheet_without_a_name_column_names_the_header_row():
    data = csv_bytes([["Email", "Телефон"], ["a@example.com", "+7 999 000-00-00"]])
    with pytest.raises(SheetError) as caught:
        read_sheet(data, "guests.csv")
    error = caught.value
    assert error.row == 1
    assert "no name column" in error.message and "'Email', 'Телефон'" in error.message
    assert str(error).startswith("Row 1: The sheet has no name column")


def test_sheet_without_any_known_header():
    with pytest.raises(SheetError, match="No column headers recognized") as caught:
        read_sheet(csv_bytes([["foo", "bar"], ["1", "2"]]), "guests.csv")
    assert caught.value.as_error()["row"] == 1


# --- layout: blank rows, titles, merged headers ------------------------------------------------


def test_blank_rows_in_the_middle_are_skipped_and_numbering_follows_the_sheet():
    rows = [
        ["Name", "Email", "№"],
        ["Ann Lee", "ann@example.com", "1"],
        ["", "", ""],
        ["", "", "2"],
        ["Bob Ray", "bad-address", "3"],
        [],
        ["Cy Twombly", "", "4"],
    ]
    for data, name in ((csv_bytes(rows), "g.csv"), (xlsx_bytes(rows), "g.xlsx")):
        report = check(data, name)
        assert [g.row_number for g in report.rows] == [2, 7]
        assert messages(report) == [(5, "Email", "'bad-address' is not a valid e-mail address.")]
        assert (report.rows_total, report.rows_valid, report.rows_invalid) == (3, 2, 1)


def test_title_rows_above_the_header():
    rows = [["Список гостей конференции"], [], ["ФИО", "Email"], ["Ann Lee", "ann@example.com"]]
    report = check(xlsx_bytes(rows, merges=["A1:B1"]), "g.xlsx")
    assert [(g.row_number, g.full_name) for g in report.rows] == [(4, "Ann Lee")]


def test_merged_header_cell_spanning_surname_and_first_name_columns():
    rows = [["ФИО", None, "Email"], ["Иванов", "Иван", "ivan@example.com"]]
    report = check(xlsx_bytes(rows, merges=["A1:B1"]), "g.xlsx")
    assert [g.full_name for g in report.rows] == ["Иванов Иван"]


def test_two_level_header_with_merged_group_cells():
    rows = [
        ["ФИО", None, None, "Контакты", None, "Фото"],
        ["Фамилия", "Имя", "Отчество", "E-mail", "Телефон", None],
        ["Иванов", "Иван", "Иванович", "ivan@example.com", "89991234567", "ivanov.jpg"],
    ]
    data = xlsx_bytes(rows, merges=["A1:C1", "D1:E1", "F1:F2"])
    photos = PhotoArchive(zip_bytes({"ivanov.jpg": photo()}))
    with read_sheet(data, "g.xlsx") as sheet:
        assert sheet.header_row == 2
        assert sheet.labels["photo"] == "Фото"
        report = validate_rows(sheet, event_window=WINDOW, now=SHEET_NOW, photos=photos)
    guest = report.rows[0]
    assert (guest.row_number, guest.full_name, guest.photo_name) == (
        3,
        "Иванов Иван Иванович",
        "ivanov.jpg",
    )


# --- values ------------------------------------------------------------------------------------


def test_dates_as_cells_serial_numbers_and_text():
    rows = [
        ["Name", "Start", "End"],
        ["A One", datetime(2026, 6, 11, 10, 30), datetime(2026, 6, 11, 17, 0)],
        ["B Two", 46184.4375, 46184.75],  # Excel serials: 11.06.2026 10:30 and 18:00
        ["C Three", "11.06.2026 09:15", "11.06.2026"],
        ["D Four", "2026-06-11T08:00:00+00:00", "2026-06-11 16:00"],
        ["E Five", "9:45", time(12, 0)],
    ]
    report = check(xlsx_bytes(rows), "g.xlsx")
    assert report.errors == []
    got = {g.full_name: (g.starts_at, g.ends_at) for g in report.rows}
    assert got["A One"] == (msk(2026, 6, 11, 10, 30), msk(2026, 6, 11, 17))
    assert got["B Two"] == (msk(2026, 6, 11, 10, 30), msk(2026, 6, 11, 18))
    assert got["C Three"] == (msk(2026, 6, 11, 9, 15), msk(2026, 6, 11, 23, 59))
    assert got["D Four"] == (datetime(2026, 6, 11, 8, tzinfo=UTC), msk(2026, 6, 11, 16))
    assert got["E Five"] == (msk(2026, 6, 11, 9, 45), msk(2026, 6, 11, 12))


def test_serial_number_typed_as_text_in_a_csv():
    report = check(csv_bytes([["Name", "Начало"], ["Ann Lee", "46184.4375"]]))
    assert report.rows[0].starts_at == msk(2026, 6, 11, 10, 30)


def test_impossible_and_unreadable_dates_name_the_row_and_column():
    rows = [
        ["ФИО", "Дата начала", "Дата окончания"],
        ["Ann Lee", "31.02.2026 10:00", ""],
        ["Bob Ray", "", "2026-02-30"],
        ["Cy Dee", "tomorrow", "25:99"],
        ["Di Eve", "11.06.2026 12:00", "12.06.2026 11:00"],
    ]
    report = check(csv_bytes(rows))
    assert messages(report) == [
        (2, "Дата начала", "'31.02.2026 10:00' is not a real date or time."),
        (3, "Дата окончания", "'2026-02-30' is not a real date or time."),
        (4, "Дата начала", "'tomorrow' is not a date and time: write it as dd.mm.yyyy hh:mm."),
        (4, "Дата окончания", "'25:99' is not a real time of day."),
    ]
    assert [g.full_name for g in report.rows] == ["Di Eve"]  # valid rows are kept


def test_times_outside_sane_bounds():
    rows = [
        ["Name", "Start", "End"],
        ["Late Start", "11.06.2026 15:00", "11.06.2026 12:00"],
        ["Too Early", "08.06.2026 10:00", ""],
        ["Too Late", "", "14.06.2026 10:00"],
        ["Fine Guest", "10.06.2026 18:00", "12.06.2026 10:00"],
    ]
    report = check(csv_bytes(rows))
    assert messages(report) == [
        (2, "End", "The visit ends (11.06.2026 12:00) before it starts (11.06.2026 15:00)."),
        (
            3,
            "Start",
            "Starts 08.06.2026 10:00, more than a day before the event (11.06.2026 10:00).",
        ),
        (4, "End", "Ends 14.06.2026 10:00, more than a day after the event (11.06.2026 18:00)."),
    ]
    assert [g.row_number for g in report.rows] == [5]


def test_visit_already_over_is_refused():
    later = datetime(2026, 6, 11, 14, tzinfo=UTC)  # 17:00 Moscow, the event still runs
    rows = [["Name", "End"], ["Gone Guest", "11.06.2026 16:00"], ["Stay Guest", ""]]
    report = check(csv_bytes(rows), now=later)
    assert messages(report) == [(2, "End", "Ends 11.06.2026 16:00, which is in the past.")]
    assert [g.full_name for g in report.rows] == ["Stay Guest"]


def test_naive_times_are_read_in_the_given_timezone():
    rows = [["Name", "Start"], ["Ann Lee", datetime(2026, 6, 11, 12, 0)]]
    report = check(xlsx_bytes(rows), "g.xlsx", timezone="Asia/Yekaterinburg")
    assert report.rows[0].starts_at == datetime(2026, 6, 11, 7, 0, tzinfo=UTC)


def test_email_and_phone_must_be_well_formed():
    rows = [
        ["Name", "Email", "Phone"],
        ["Ann Lee", "Ann@Example.COM", "+7 (999) 123-45-67"],
        ["Bob Ray", "bob@", "12345"],
        ["Cy Dee", "cy@example.com", "call me"],
        ["Di Eve", "", 79991234567],  # a number cell in Excel
    ]
    report = check(xlsx_bytes(rows), "g.xlsx")
    assert [(g.email, g.phone) for g in report.rows] == [
        ("Ann@example.com", "+7 (999) 123-45-67"),
        (None, "79991234567"),
    ]
    phone_rule = "use 7 to 15 digits, optionally with +, spaces, dashes or parentheses."
    assert messages(report) == [
        (3, "Email", "'bob@' is not a valid e-mail address."),
        (3, "Phone", f"'12345' is not a phone number: {phone_rule}"),
        (4, "Phone", f"'call me' is not a phone number: {phone_rule}"),
    ]


def test_name_must_be_present_and_have_letters():
    rows = [["ФИО", "Email"], ["", "a@example.com"], ["-", "b@example.com"], ["X" * 201, ""]]
    report = check(csv_bytes(rows))
    assert messages(report) == [
        (2, "ФИО", "The guest's name is empty."),
        (3, "ФИО", "'-' is not a name: it has no letters."),
        (4, "ФИО", "The name is too long: at most 200 characters."),
    ]


def test_formula_like_cells_and_html_are_kept_as_plain_text():
    rows = [
        ["Name", "Company"],
        ['=HYPERLINK("http://x","Ann")', "+Acme"],
        ["<b>Bob</b> <script>alert(1)</script>", "@corp"],
        ["Cy Dee", "-minus"],
    ]
    workbook = xlsx_bytes(rows, text_cells=["A2"])
    for data, name in ((csv_bytes(rows, delimiter=","), "g.csv"), (workbook, "g.xlsx")):
        report = check(data, name)
        assert [(g.full_name, g.company) for g in report.rows] == [
            ('=HYPERLINK("http://x","Ann")', "+Acme"),
            ("<b>Bob</b> <script>alert(1)</script>", "@corp"),
            ("Cy Dee", "-minus"),
        ]


# --- duplicates ----------------------------------------------------------------------------------


def test_duplicates_within_the_sheet():
    rows = [
        ["ФИО", "Email", "Телефон"],
        ["Иванов Иван", "ivan@example.com", ""],
        ["иван  ИВАНОВ", "IVAN@example.com", ""],  # same name (any order/case) and e-mail
        ["Пётр Сидоров", "", "8 (999) 111-22-33"],
        ["Петр Сидоров", "", "+7 999 111 22 33"],  # same phone written differently, ё = е
        ["Анна Кузнецова", "", ""],
        ["Анна Кузнецова", "", ""],  # nothing but the name
        ["Иванов Иван", "other@example.com", ""],  # a namesake with another address
    ]
    report = check(csv_bytes(rows))
    assert messages(report) == [
        (3, "ФИО", "The same guest as row 2 (same name and e-mail)."),
        (5, "ФИО", "The same guest as row 4 (same name and phone)."),
        (7, "ФИО", "The same guest as row 6 (same name)."),
    ]
    assert [g.row_number for g in report.rows] == [2, 4, 6, 8]


def test_guests_already_registered_for_the_event():
    existing = set(dedupe_keys("Ann Lee", "ann@example.com", None))
    existing |= set(dedupe_keys("Bob Ray", None, "+7 999 000 11 22"))
    rows = [
        ["Name", "Email", "Phone"],
        ["ann lee", "ANN@example.com", ""],
        ["Ray Bob", "bob@example.com", "8 999 000-11-22"],
        ["New Guest", "new@example.com", ""],
    ]
    report = check(csv_bytes(rows), existing_keys=existing)
    assert messages(report) == [
        (2, "Name", "Already registered for this event (same name and e-mail)."),
        (3, "Name", "Already registered for this event (same name and phone)."),
    ]
    assert report.rows[0].dedupe_key == "guest new|e:new@example.com"


# --- photos --------------------------------------------------------------------------------------


def test_photos_matched_in_subfolders_case_insensitively_and_checked():
    archive = PhotoArchive(
        zip_bytes(
            {
                "Photos/Day 1/ANN.JPG": photo(),
                "bob.png": b"not an image",
                "tiny.jpg": photo((50, 50)),
            }
        )
    )
    rows = [
        ["Name", "Фото"],
        ["Ann Lee", "ann.jpg"],
        ["Bob Ray", "bob.png"],
        ["Cy Dee", "missing.jpg"],
        ["Di Eve", "tiny.jpg"],
        ["Ed Fox", ""],
    ]
    report = check(csv_bytes(rows), photos=archive)
    assert [(g.full_name, g.photo_name) for g in report.rows] == [
        ("Ann Lee", "Photos/Day 1/ANN.JPG"),
        ("Ed Fox", None),
    ]
    assert messages(report) == [
        (3, "Фото", "bob.png: The file is not an image: upload a JPEG or PNG photo."),
        (4, "Фото", "'missing.jpg' is not in the photo archive."),
        (5, "Фото", "tiny.jpg: The photo is too small: at least 200 pixels on its short side."),
    ]


def test_photo_named_without_an_archive():
    report = check(csv_bytes([["Name", "Photo"], ["Ann Lee", "ann.jpg"]]))
    assert messages(report) == [
        (2, "Photo", "The row names photo 'ann.jpg' but no photo archive was uploaded."),
    ]


def test_a_photo_shared_by_two_rows_is_checked_once():
    calls = []
    archive = PhotoArchive(zip_bytes({"team.jpg": photo()}))
    rows = [["Name", "Photo"], ["Ann Lee", "team.jpg"], ["Bob Ray", "TEAM.JPG"]]
    report = check(csv_bytes(rows), photos=archive, photo_check=calls.append)
    assert report.rows_valid == 2 and len(calls) == 1


# --- size --------------------------------------------------------------------------------------


def test_rows_past_the_maximum_are_refused_with_one_error():
    rows = [["Name"]] + [[f"Guest Number{n}"] for n in range(6)]
    report = check(csv_bytes(rows), max_rows=4)
    assert report.truncated and report.rows_valid == 4
    assert len(report.errors) == 1
    assert report.errors[0]["row"] == 6
    assert report.errors[0]["message"].startswith("Too many guests: at most 4 rows per sheet.")


def test_header_without_rows():
    report = check(csv_bytes([["Name", "Email"]]))
    assert messages(report) == [(1, None, "The sheet has a header but no guest rows.")]


class CountedPhoto(bytes):
    """Photo bytes that count how many of them are alive at once."""

    alive = 0
    most = 0

    def __init__(self, _data):
        CountedPhoto.alive += 1
        CountedPhoto.most = max(CountedPhoto.most, CountedPhoto.alive)

    def __del__(self):
        CountedPhoto.alive -= 1


class CountingArchive(PhotoArchive):
    def find(self, name):
        data = super().find(name)
        return CountedPhoto(data) if data is not None else None


def test_5000_rows_stream_with_one_photo_in_memory_at_a_time():
    count = 5000
    files = {f"p/{n}.jpg": n.to_bytes(4, "big") * 64 for n in range(count)}
    rows = [["Name", "Email", "Photo"]]
    rows += [[f"Guest Number{n}", f"g{n}@example.com", f"{n}.JPG"] for n in range(count)]
    checked = []

    def spy(data):
        assert CountedPhoto.alive == 1  # only the photo being checked
        checked.append(len(data))

    CountedPhoto.most = CountedPhoto.alive = 0
    report = check(csv_bytes(rows), photos=CountingArchive(zip_bytes(files)), photo_check=spy)
    assert report.rows_valid == count and report.errors == []
    assert len(checked) == count and CountedPhoto.most == 1 and CountedPhoto.alive == 0


def test_validation_memory_stays_far_below_the_photos_size():
    """200 photos of 50 kB each (10 MB) validate with one at a time in memory."""
    files = {f"{n}.jpg": os.urandom(50_000) for n in range(200)}
    archive = PhotoArchive(zip_bytes(files, compression=zipfile.ZIP_STORED))
    data = csv_bytes([["Name", "Photo"]] + [[f"Guest Number{n}", f"{n}.jpg"] for n in range(200)])
    tracemalloc.start()
    try:
        report = check(data, photos=archive, photo_check=len)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.rows_valid == 200
    assert peak < 2_000_000


def test_real_photos_go_through_normalize_photo_one_by_one(monkeypatch):
    seen = []

    def spy(data):
        seen.append(len(data))
        return normalize_photo(data)

    archive = PhotoArchive(zip_bytes({f"{n}.jpg": photo(color=(n, 90, 90)) for n in range(3)}))
    rows = [["Name", "Photo"]] + [[f"Guest Number{n}", f"{n}.jpg"] for n in range(3)]
    monkeypatch.setattr("portal.sheets.validate.normalize_photo", spy)
    assert check(csv_bytes(rows), photos=archive).rows_valid == 3
    assert len(seen) == 3


# --- exports --------------------------------------------------------------------------------


def test_errors_csv_is_excel_friendly_and_formula_safe():
    errors = [
        {"row": 2, "column": "=cmd|' /C calc'!A0", "message": "+bad"},
        {"row": 3, "column": "@sum", "message": '-1; "quoted"'},
        {"row": 4, "column": None, "message": "\tTabbed"},
    ]
    data = errors_csv(errors)
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines == [
        "row;column;message",
        "2;'=cmd|' /C calc'!A0;'+bad",
        '3;\'@sum;"\'-1; ""quoted"""',
        "4;;'\tTabbed",
    ]
    assert (
        errors_csv(errors[:1], delimiter=",").decode("utf-8-sig").splitlines()[0]
        == "row,column,message"
    )


@pytest.mark.parametrize("language", ["en", "ru"])
def test_templates_round_trip(language):
    window = (msk(2026, 6, 11, 10), msk(2026, 6, 11, 18))
    name = "ada.jpg" if language == "en" else "ivanov.jpg"
    for data, filename in (
        (template_csv(language=language, example_window=window, timezone=MSK), "t.csv"),
        (template_xlsx(language=language, example_window=window, timezone=MSK), "t.xlsx"),
    ):
        archive = PhotoArchive(zip_bytes({name: photo()}))
        report = check(data, filename, photos=archive)
        assert report.errors == [], filename
        assert report.rows_valid == 1
        guest = report.rows[0]
        assert (guest.starts_at, guest.ends_at) == window
        assert guest.phone and guest.company and guest.email


def test_guest_row_round_trips_through_json_form():
    report = check(csv_bytes([["Name", "Email"], ["Ann Lee", "ann@example.com"]]))
    guest = report.rows[0]
    assert GuestRow.from_dict(guest.to_dict()) == guest
    assert guest.to_dict()["starts_at"] == "2026-06-11T07:00:00+00:00"


def test_reads_from_a_path_and_a_non_seekable_stream(tmp_path):
    data = csv_bytes([["Name"], ["Ann Lee"]])
    path = tmp_path / "g.csv"
    path.write_bytes(data)
    assert check(path, "g.csv").rows_valid == 1

    class Pipe(io.RawIOBase):
        def __init__(self):
            self.inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = self.inner.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    assert check(Pipe(), "g.csv").rows_valid == 1
    stream = io.BytesIO(data)
    assert check(stream, "g.csv").rows_valid == 1
    assert not stream.closed  # the caller's stream stays the caller's


def test_date_only_values_for_both_ends():
    rows = [["Name", "Start", "End"], ["Ann Lee", date(2026, 6, 11), date(2026, 6, 11)]]
    report = check(xlsx_bytes(rows, formats={"B2": "dd.mm.yyyy", "C2": "dd.mm.yyyy"}), "g.xlsx")
    assert (report.rows[0].starts_at, report.rows[0].ends_at) == (
        msk(2026, 6, 11, 0, 0),
        msk(2026, 6, 11, 23, 59),
    )


def test_quick_photo_check_refuses_what_normalize_photo_refuses():
    good = photo((600, 800))
    quick_photo_check(good)
    for data, message in (
        (good[: len(good) // 2], "damaged or incomplete"),
        (photo((120, 150)), "too small"),
        (b"GIF89a not really", "not an image"),
        (b"", "empty"),
    ):
        with pytest.raises(PhotoError, match=message):
            quick_photo_check(data)
        with pytest.raises(PhotoError, match=message):
            normalize_photo(data)


def test_validation_can_use_the_quick_photo_check():
    good = photo((600, 800))
    archive = PhotoArchive(zip_bytes({"a.jpg": good, "b.jpg": good[:2000]}))
    rows = [["Name", "Photo"], ["Ann Lee", "a.jpg"], ["Bob Ray", "b.jpg"]]
    report = check(csv_bytes(rows), photos=archive, photo_check=quick_photo_check)
    assert [g.photo_name for g in report.rows] == ["a.jpg"]
    assert messages(report) == [
        (3, "Photo", "b.jpg: The photo is damaged or incomplete: upload it again."),
    ]


def test_bench_import_validate_prints_one_json_object():
    result = CliRunner().invoke(import_, ["--validate-rows", "300"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["rows"], data["rows_valid"], data["rows_invalid"]) == (300, 297, 3)
    assert data["seconds"] > 0 and data["peak_rss_mb"] > 0


def test_dedupe_keys_stay_short_and_stable():
    long_name, email = "Анна " + "Оченьдлиннаяфамилия" * 10, "a" * 60 + "@example.com"
    keys = dedupe_keys(long_name, email, "+7 999 000-11-22")
    assert all(len(key) <= 200 for key in keys)
    assert keys[0].startswith("sha256:") and keys[1].startswith("sha256:")
    assert keys == dedupe_keys(long_name.upper(), email.upper(), "8 (999) 000 11 22")
    assert dedupe_keys("Ann Lee", None, None) == ("ann lee|",)
