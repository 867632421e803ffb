"""An event's change reaches its guests: moved windows and a cancel, each in one batched job,
through a real worker against the simulator."""

from datetime import timedelta

import pytest
from rq.job import Job, JobStatus

from portal.hikvision import client_for
from portal.models import JobRecord, JobState, Role, Visit
from portal.services import enrollment, imports
from portal.services import events as event_service
from portal.services.event_guests import EVENT_CANCELLED
from portal.services.jobs import JobFailure
from tests.events.imports_support import guest_rows, make_event, sheet, stage_upload, upload
from tests.fixtures.app import client_for as client_for_user
from tests.fixtures.factories import make_guest, make_user, make_visit
from tests.jobs.test_enroll_jobs import hik_calls, reload

UPDATE = "/artemis/api/resource/v1/person/single/update"
REAPPLY = "/artemis/api/visitor/v1/auth/reapplication"
DELETE_PERSONS = "/artemis/api/acs/v1/privilege/group/single/deletePersons"


@pytest.fixture
def organizer(app):
    return make_user(Role.ORGANIZER)


@pytest.fixture
def event(organizer, level):
    return make_event(organizer, level, hours=8)


def guest_of(event, organizer, *, own_window=False, name="Ada Lovelace"):
    """A visit of ``event`` that takes its window (or one of its own)."""
    visit = make_visit(organizer, event.access_level, guest=make_guest(name), event=event)
    visit.starts_at = event.starts_at + (timedelta(hours=1) if own_window else timedelta())
    visit.ends_at = event.ends_at - (timedelta(hours=1) if own_window else timedelta())
    return visit


def enrolled_guests(app, db, event, organizer, count=2, own=1):
    visits = [guest_of(event, organizer, name=f"Guest {n} Follows") for n in range(count)]
    visits += [
        guest_of(event, organizer, own_window=True, name=f"Guest {n} Own") for n in range(own)
    ]
    db.session.commit()
    client = client_for(app)
    for visit in visits:
        enrollment.enroll_visit(visit, client)
    return visits


def save(event, organizer, **changes):
    fields = {
        "name": event.name,
        "location": event.location,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "access_level": event.access_level,
        **changes,
    }
    return event_service.update_event(event, **fields, by=organizer)


def person_windows(sim):
    return {p["person_code"]: (p["begin_time"], p["end_time"]) for p in sim.state()["persons"]}


def test_a_later_end_moves_the_guests_who_follow_the_event_and_hikcentral(
    app, db, sim, work, event, organizer
):
    followers_and_own = enrolled_guests(app, db, event, organizer, count=2, own=1)
    before = person_windows(sim)
    calls_before = hik_calls(sim)
    new_end = event.ends_at + timedelta(hours=1)

    change = save(event, organizer, ends_at=new_end)

    assert change.guests == 2 and change.job is not None
    work()
    followers, own = followers_and_own[:2], followers_and_own[2]
    for visit in followers:
        visit = reload(db, Visit, visit.id)
        assert visit.ends_at == new_end
        assert visit.history[-1].reason.startswith("Time changed with the event to ")
        assert visit.window_not_applied is False  # HikCentral kept the window it was sent
    assert reload(db, Visit, own.id).ends_at == event.starts_at + timedelta(hours=7)
    after = person_windows(sim)
    for visit in followers:
        assert after[visit.person_code][1] != before[visit.person_code][1]
        assert after[visit.person_code][1].startswith(new_end.strftime("%Y-%m-%dT%H:%M"))
    assert after[own.person_code] == before[own.person_code]  # its own window: untouched
    # One update per moved guest and one re-apply for all of them.
    calls = hik_calls(sim)
    assert calls.get(UPDATE, 0) - calls_before.get(UPDATE, 0) == 2
    assert calls.get(REAPPLY, 0) - calls_before.get(REAPPLY, 0) == 1
    record = reload(db, JobRecord, change.job.id)
    assert (record.state, record.subject_type, record.subject_id) == (
        JobState.FINISHED,
        "event",
        event.id,
    )
    assert (record.progress_done, record.progress_total, record.progress_failed) == (2, 2, 0)
    # The event page follows the job.
    page = client_for_user(app, organizer).get(f"/events/{event.id}").get_data(as_text=True)
    assert 'id="job"' in page and "Moving the guests on the doors" in page
    assert "2 of 2" in page


