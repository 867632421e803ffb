"""The API: register with ``invite: true`` and no photo; re-send with POST .../invite."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import Invitation, VisitState
from tests.api.conftest import bearer
from tests.api.test_visits import payload
from tests.fixtures.factories import make_user


def test_register_with_invite_and_no_photo_awaits_the_guest(
    app, level, work, smtp_server, host_user
):
    api = app.test_client()
    headers = bearer(host_user)
    response = api.post(
        "/api/v1/visits", json=payload(level, photo=None, invite=True), headers=headers
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["state"] == VisitState.AWAITING_PHOTO
    assert body["invitation"]["state"] == "active" and body["invitation"]["mail"] == "queued"
    assert "nonce" not in str(body) and "/g/" not in str(body)
    work()
    again = api.post(f"/api/v1/visits/{body['id']}/invite", headers=headers)
    assert again.status_code == 202
    work()
    assert len(smtp_server.handler.messages) == 2
    states = db.session.scalars(select(Invitation.state).order_by(Invitation.id)).all()
    assert states == ["replaced", "active"]


def test_invite_without_email_names_the_field(app, level, smtp_server, host_user):
    body = payload(level, photo=None, invite=True)
    body["guest"]["email"] = None
    response = app.test_client().post("/api/v1/visits", json=body, headers=bearer(host_user))
    assert response.status_code == 400
    assert "guest.email" in response.get_json()["fields"]


def test_invite_must_be_a_boolean(app, level, smtp_server, host_user):
    body = payload(level, photo=None, invite="please")
    response = app.test_client().post("/api/v1/visits", json=body, headers=bearer(host_user))
    assert response.status_code == 400
    assert response.get_json()["fields"]["invite"] == "Must be true or false."


def test_without_invite_a_photo_is_still_required(app, level, smtp_server, host_user):
    response = app.test_client().post(
        "/api/v1/visits", json=payload(level, photo=None), headers=bearer(host_user)
    )
    assert response.status_code == 400
    assert "photo" in response.get_json()["fields"]


def test_resending_for_a_visit_with_a_photo_is_a_conflict(app, level, smtp_server, host_user):
    api, headers = app.test_client(), bearer(host_user)
    created = api.post("/api/v1/visits", json=payload(level), headers=headers).get_json()
    response = api.post(f"/api/v1/visits/{created['id']}/invite", headers=headers)
    assert response.status_code == 409
    other = api.post(f"/api/v1/visits/{created['id']}/invite", headers=bearer(make_user()))
    assert other.status_code == 404
