"""Template filters: local times for people, UTC in the database."""

from flask import current_app


def local_time(value, fmt="%d %b %Y %H:%M"):
    """Format an aware UTC datetime in the site's time zone."""
    if value is None:
        return ""
    return value.astimezone(current_app.config["TIMEZONE"]).strftime(fmt)


def register(app):
    app.add_template_filter(local_time, "localtime")
