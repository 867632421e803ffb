"""Local time for people, UTC in the database: the conversions and template filters."""

from datetime import UTC

from flask import current_app


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


def local_time(value, fmt="%d %b %Y %H:%M"):
    """Format an aware UTC datetime in the site's time zone."""
    if value is None:
        return ""
    return value.astimezone(site_zone()).strftime(fmt)


def local_window(starts_at, ends_at):
    """A window in the site's zone, the end's date left out when it is the start's."""
    zone = site_zone()
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    end_format = "%H:%M" if start.date() == end.date() else "%d %b %Y %H:%M"
    return f"{start:%d %b %Y %H:%M} – {end.strftime(end_format)}"


def register(app):
    app.add_template_filter(local_time, "localtime")
    app.add_template_global(local_window)
