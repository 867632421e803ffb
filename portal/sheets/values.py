"""Guest sheet cell values: text, names, phones, e-mails, dates and the duplicate keys."""

import hashlib
import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from email_validator import EmailNotValidError, validate_email

from portal.i18n import N_, N_plural

PHONE_CHARS = re.compile(r"^\+?[\d\s\-()]+$")
PHONE_DIGITS = (7, 15)
MAX_KEY_LENGTH = 200  # duplicate keys are stored (Visit.guest_key): keep them short
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LETTER = re.compile(r"[^\W\d_]")
_NON_WORD = re.compile(r"[\W_]+")

# Excel's day zero (the 1900 date system, including its 1900-02-29 bug for days >= 61).
EXCEL_EPOCH = datetime(1899, 12, 30)
# Serial numbers outside this range are not dates anyone means (1927 .. 2173).
EXCEL_SERIALS = (10_000, 100_000)

_DMY = re.compile(
    r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})"
    r"(?:[\sT,]+(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?)?$"
)
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_SERIAL = re.compile(r"^\d{5}(?:[.,]\d+)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

DATE_HINT = N_("write it as dd.mm.yyyy hh:mm")


class CellError(ValueError):
    """A cell value that cannot be used; the message is a sentence for the organizer."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def cell_text(value) -> str:
    """A cell as one trimmed line of text (numbers without a spurious ``.0``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date | time):
        value = value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return " ".join(_CONTROL.sub(" ", str(value)).split())


def shown(value, limit=40) -> str:
    """A value quoted for a message, shortened."""
    text = cell_text(value)
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def check_length(text, limit, what):
    if len(text) > limit:
        raise CellError(
            N_plural(
                "%(what)s is too long: at most %(limit)d character.",
                "%(what)s is too long: at most %(limit)d characters.",
                limit,
            )
            % {"what": what, "limit": limit}
        )
    return text


def check_name(text) -> str:
    """A person's name: kept verbatim (HTML and formulas included: it is only ever text)."""
    if not _LETTER.search(text):
        raise CellError(N_("%(value)s is not a name: it has no letters.") % {"value": shown(text)})
    return check_length(text, 200, N_("The name"))


def normalize_email(text) -> str:
    """The address normalized by email-validator (no DNS lookups)."""
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise CellError(
            N_("%(value)s is not a valid e-mail address.") % {"value": shown(text)}
        ) from exc


def phone_digits(text) -> str:
    return re.sub(r"\D", "", text)


def check_phone(text) -> str:
    """A phone number: digits with an optional leading +, spaces, dashes and parentheses."""
    digits = phone_digits(text)
    if not PHONE_CHARS.match(text) or not PHONE_DIGITS[0] <= len(digits) <= PHONE_DIGITS[1]:
        raise CellError(
            N_(
                "%(value)s is not a phone number: use %(low)d to %(high)d "
                "digits, optionally with +, spaces, dashes or parentheses."
            )
            % {"value": shown(text), "low": PHONE_DIGITS[0], "high": PHONE_DIGITS[1]}
        )
    return check_length(text, 40, N_("The phone number"))


def normalize_name(full_name) -> str:
    """A name for comparison: case, ё/е, punctuation and word order do not matter."""
    words = _NON_WORD.sub(" ", full_name.casefold().replace("ё", "е")).split()
    return " ".join(sorted(words))


def dedupe_keys(full_name, email=None, phone=None) -> tuple[str, ...]:
    """Keys under which a guest counts as already listed: name + e-mail, name + phone, or name."""
    name = normalize_name(full_name or "")
    keys = []
    if email:
        keys.append(f"{name}|e:{email.strip().casefold()}")
    digits = phone_digits(phone or "")
    if digits:
        # Russian numbers are written both as 8 ... and +7 ...
        if len(digits) == 11 and digits[0] == "8":
            digits = "7" + digits[1:]
        keys.append(f"{name}|p:{digits}")
    if not keys:
        keys.append(f"{name}|")
    return tuple(_bounded(key) for key in keys)


def _bounded(key):
    """Keys fit a short indexed column: a very long one is replaced by its hash."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def parse_when(value, zone: tzinfo, day: date) -> tuple[datetime, bool] | None:
    """A cell as an aware datetime, and whether it gave only a date.

    Naive values are local time in ``zone``; a time alone falls on ``day``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return _aware(value, zone), False
    if isinstance(value, date):
        return _aware(datetime.combine(value, time()), zone), True
    if isinstance(value, time):
        return _aware(datetime.combine(day, value.replace(tzinfo=None)), zone), False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_serial(value, zone)
    return _parse_text(cell_text(value), zone, day)


def _aware(value, zone):
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def _from_serial(number, zone):
    if not EXCEL_SERIALS[0] <= number < EXCEL_SERIALS[1]:
        raise CellError(
            N_("%(value)s is not a date: %(hint)s.") % {"value": shown(number), "hint": DATE_HINT}
        )
    moment = EXCEL_EPOCH + timedelta(days=float(number))
    # Excel stores times as fractions of a day: round away the float noise.
    moment = (moment + timedelta(microseconds=500_000)).replace(microsecond=0)
    return _aware(moment, zone), float(number).is_integer()


def _parse_text(text, zone, day):
    match = _DMY.match(text)
    if match:
        d, m, y, hh, mm, ss = (int(g) if g else None for g in match.groups())
        try:
            moment = datetime(y, m, d, hh or 0, mm or 0, ss or 0)
        except ValueError as exc:
            raise CellError(
                N_("%(value)s is not a real date or time.") % {"value": shown(text)}
            ) from exc
        return _aware(moment, zone), hh is None
    match = _TIME.match(text)
    if match:
        hh, mm, ss = (int(g) if g else 0 for g in match.groups())
        try:
            return _aware(datetime.combine(day, time(hh, mm, ss)), zone), False
        except ValueError as exc:
            raise CellError(
                N_("%(value)s is not a real time of day.") % {"value": shown(text)}
            ) from exc
    if _SERIAL.match(text):
        return _from_serial(float(text.replace(",", ".")), zone)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        if re.match(r"^\d{4}-\d{2}-\d{2}", text):
            raise CellError(
                N_("%(value)s is not a real date or time.") % {"value": shown(text)}
            ) from exc
        raise CellError(
            N_("%(value)s is not a date and time: %(hint)s.")
            % {"value": shown(text), "hint": DATE_HINT}
        ) from exc
    return _aware(moment, zone), bool(_ISO_DATE.match(text))
