"""API: change an event (PATCH) and cancel it, with the guests following as on the page."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditAction, AuditEntry, Event, Role, Visit
from tests.api.conftest import bearer
from tests.events.imports_support import make_event
from tests.fixtures.factories import make_access_level, make_guest, make_user, make_visit


@pytest.fixture
def organizer_headers(organizer_user):
    return bearer(organizer_user)


@pytest.fixture
def event(organizer_user, access_level):
    return make_event(organizer_user, access_level)


@pytest.fixture
def hall(app):
    return make_access_level(name="Event Hall")


def follower(event, name="Ada Lovelace", **fields):
    visit = make_visit(
        event.organizer, event.access_level, guest=make_guest(name), event=event, **fields
    )
    visit.starts_at, visit.ends_at = event.starts_at, event.ends_at
    db.session.commit()
    return visit


def patch(api, event, body, headers):
    return api.patch(f"/api/v1/events/{event.id}", json=body, headers=headers)


def cancel(api, event, headers):
    return api.post(f"/api/v1/events/{event.id}/cancel", headers=headers)


def audit_actions(event):
    return db.session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.object_type == "event", AuditEntry.object_id == event.id)
        .order_by(AuditEntry.id)
    ).all()


def fresh(model, id_):
    db.session.expire_all()
    return db.session.get(model, id_)


def test_a_partial_change_keeps_the_other_fields_and_answers_200(api, organizer_headers, event):
    starts_at, level_id = event.starts_at, event.access_level_id

    response = patch(
        api, event, {"name": "Open Day (renamed)", "location": None}, organizer_headers
    )

    assert response.status_code == 200
    data = response.get_json()
    assert (data["name"], data["location"], data["job"]) == ("Open Day (renamed)", None, None)
    assert (data["moved"], data["relevelled"], data["cancelled_at"]) == (0, 0, None)
    event = fresh(Event, event.id)
    assert (event.starts_at, event.access_level_id) == (starts_at, level_id)
    assert audit_actions(event) == [AuditAction.EVENT_CHANGED.value]


def test_a_new_window_and_level_start_one_job_and_answer_202(
    api, organizer_headers, event, hall, redis_conn
):
    visit = follower(event, state="enrolled", hik_person_id="51")
    new_end = event.ends_at + timedelta(hours=1)
    body = {"ends_at": new_end.isoformat(), "access_level": hall.id}

    response = patch(api, event, body, organizer_headers)

    assert response.status_code == 202
    data = response.get_json()
    assert (data["moved"], data["relevelled"], data["access_level"]) == (1, 1, hall.id)
    assert data["job"]["state"] == "queued" and data["job"]["url"].endswith(
        f"/jobs/{data['job']['id']}"
    )
    visit = fresh(Visit, visit.id)
    assert (visit.ends_at, visit.access_level_id) == (new_end, hall.id)


def test_guests_not_on_hikcentral_move_without_a_job(api, organizer_headers, event, hall):
    visit = follower(event)
    response = patch(api, event, {"access_level": hall.id}, organizer_headers)
    assert response.status_code == 200
    assert (response.get_json()["relevelled"], response.get_json()["job"]) == (1, None)
    assert fresh(Visit, visit.id).access_level_id == hall.id


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"body"}),
        ({"name": 5, "location": ["Hall"]}, {"name", "location"}),
        ({"starts_at": "tomorrow", "ends_at": "2030-01-01T10:00:00"}, {"starts_at", "ends_at"}),
        ({"access_level": "1"}, {"access_level"}),
        ({"access_level": True}, {"access_level"}),
        ({"access_level": 99999}, {"access_level"}),  # unknown: the service's sentence
        ({"access_level": None}, {"access_level"}),
        ({"name": None}, {"name"}),
        ({"starts_at": None}, {"starts_at"}),
        ({"organizer": 1, "cancelled_at": None}, {"organizer", "cancelled_at"}),
    ],
)
def test_bad_input_is_a_400_naming_the_fields_and_changes_nothing(
    api, organizer_headers, event, body, fields
):
    response = patch(api, event, body, organizer_headers)
    assert response.status_code == 400
    assert set(response.get_json()["fields"]) == fields
    assert audit_actions(event) == []


def test_an_inactive_level_or_an_end_before_the_start_is_refused_as_on_the_page(
    api, organizer_headers, event
):
    retired = make_access_level(name="Retired")
    retired.active = False
    db.session.commit()
    response = patch(api, event, {"access_level": retired.id}, organizer_headers)
    assert response.status_code == 400
    assert response.get_json()["fields"] == {
        "access_level": "Choose an access level from the list."
    }
    early = (event.starts_at - timedelta(hours=1)).isoformat()
    response = patch(api, event, {"ends_at": early}, organizer_headers)
    assert response.get_json()["fields"] == {"ends_at": "The end must be after the start."}
    assert fresh(Event, event.id).access_level_id != retired.id


def test_cancel_answers_202_with_the_job_then_409(api, organizer_headers, event, redis_conn):
    on_doors = follower(event, state="enrolled", hik_person_id="52")
    waiting = follower(event, name="Grace Hopper")

    response = cancel(api, event, organizer_headers)

    assert response.status_code == 202
    data = response.get_json()
    assert data["cancelled"] == 2 and data["cancelled_at"] is not None
    assert data["job"]["state"] == "queued"
    assert {fresh(Visit, v.id).state for v in (on_doors, waiting)} == {"cancelled"}
    assert audit_actions(event) == [AuditAction.EVENT_CANCELLED.value]
    again = cancel(api, event, organizer_headers)
    assert again.status_code == 409
    assert again.get_json()["error"] == "This event was cancelled: it can no longer change."
    assert patch(api, event, {"name": "Too late"}, organizer_headers).status_code == 409


def test_cancel_without_guests_on_hikcentral_answers_200(api, organizer_headers, event):
    follower(event)
    response = cancel(api, event, organizer_headers)
    assert response.status_code == 200
    assert (response.get_json()["cancelled"], response.get_json()["job"]) == (1, None)


def test_only_the_organizer_of_the_event_or_an_admin(api, event):
    other = bearer(make_user(Role.ORGANIZER))
    assert patch(api, event, {"name": "Mine now"}, other).status_code == 404
    assert cancel(api, event, other).status_code == 404
    host = bearer(make_user(Role.HOST))
    assert patch(api, event, {"name": "Mine now"}, host).status_code == 403
    assert cancel(api, event, host).status_code == 403
    assert patch(api, event, {"name": "Mine now"}, {}).status_code == 401
    assert fresh(Event, event.id).cancelled_at is None and audit_actions(event) == []
    admin = bearer(make_user(Role.ADMIN))
    assert patch(api, event, {"name": "Renamed by an admin"}, admin).status_code == 200
    assert cancel(api, event, admin).status_code == 200
    missing = api.patch("/api/v1/events/99999", json={"name": "X"}, headers=admin)
    assert missing.status_code == 404
