"""The host's side: register with only an e-mail, follow, re-send, add the photo; the profile's
e-mail choices; what the pages say when e-mail is not set up."""

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import escape
from sqlalchemy import select

from portal.extensions import db
from portal.models import Invitation, Visit, VisitState
from portal.services.visits import PHOTO_REQUIRED
from tests.fixtures.app import csrf_token
from tests.invitations.conftest import guest_photo

ZONE = ZoneInfo("Europe/Moscow")
FORMAT = "%Y-%m-%dT%H:%M"


def register(client, level, **fields):
    start = (datetime.now(ZONE) + timedelta(days=1)).replace(second=0, microsecond=0)
    data = {
        "csrf_token": csrf_token(client, "/visits/new"),
        "full_name": "Grace Hopper",
        "email": "grace@example.com",
        "starts_at": start.strftime(FORMAT),
        "ends_at": (start + timedelta(hours=4)).strftime(FORMAT),
        "access_level": str(level.id),
        **fields,
    }
    return client.post("/visits/new", data=data, content_type="multipart/form-data")


def test_a_host_registers_with_only_an_email_and_sees_the_wait(
    host_client, level, work, smtp_server
):
    response = register(host_client, level)
    assert response.status_code == 302
    visit = db.session.scalar(select(Visit))
    assert visit.state == VisitState.AWAITING_PHOTO
    work()
    page = host_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Waiting for the guest's photo." in page
    assert "Invitation sent to grace@example.com" in page
    assert "Send the invitation again" in page and "Add the photo" in page


def test_the_host_resends_and_then_adds_the_photo_themselves(host_client, level, work, smtp_server):
    register(host_client, level)
    work()
    visit = db.session.scalar(select(Visit))
    url = f"/visits/{visit.id}"
    token = csrf_token(host_client, url)
    assert host_client.post(f"{url}/invite", data={"csrf_token": token}).status_code == 302
    work()
    assert len(smtp_server.handler.messages) == 2
    states = db.session.scalars(select(Invitation.state).order_by(Invitation.id)).all()
    assert states == ["replaced", "active"]
    response = host_client.post(
        f"{url}/guest-photo",
        data={"csrf_token": token, "photo": (io.BytesIO(guest_photo()), "g.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    db.session.refresh(visit)
    assert visit.state == VisitState.PENDING and visit.guest.photo_sha256
    assert db.session.scalars(select(Invitation.state).order_by(Invitation.id)).all() == [
        "replaced",
        "closed",
    ]


def test_another_host_cannot_invite_or_add_a_photo(app, host_client, level, smtp_server):
    from tests.fixtures.app import client_for
    from tests.fixtures.factories import make_user

    register(host_client, level)
    visit = db.session.scalar(select(Visit))
    other = client_for(app, make_user())
    token = csrf_token(other, "/visits/new")
    assert other.post(f"/visits/{visit.id}/invite", data={"csrf_token": token}).status_code == 404
    assert (
        other.post(f"/visits/{visit.id}/guest-photo", data={"csrf_token": token}).status_code == 404
    )


def test_the_profile_turns_each_host_email_off(host_client, host_user):
    token = csrf_token(host_client, "/profile")
    response = host_client.post(
        "/profile/notices",
        data={"csrf_token": token, "notify_guest_completed": "y", "notify_guest_arrived": "y"},
    )
    assert response.status_code == 302
    db.session.refresh(host_user)
    assert host_user.notify_guest_completed and host_user.notify_guest_arrived
    assert not host_user.notify_enrollment_failed
    assert host_client.post("/profile/notices", data={}).status_code == 400
    db.session.refresh(host_user)
    assert not host_user.notify_enrollment_failed  # no token: nothing changed


def test_without_mail_server_the_pages_say_why_invitations_are_off(
    app, admin_client, host_client, level
):
    app.config["MAIL_SERVER"] = None
    connection = admin_client.get("/admin/connection").get_data(as_text=True)
    assert "E-mail is not set up: MAIL_SERVER is not set." in connection
    form = host_client.get("/visits/new").get_data(as_text=True)
    assert "Inviting the guest to send their own photo is off" in form
    response = register(host_client, level)
    assert response.status_code == 422
    assert str(escape(PHOTO_REQUIRED)) in response.get_data(as_text=True)
    assert db.session.scalar(select(Visit)) is None
