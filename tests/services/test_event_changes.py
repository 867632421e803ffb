"""Saving an event with a new access level: its following guests take it in the same
transaction, with a history line each and the event's audit entry; one job is started only
when HikCentral holds a person for one of them."""

import pytest
from rq.job import Job
from sqlalchemy import select

from portal.models import AuditAction, AuditEntry, JobRecord, Visit
from portal.services import events as event_service
from portal.services.event_guests import RELEVELLED
from tests.events.imports_support import make_event
from tests.fixtures.factories import make_access_level, make_guest, make_visit


@pytest.fixture
def event(organizer_user, access_level):
    return make_event(organizer_user, access_level)


@pytest.fixture
def hall(app):
    return make_access_level(name="Event Hall")


def guest(event, name, *, level=None, **fields):
    visit = make_visit(
        event.organizer, level or event.access_level, guest=make_guest(name), event=event, **fields
    )
    visit.starts_at, visit.ends_at = event.starts_at, event.ends_at
    return visit


def save(event, **changes):
    fields = {
        "name": event.name,
        "location": event.location,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "access_level": event.access_level,
        **changes,
    }
    return event_service.update_event(event, **fields, by=event.organizer)


def reloaded(db, visit):
    db.session.expire_all()
    return db.session.get(Visit, visit.id)


def test_following_guests_take_the_new_level_and_others_keep_theirs(db, event, hall):
    own_level = make_access_level(name="Offices")
    follower = guest(event, "Guest Follows")
    own = guest(event, "Guest Own Level", level=own_level)
    db.session.commit()

    change = save(event, access_level=hall)

    assert (change.guests, change.relevelled, change.job) == (0, 1, None)
    follower = reloaded(db, follower)
    assert follower.access_level_id == hall.id
    assert follower.history[-1].reason == RELEVELLED % {"level": "Event Hall"}
    assert follower.history[-1].by_user_id == event.organizer_id
    assert reloaded(db, own).access_level_id == own_level.id
    entries = db.session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.object_type == "event", AuditEntry.object_id == event.id
        )
    ).all()
    assert entries == [AuditAction.EVENT_CHANGED.value]


def test_a_closed_visit_keeps_the_old_level(db, event, access_level, hall):
    closed = guest(event, "Guest Cancelled", state="cancelled")
    db.session.commit()
    change = save(event, access_level=hall)
    assert change.relevelled == 0
    assert reloaded(db, closed).access_level_id == access_level.id


def test_a_guest_holding_a_person_starts_one_job_naming_the_old_level(
    db, redis_conn, event, access_level, hall
):
    held = guest(event, "Guest On Doors", state="enrolled", hik_person_id="77")
    waiting = guest(event, "Guest Waiting")
    db.session.commit()

    change = save(event, access_level=hall, ends_at=event.ends_at.replace(minute=30))

    assert (change.guests, change.relevelled) == (2, 2)
    record = db.session.get(JobRecord, change.job.id)
    assert (record.kind, record.subject_type, record.subject_id) == (
        "update_event_guests",
        "event",
        event.id,
    )
    job = Job.fetch(record.rq_job_id, connection=redis_conn)
    assert job.func_name == "jobs.events.update_event_guests"
    # Only the guest HikCentral holds is moved there; the other takes the level when enrolled.
    assert job.args == (event.id, True, {"from": access_level.id, "visits": [held.id]})
    assert reloaded(db, waiting).access_level_id == hall.id


def test_an_invalid_level_changes_nothing(db, event, access_level):
    follower = guest(event, "Guest Follows")
    db.session.commit()
    inactive = make_access_level(name="Retired")
    inactive.active = False
    db.session.commit()
    with pytest.raises(event_service.EventValidationError) as raised:
        save(event, access_level=inactive)
    assert raised.value.fields == {"access_level": "Choose an access level from the list."}
    db.session.rollback()
    assert reloaded(db, follower).access_level_id == access_level.id