def test_guests_not_enrolled_yet_move_without_a_job(app, db, event, organizer):
    visit = guest_of(event, organizer)
    db.session.commit()
    change = save(event, organizer, starts_at=event.starts_at - timedelta(hours=1))
    assert change.guests == 1 and change.job is None
    assert reload(db, Visit, visit.id).starts_at == event.starts_at


def test_a_name_change_moves_nobody(app, db, event, organizer):
    guest_of(event, organizer)
    db.session.commit()
    change = save(event, organizer, name="Open Day (renamed)")
    assert change.guests == 0 and change.job is None


def test_cancelling_the_event_cancels_its_guests_and_removes_them_in_one_job(
    app, db, sim, work, event, organizer
):
    visits = enrolled_guests(app, db, event, organizer, count=2, own=1)
    waiting = guest_of(event, organizer, name="Not Enrolled Yet")
    db.session.commit()
    calls_before = hik_calls(sim)

    change = event_service.cancel_event(event, by=organizer)

    assert change.guests == 4 and change.job is not None
    assert reload(db, Visit, waiting.id).state == "cancelled"
    work()
    for visit in [*visits, waiting]:
        visit = reload(db, Visit, visit.id)
        assert (visit.state, visit.state_reason) == ("cancelled", EVENT_CANCELLED)
        assert visit.delivery is None
    assert sim.state()["persons"] == []
    # One revoke call for the access level they share.
    assert hik_calls(sim).get(DELETE_PERSONS, 0) - calls_before.get(DELETE_PERSONS, 0) == 1
    record = reload(db, JobRecord, change.job.id)
    assert record.state == JobState.FINISHED
    assert (record.progress_done, record.progress_total) == (3, 3)
    with pytest.raises(event_service.EventStateError):
        save(event, organizer, name="Too late")
    with pytest.raises(event_service.EventStateError):
        event_service.cancel_event(event, by=organizer)


def test_a_transient_failure_retries_the_whole_move(
    app, db, sim, work, event, organizer, impatient_client
):
    enrolled_guests(app, db, event, organizer, count=2, own=0)
    sim.configure(fault_rate=1.0, fault_kinds=["http_500"])
    change = save(event, organizer, ends_at=event.ends_at + timedelta(hours=1))
    work()

    job = Job.fetch(change.job.rq_job_id, connection=app.extensions["redis"])
    assert job.get_status() == JobStatus.SCHEDULED
    record = reload(db, JobRecord, change.job.id)
    assert record.state == JobState.QUEUED
    assert record.result["retrying"]["reason"] == "HikCentral did not answer; try again later."


def test_a_cancelled_event_takes_no_guest_list(app, db, event, organizer):
    staged = stage_upload(event, organizer, upload(sheet(guest_rows(2)), "guests.csv"))
    event_service.cancel_event(event, by=organizer)
    with pytest.raises(imports.ImportFileError, match="cancelled"):
        imports.store_upload(event, organizer, upload(sheet(guest_rows(2)), "guests.csv"))
    with pytest.raises(imports.ImportStateError, match="cancelled"):
        imports.confirm_import(staged, organizer)
    assert db.session.query(Visit).count() == 0


def test_a_list_still_being_checked_when_its_event_is_cancelled_ends_failed(
    app, db, event, organizer
):
    stored = imports.store_upload(event, organizer, upload(sheet(guest_rows(2)), "guests.csv"))
    event_service.cancel_event(event, by=organizer)
    with pytest.raises(JobFailure, match="cancelled"):
        imports.stage_import(stored)
    assert (stored.state, stored.rows_valid, stored.sheet_path) == ("failed", 0, None)
    assert "cancelled" in stored.state_reason


def test_a_moved_window_the_server_does_not_take_is_marked(app, db, sim, work, event, organizer):
    sim.configure(profile="strict")
    taken, ignored = enrolled_guests(app, db, event, organizer, count=2, own=0)
    sim.configure(validity_ignored=[ignored.person_code])
    save(event, organizer, ends_at=event.ends_at + timedelta(hours=1))
    work()
    assert reload(db, Visit, taken.id).window_not_applied is False
    assert reload(db, Visit, ignored.id).window_not_applied is True
