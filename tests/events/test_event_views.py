from datetime import datetime, timedelta

from portal.extensions import db
from portal.models import Event, JobRecord, Role
from tests.fixtures.app import client_for, csrf_token
from tests.fixtures.factories import make_access_level, make_user, make_visit


def local(dt):
    return dt.strftime("%Y-%m-%dT%H:%M")


def event_form(access_level, **overrides):
    start = datetime.now() + timedelta(days=2)
    data = {
        "name": "Open Day",
        "location": "Hall A",
        "starts_at": local(start),
        "ends_at": local(start + timedelta(hours=8)),
        "access_level": str(access_level.id),
    }
    return data | overrides


def test_organizer_creates_an_event(organizer_client, access_level):
    data = event_form(access_level) | {"csrf_token": csrf_token(organizer_client, "/events/new")}
    response = organizer_client.post("/events/new", data=data)
    assert response.status_code == 302
    event = db.session.scalars(db.select(Event)).one()
    assert event.name == "Open Day"
    assert event.ends_at - event.starts_at == timedelta(hours=8)
    page = organizer_client.get(response.headers["Location"])
    assert "Open Day" in page.get_data(as_text=True)


def test_bad_event_fields_are_named_and_nothing_written(organizer_client, access_level):
    token = csrf_token(organizer_client, "/events/new")
    start = datetime.now() + timedelta(days=1)
    data = event_form(access_level, name="  ", ends_at=local(start - timedelta(hours=1)))
    data |= {"starts_at": local(start), "access_level": "999", "csrf_token": token}
    body = organizer_client.post("/events/new", data=data).get_data(as_text=True)
    assert "Give the event a name." in body or "This field is required." in body
    assert "The end must be after the start." in body
    assert "Choose an access level from the list." in body
    assert db.session.scalars(db.select(Event)).all() == []


def test_event_form_needs_csrf(organizer_client, access_level):
    response = organizer_client.post("/events/new", data=event_form(access_level))
    assert response.status_code == 400
    assert db.session.scalars(db.select(Event)).all() == []


def test_hosts_cannot_open_events(host_client):
    assert host_client.get("/events").status_code == 403
    assert host_client.get("/events/new").status_code == 403


def test_organizers_see_only_their_events(app, organizer_user, access_level):
    other = make_user(Role.ORGANIZER)
    now = datetime.now().astimezone()
    event = Event(
        name="<b>Other</b>",
        organizer=other,
        access_level=access_level,
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=2),
    )
    db.session.add(event)
    db.session.commit()
    mine = client_for(app, organizer_user)
    assert mine.get(f"/events/{event.id}").status_code == 404
    assert "Other" not in mine.get("/events").get_data(as_text=True)
    response = client_for(app, other).get(f"/events/{event.id}")
    theirs = response.get_data(as_text=True)
    assert response.status_code == 200, theirs[-2000:]
    assert "&lt;b&gt;Other&lt;/b&gt;" in theirs


def test_event_page_lists_guests_with_counts_and_filters(app, organizer_user, access_level):
    now = datetime.now().astimezone()
    event = Event(
        name="Expo",
        organizer=organizer_user,
        access_level=access_level,
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=2),
    )
    db.session.add(event)
    db.session.commit()
    make_visit(organizer_user, access_level, event=event)
    failed = make_visit(organizer_user, access_level, event=event, state="failed")
    failed.guest.full_name = "Grace Hopper"
    db.session.commit()
    client = client_for(app, organizer_user)
    body = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "2 guests" in body and "Ada Lovelace" in body and "Grace Hopper" in body
    body = client.get(f"/events/{event.id}?state=failed").get_data(as_text=True)
    assert "Grace Hopper" in body and "Ada Lovelace" not in body
    body = client.get(f"/events/{event.id}?q=ada").get_data(as_text=True)
    assert "Ada Lovelace" in body and "Grace Hopper" not in body
    listing = client.get("/events").get_data(as_text=True)
    assert "Expo" in listing


def organizers_event(organizer_client, access_level):
    data = event_form(access_level) | {"csrf_token": csrf_token(organizer_client, "/events/new")}
    organizer_client.post("/events/new", data=data)
    return db.session.scalars(db.select(Event)).one()


