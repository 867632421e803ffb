"""Validating guest sheet rows before anything is written: every row, every problem."""

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from portal.i18n import N_, N_plural
from portal.models import utcnow
from portal.services.photos import PhotoError, check_photo, normalize_photo
from portal.sheets.photo_archive import PhotoArchive, PhotoArchiveError
from portal.sheets.reader import SheetRow
from portal.sheets.values import (
    CellError,
    cell_text,
    check_length,
    check_name,
    check_phone,
    dedupe_keys,
    normalize_email,
    parse_when,
    shown,
)

MAX_ROWS = 10_000
# How far guest times may stray outside the event's window.
WINDOW_SLACK = timedelta(days=1)
PREVIEW_ROWS = 20
_SAME = {"e": N_("same name and e-mail"), "p": N_("same name and phone")}


@dataclass(frozen=True, slots=True)
class GuestRow:
    """A valid sheet row as it will be imported (times aware UTC)."""

    row_number: int  # as the user sees it in the sheet: the header is usually row 1
    full_name: str
    email: str | None
    phone: str | None
    company: str | None
    photo_name: str | None  # the member of the photo archive (its exact name there)
    starts_at: datetime
    ends_at: datetime
    dedupe_key: str
    given_name: str | None = None  # set when the sheet has separate name columns
    family_name: str | None = None
    keys: tuple[str, ...] = ()  # every duplicate key (dedupe_key is the first)

    def to_dict(self) -> dict:
        """A JSON-ready form (times as ISO 8601 with offset)."""
        data = asdict(self)
        data["starts_at"] = self.starts_at.isoformat()
        data["ends_at"] = self.ends_at.isoformat()
        data["keys"] = list(self.keys)
        return data

    @classmethod
    def from_dict(cls, data) -> "GuestRow":
        """The inverse of ``to_dict``."""
        values = dict(data)
        values["starts_at"] = datetime.fromisoformat(values["starts_at"])
        values["ends_at"] = datetime.fromisoformat(values["ends_at"])
        values["keys"] = tuple(values.get("keys", ()))
        return cls(**values)


@dataclass
class ValidationReport:
    """The outcome of validating a sheet: valid rows, and every problem by row and column."""

    rows: list[GuestRow] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # {"row", "column", "message"}
    rows_total: int = 0  # non-blank data rows read
    rows_invalid: int = 0
    truncated: bool = False  # the sheet had more than max_rows rows
    labels: dict[str, str] = field(default_factory=dict)  # guest field -> header as written
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_valid(self) -> int:
        return len(self.rows)

    @property
    def ok(self) -> bool:
        return not self.errors

    def preview(self, limit=PREVIEW_ROWS) -> list[GuestRow]:
        """The first valid rows, as they will be imported."""
        return self.rows[:limit]

    def summary(self) -> dict:
        """Counts (the fields GuestImport stores) and whether the sheet was cut short."""
        return {
            "rows_total": self.rows_total,
            "rows_valid": self.rows_valid,
            "rows_invalid": self.rows_invalid,
            "errors": len(self.errors),
            "truncated": self.truncated,
        }


def validate_rows(
    rows: Iterable[SheetRow],
    *,
    event_window: tuple[datetime, datetime],
    existing_keys=frozenset(),
    photos: PhotoArchive | None = None,
    now: datetime | None = None,
    max_rows: int = MAX_ROWS,
    timezone: tzinfo | str = UTC,
    photo_check: Callable[[bytes], object] | None = None,
) -> ValidationReport:
    """Check every row (streamed; photos read and checked one at a time) and report."""
    zone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    checker = _RowChecker(
        event_window,
        set(existing_keys),
        photos,
        now or utcnow(),
        zone,
        photo_check or normalize_photo,
    )
    report = ValidationReport(
        labels=dict(getattr(rows, "labels", {})), warnings=list(getattr(rows, "warnings", []))
    )
    for row in rows:
        if report.rows_total >= max_rows:
            report.truncated = True
            report.errors.append(_too_many(row.number, max_rows))
            break
        report.rows_total += 1
        report.labels = report.labels or dict(row.labels)
        guest, errors = checker.check(row)
        if errors:
            report.rows_invalid += 1
            report.errors.extend(errors)
        else:
            report.rows.append(guest)
    if report.rows_total == 0 and not report.truncated:
        report.errors.append(
            {
                "row": getattr(rows, "header_row", None),
                "column": None,
                "message": N_("The sheet has a header but no guest rows."),
            }
        )
    return report


