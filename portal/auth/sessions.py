"""Sessions that really end.

The session cookie is signed, not stored, so a copy of it lives as long as the server accepts
it. Each user therefore has a session generation, kept in the session's user key
(``User.get_id``): log-out, a password change, a role change, disabling and "log out
everywhere" raise it, and every session of an older generation is refused on its next request.
A session unused for SESSION_IDLE_MINUTES ends as well.
"""

import time

from flask import current_app, flash, request, session
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from portal.extensions import db
from portal.models import User

SEEN_KEY = "seen"
# The last-use time is written at most this often (each write re-sends the cookie).
SEEN_REFRESH_SECONDS = 60


def parse_user_key(value):
    """``(user id, generation)`` from a session's user key, or None when it is not one."""
    user_id, sep, generation = str(value or "").partition(":")
    if not sep or not user_id.isdigit() or not generation.isdigit() or len(user_id) > 10:
        return None
    return int(user_id), int(generation)


def load_session_user(user_key):
    """The active user of this session, or None when it was ended, expired or is unknown."""
    parsed = parse_user_key(user_key)
    if parsed is None:
        return None
    user = db.session.get(User, parsed[0])
    if user is None or not user.active or user.session_generation != parsed[1]:
        return None
    if idle_expired():
        session.clear()
        minutes = current_app.config["SESSION_IDLE_MINUTES"]
        flash(
            _(
                "Your session ended after %(minutes)d min without use; log in again.",
                minutes=minutes,
            ),
            "info",
        )
        return None
    return user


def idle_expired():
    """Whether this session was last used longer than SESSION_IDLE_MINUTES ago."""
    seen = session.get(SEEN_KEY)
    if not isinstance(seen, int | float):
        return False  # only sessions opened before this rule lack it: the generation decides
    return time.time() - seen > current_app.config["SESSION_IDLE_MINUTES"] * 60


def note_use(response):
    """After a page request of a logged-in session: remember when it was last used."""
    if "_user_id" in session and not request.path.startswith("/api/"):
        seen = session.get(SEEN_KEY)
        now = int(time.time())
        if not isinstance(seen, int | float) or now - seen >= SEEN_REFRESH_SECONDS:
            session[SEEN_KEY] = now
    return response


def start(user):
    """Log ``user`` in on a fresh session: nothing from before (a planted CSRF token) remains."""
    session.clear()
    login_user(user)
    session[SEEN_KEY] = int(time.time())


def end_everywhere(user):
    """End every session of ``user``, this one included, and commit."""
    user.end_sessions()
    db.session.commit()
    logout_user()
    session.clear()


def register(app):
    app.after_request(note_use)