def test_a_later_end_on_the_form_moves_the_following_guests(
    organizer_client, organizer_user, access_level
):
    event = organizers_event(organizer_client, access_level)
    visit = make_visit(organizer_user, access_level, event=event)
    visit.starts_at, visit.ends_at = event.starts_at, event.ends_at
    db.session.commit()
    zone = organizer_client.application.config["TIMEZONE"]
    start = event.starts_at.astimezone(zone)
    later = event.ends_at.astimezone(zone) + timedelta(hours=1)
    data = event_form(access_level, starts_at=local(start), ends_at=local(later))
    data["csrf_token"] = csrf_token(organizer_client, f"/events/{event.id}/edit")

    response = organizer_client.post(f"/events/{event.id}/edit", data=data)

    assert response.status_code == 302
    page = organizer_client.get(response.location).get_data(as_text=True)
    assert "Event saved. 1 guest moved with the event&#39;s time." in page
    db.session.expire_all()
    assert db.session.get(type(visit), visit.id).ends_at == event.ends_at


def latest_job_id(event):
    return db.session.scalars(
        db.select(JobRecord.id).where(JobRecord.subject_id == event.id).order_by(JobRecord.id)
    ).all()[-1]


def test_a_new_access_level_on_the_form_reaches_the_following_guests(
    organizer_client, organizer_user, access_level
):
    event = organizers_event(organizer_client, access_level)
    visit = make_visit(
        organizer_user, access_level, event=event, state="enrolled", hik_person_id="41"
    )
    hall = make_access_level(name="Event Hall")
    zone = organizer_client.application.config["TIMEZONE"]
    data = event_form(
        hall,
        starts_at=local(event.starts_at.astimezone(zone)),
        ends_at=local(event.ends_at.astimezone(zone)),
    )
    data["csrf_token"] = csrf_token(organizer_client, f"/events/{event.id}/edit")

    response = organizer_client.post(f"/events/{event.id}/edit", data=data)

    assert response.status_code == 302
    page = organizer_client.get(response.location).get_data(as_text=True)
    said = (
        "Event saved. 1 guest took the event&#39;s new access level. HikCentral is being updated."
    )
    assert said in page
    # The job's progress is shown, as for a window move.
    assert 'id="job"' in page and f"/jobs/{latest_job_id(event)}" in page
    db.session.expire_all()
    assert db.session.get(type(visit), visit.id).access_level_id == hall.id


def test_the_organizer_cancels_the_event_and_its_guests(
    organizer_client, organizer_user, access_level
):
    event = organizers_event(organizer_client, access_level)
    visit = make_visit(organizer_user, access_level, event=event)
    token = csrf_token(organizer_client, f"/events/{event.id}")
    assert organizer_client.post(f"/events/{event.id}/cancel").status_code == 400  # no CSRF

    response = organizer_client.post(f"/events/{event.id}/cancel", data={"csrf_token": token})

    assert response.status_code == 302
    page = organizer_client.get(response.location).get_data(as_text=True)
    assert "The event was cancelled with its 1 guest." in page
    assert 'id="event-cancelled"' in page and 'id="cancel-event"' not in page
    assert f"/events/{event.id}/edit" not in page
    db.session.expire_all()
    assert db.session.get(type(visit), visit.id).state == "cancelled"
    # A cancelled event no longer changes and takes no guest list.
    edit = organizer_client.get(f"/events/{event.id}/edit")
    assert edit.status_code == 302 and edit.location.endswith(f"/events/{event.id}")


def test_only_the_events_organizer_or_an_admin_may_cancel_it(app, organizer_client, access_level):
    event = organizers_event(organizer_client, access_level)
    other = client_for(app, make_user(Role.ORGANIZER))
    token = csrf_token(other, "/events")
    assert other.post(f"/events/{event.id}/cancel", data={"csrf_token": token}).status_code == 404
    host = client_for(app, make_user(Role.HOST))
    token = csrf_token(host, "/visits/new")
    assert host.post(f"/events/{event.id}/cancel", data={"csrf_token": token}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Event, event.id).cancelled_at is None
