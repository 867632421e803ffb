"""Local time for people, UTC in the database: the conversions and template filters.

Dates and times on pages go through Babel in the site's time zone and the viewer's language
("28 Nov 2026, 09:00", "28 нояб. 2026 г., 09:00"). Formats with ``%`` stay strftime patterns, for
machine-readable stamps (file names, CSV cells).
"""

from datetime import UTC

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time, get_datetime_format
from flask import current_app

from portal.i18n import current_language

# English dates are written day month year with a 24-hour clock (as on the site's doors).
FORMAT_LOCALES = {"en": "en_GB"}


def site_zone():
    """The site's time zone (``GATEHOUSE_TIMEZONE``)."""
    return current_app.config["TIMEZONE"]


def local_to_utc(value):
    """Read a naive datetime typed into a form as site-local time; return aware UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=site_zone())
    return value.astimezone(UTC)


def utc_to_local(value):
    """An aware datetime in the site's zone, naive, as a datetime-local input expects."""
    if value is None:
        return None
    return value.astimezone(site_zone()).replace(tzinfo=None)


def format_locale(language=None):
    """The Babel locale dates are written in for ``language`` (default: the request's)."""
    language = language or current_language()
    return Locale.parse(FORMAT_LOCALES.get(language, language))


def _join(locale, date_text, time_text):
    return get_datetime_format("medium", locale=locale).format(time_text, date_text)


def local_time(value, fmt="datetime", language=None):
    """Format an aware UTC datetime in the site's time zone and the viewer's language.

    ``fmt`` is ``datetime`` (28 Nov 2026, 09:00), ``date`` (28 Nov 2026), ``time`` (09:00),
    ``seconds`` (09:00:05), ``datetime_seconds`` (28 Nov 2026, 09:00:05), ``day_seconds``
    (28 Nov, 09:00:05), or a strftime pattern containing ``%``.
    """
    if value is None:
        return ""
    moment = value.astimezone(site_zone())
    if "%" in fmt:
        return moment.strftime(fmt)
    locale = format_locale(language)
    if fmt == "date":
        return format_date(moment, "medium", locale=locale)
    clock = format_time(moment, "HH:mm:ss" if fmt.endswith("seconds") else "HH:mm", locale=locale)
    if fmt in {"time", "seconds"}:
        return clock
    if fmt == "day_seconds":
        return _join(locale, format_skeleton("MMMd", moment, locale=locale), clock)
    return _join(locale, format_date(moment, "medium", locale=locale), clock)


def window_parts(start, end, language=None):
    """A window's start and end in local time; the end is only a time on the start's local day."""
    same_day = local_time(start, "%Y%m%d") == local_time(end, "%Y%m%d")
    start_text = local_time(start, language=language)
    end_text = local_time(end, "time" if same_day else "datetime", language=language)
    return start_text, end_text


def time_range(start, end, language=None):
    """A window in local time ("28 Nov 2026, 09:00 – 18:00")."""
    return "{} – {}".format(*window_parts(start, end, language))


def local_window(starts_at, ends_at):
    """A window in the site's zone, the end's date left out when it is the start's."""
    zone = site_zone()
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    # Digits only: the window goes into sentences stored once and shown in every language.
    end_format = "%H:%M" if start.date() == end.date() else "%d.%m.%Y %H:%M"
    return f"{start:%d.%m.%Y %H:%M} – {end.strftime(end_format)}"


def register(app):
    app.add_template_filter(local_time, "localtime")
    app.add_template_global(time_range, "format_time_range")
    app.add_template_global(window_parts)
    app.add_template_global(local_window)
