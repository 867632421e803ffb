"""Sessions that really end: a copied cookie is refused after each session-ending action."""

import time

import pytest

from portal.auth.sessions import SEEN_KEY
from portal.extensions import db
from portal.models import AuditAction, AuditEntry, Role
from portal.services import accounts
from tests.fixtures.app import csrf_token
from tests.fixtures.factories import make_user

PASSWORD = "correct horse battery"
NEW_PASSWORD = "another horse battery"


def logged_in(app, user, password=PASSWORD):
    """A client logged in through the log-in page, as a browser would be."""
    client = app.test_client()
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": user.email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def session_cookie(client):
    return client.get_cookie("session").value


def replay(app, cookie):
    """A new browser presenting a copied session cookie; the status of GET /profile."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get("/profile").status_code


def end_by_log_out(app, client, user):
    client.post("/logout", data={"csrf_token": csrf_token(client, "/profile")})


def end_by_password_change(app, client, user):
    response = client.post(
        "/profile/password",
        data={
            "csrf_token": csrf_token(client, "/profile"),
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    # The browser that changed it stays logged in, on a new session.
    assert client.get("/profile").status_code == 200


def end_by_disable_and_enable(app, client, user):
    admin = logged_in(app, make_user(Role.ADMIN))
    for action in ("disable", "enable"):
        token = csrf_token(admin, "/admin/users")
        response = admin.post(f"/admin/users/{user.id}/{action}", data={"csrf_token": token})
        assert response.status_code == 302
    db.session.expire_all()
    assert accounts.find_user(user.email).active


def end_by_role_change(app, client, user):
    admin = logged_in(app, make_user(Role.ADMIN))
    token = csrf_token(admin, "/admin/users")
    admin.post(f"/admin/users/{user.id}/role", data={"csrf_token": token, "role": "organizer"})
    db.session.expire_all()
    assert accounts.find_user(user.email).role == "organizer"


def end_everywhere(app, client, user):
    response = client.post(
        "/profile/sessions/end", data={"csrf_token": csrf_token(client, "/profile")}
    )
    assert response.status_code == 302
    assert client.get("/profile").status_code == 200  # this browser stays logged in


@pytest.mark.parametrize(
    "end_sessions",
    [
        end_by_log_out,
        end_by_password_change,
        end_by_disable_and_enable,
        end_by_role_change,
        end_everywhere,
    ],
)
def test_a_copied_cookie_is_refused_after_the_session_ended(app, end_sessions):
    user = make_user(Role.HOST)
    client = logged_in(app, user)
    other_device = logged_in(app, user)
    copied = session_cookie(client)
    assert replay(app, copied) == 200
    end_sessions(app, client, user)
    assert replay(app, copied) == 302
    assert other_device.get("/profile").status_code == 302


def test_an_unchanged_role_does_not_end_sessions(app):
    user = make_user(Role.HOST)
    client = logged_in(app, user)
    accounts.set_role(user, "host")
    assert client.get("/profile").status_code == 200


def test_an_idle_session_ends(app):
    user = make_user(Role.HOST)
    client = logged_in(app, user)
    idle = app.config["SESSION_IDLE_MINUTES"] * 60
    with client.session_transaction() as session:
        session[SEEN_KEY] = int(time.time()) - idle + 120
    assert client.get("/profile").status_code == 200  # used within the limit: still open
    with client.session_transaction() as session:
        session[SEEN_KEY] = int(time.time()) - idle - 1
    response = client.get("/profile")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    page = client.get("/login").get_data(as_text=True)
    assert "without use" in page


def test_use_keeps_a_session_open(app):
    user = make_user(Role.HOST)
    client = logged_in(app, user)
    with client.session_transaction() as session:
        session[SEEN_KEY] = int(time.time()) - 3600
    client.get("/profile")
    with client.session_transaction() as session:
        assert session[SEEN_KEY] >= int(time.time()) - 5


def test_ending_sessions_is_audited(app):
    user = make_user(Role.HOST)
    client = logged_in(app, user)
    end_everywhere(app, client, user)
    entry = db.session.scalars(
        db.select(AuditEntry).where(AuditEntry.action == AuditAction.SESSIONS_ENDED.value)
    ).one()
    assert (entry.user_id, entry.object_type, entry.object_id) == (user.id, "user", user.id)
    assert entry.address == "127.0.0.1"
