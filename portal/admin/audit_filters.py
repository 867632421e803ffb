"""The audit page's filters, parsed from its query string: by user, object and time."""

from datetime import date, datetime, time, timedelta

from portal.bounds import db_int
from portal.i18n import N_
from portal.services import audit


def _day(value, zone):
    """The local midnight starting ``value`` (YYYY-MM-DD) as an aware datetime, or None."""
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=zone)
    except ValueError:
        return None


def parse(args, zone):
    """``(filters for audit.search, {field: problem})``; a filter that does not parse is unused."""
    filters, problems = {}, {}
    for name in ("user", "object_id"):
        raw = (args.get(name) or "").strip()
        if raw:
            number = db_int(raw)
            if number is None:
                problems[name] = N_("Must be a whole number.")
            else:
                filters["user_id" if name == "user" else name] = number
    kind = (args.get("object_type") or "").strip()
    if kind:
        if kind in audit.OBJECT_TYPES.values():
            filters["object_type"] = kind
        else:
            problems["object_type"] = N_("Choose one of the listed kinds.")
    for name, key, shift in (("since", "since", 0), ("until", "until", 1)):
        raw = (args.get(name) or "").strip()
        if raw:
            day = _day(raw, zone)
            if day is None:
                problems[name] = N_("Must be a date (YYYY-MM-DD).")
            else:
                filters[key] = day + timedelta(days=shift)  # "until" includes that whole day
    return filters, problems