def _too_many(number, max_rows):
    return {
        "row": number,
        "column": None,
        "message": N_plural(
            "Too many guests: at most %(num)d row per sheet. This row and the rows "
            "after it were not read; split the list into several files.",
            "Too many guests: at most %(num)d rows per sheet. This row and the rows "
            "after it were not read; split the list into several files.",
            max_rows,
        )
        % {"num": max_rows},
    }


class _RowChecker:
    """Checks one row at a time, remembering who it has seen (for duplicates)."""

    def __init__(self, window, existing, photos, now, zone, photo_check):
        self.window_start, self.window_end = window
        self.existing = existing
        self.photos = photos
        self.now = now
        self.zone = zone
        self.photo_check = photo_check
        self.first_day = self.window_start.astimezone(zone).date()
        self.seen: dict[str, int] = {}
        self.photo_results: dict[str, str | None] = {}  # member -> error message or None

    def check(self, row: SheetRow):
        errors = []
        labels, values = row.labels, row.values

        def fail(name, message):
            errors.append({"row": row.number, "column": labels.get(name), "message": message})

        def text(name, check=None):
            value = cell_text(values.get(name)) or None
            if value is None or check is None:
                return value
            try:
                return check(value)
            except CellError as exc:
                fail(name, exc.message)
                return None

        full_name, given, family = self._name(values, labels, fail)
        email = text("email", normalize_email)
        phone = text("phone", check_phone)
        company = text("company", lambda v: check_length(v, 200, N_("The company name")))
        photo = self._photo(text("photo"), fail)
        starts_at, ends_at = self._window(values, labels, fail)
        if full_name is not None:
            keys = dedupe_keys(full_name, email, phone)
            self._duplicates(keys, _name_field(labels), fail, row.number)
        if errors:
            return None, errors
        guest = GuestRow(
            row_number=row.number,
            full_name=full_name,
            email=email,
            phone=phone,
            company=company,
            photo_name=photo,
            starts_at=starts_at,
            ends_at=ends_at,
            dedupe_key=keys[0],
            given_name=given,
            family_name=family,
            keys=keys,
        )
        return guest, errors

    def _name(self, values, labels, fail):
        """The full name, and the given/family names when the sheet has them apart."""
        full = cell_text(values.get("full_name"))
        first, last = cell_text(values.get("first_name")), cell_text(values.get("last_name"))
        middle = cell_text(values.get("middle_name"))
        given = family = None
        if full:
            name = f"{full} {middle}".strip()
        elif first and last:
            given, family = f"{first} {middle}".strip(), last
            # With a patronymic the Russian order reads naturally: Фамилия Имя Отчество.
            name = f"{last} {first} {middle}" if middle else f"{first} {last}"
        elif (first or last) and not ("first_name" in labels and "last_name" in labels):
            name = f"{first or last} {middle}".strip()
        else:
            missing = _missing_name_field(labels, first, last)
            if missing == "full_name":
                fail(missing, N_("The guest's name is empty."))
            else:
                said = (
                    N_("The first name is empty: the guest needs both names.")
                    if missing == "first_name"
                    else N_("The last name is empty: the guest needs both names.")
                )
                fail(missing, said)
            return None, None, None
        try:
            return check_name(name), given, family
        except CellError as exc:
            fail(_name_field(labels), exc.message)
            return None, None, None

    def _photo(self, name, fail):
        """The archive member the row names, read and checked on its own."""
        if name is None:
            return None
        if self.photos is None:
            fail(
                "photo",
                N_("The row names photo %(name)s but no photo archive was uploaded.")
                % {"name": shown(name)},
            )
            return None
        try:
            member = self.photos.resolve(name)
        except PhotoArchiveError as exc:
            fail("photo", exc.message)
            return None
        if member is None:
            fail("photo", f"{shown(name)} is not in the photo archive.")
            return None
        if member not in self.photo_results:
            self.photo_results[member] = self._check_photo(member)
        problem = self.photo_results[member]
        if problem:
            fail("photo", problem)
            return None
        return member

    def _check_photo(self, member):
        try:
            data = self.photos.find(member)
            self.photo_check(data)
        except (PhotoError, PhotoArchiveError) as exc:
            return f"{member}: {exc.message}"
        return None

    def _window(self, values, labels, fail):
        start = self._when(values, "starts_at", self.first_day, fail)
        start_day = start[0].astimezone(self.zone).date() if start else self.first_day
        end = self._when(values, "ends_at", start_day, fail)
        if start is False or end is False:
            return None, None
        starts_at = start[0] if start else self.window_start
        ends_at = end[0] if end else self.window_end
        if end and end[1]:  # a date alone: the guest may stay to the end of that day
            ends_at = datetime.combine(
                ends_at.astimezone(self.zone).date(), time(23, 59), self.zone
            ).astimezone(UTC)
        for name, message in self._bounds(starts_at, ends_at, bool(start), bool(end)):
            fail(name, message)
        return starts_at, ends_at

    def _when(self, values, name, day, fail):
        """(moment, date_only), None when blank, False when unreadable (already reported)."""
        try:
            return parse_when(values.get(name), self.zone, day)
        except CellError as exc:
            fail(name, exc.message)
            return False

    def _bounds(self, starts_at, ends_at, start_given, end_given):
        end_field = "ends_at" if end_given or not start_given else "starts_at"
        if ends_at <= starts_at:
            yield (
                end_field,
                N_("The visit ends (%(end)s) before it starts (%(start)s).")
                % {"end": self._local(ends_at), "start": self._local(starts_at)},
            )
            return
        if starts_at < self.window_start - WINDOW_SLACK:
            yield (
                "starts_at",
                N_("Starts %(start)s, more than a day before the event (%(event)s).")
                % {"start": self._local(starts_at), "event": self._local(self.window_start)},
            )
        if ends_at > self.window_end + WINDOW_SLACK:
            yield (
                "ends_at",
                N_("Ends %(end)s, more than a day after the event (%(event)s).")
                % {"end": self._local(ends_at), "event": self._local(self.window_end)},
            )
        if ends_at <= self.now:
            yield (
                end_field,
                N_("Ends %(end)s, which is in the past.") % {"end": self._local(ends_at)},
            )

    def _local(self, moment):
        return moment.astimezone(self.zone).strftime("%d.%m.%Y %H:%M")

    def _duplicates(self, keys, name_field, fail, number):
        for key in keys:
            if key in self.existing:
                fail(
                    name_field,
                    N_("Already registered for this event (%(why)s).") % {"why": _why(key)},
                )
                break
        for key in keys:
            if key in self.seen:
                fail(
                    name_field,
                    N_("The same guest as row %(row)d (%(why)s).")
                    % {"row": self.seen[key], "why": _why(key)},
                )
                break
        for key in keys:
            self.seen.setdefault(key, number)


def _why(key):
    return _SAME.get(key.rpartition("|")[2][:1], N_("same name"))


def _name_field(labels):
    return next((n for n in ("full_name", "last_name", "first_name") if n in labels), "full_name")


def _missing_name_field(labels, first, last):
    if "full_name" in labels or not ("first_name" in labels or "last_name" in labels):
        return "full_name"
    if "first_name" in labels and not first:
        return "first_name"
    return "last_name"


# The cheaper photo check for big lists lives with the photo rules.
quick_photo_check = check_photo
