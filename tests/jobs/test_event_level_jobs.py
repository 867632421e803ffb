"""A new access level of an event reaches the guests who follow it: in the database with the
event, then on HikCentral in one batched job (a real worker against the simulator, and the
exact requests against a recorded server)."""

import json
from datetime import timedelta

import pytest
import responses

from portal.hikvision import client_for
from portal.hikvision.client import HikCentralClient
from portal.hikvision.operations import ADD_PERSONS, DELETE_PERSONS, PERSON_UPDATE, REAPPLY
from portal.models import JobRecord, Visit
from portal.services import enrollment, event_guests
from tests.events.imports_support import make_event
from tests.fixtures.app import client_for as client_for_user
from tests.fixtures.factories import make_access_level, make_guest, make_visit
from tests.jobs.test_enroll_jobs import hik_calls, reload
from tests.jobs.test_event_guest_jobs import guest_of, save

OK = {"code": "0", "msg": "Success", "data": ""}


@pytest.fixture
def organizer(organizer_user):
    return organizer_user


@pytest.fixture
def event(organizer, level):
    return make_event(organizer, level, hours=8)


@pytest.fixture
def hall(app, sim):
    """The simulator's seed access level "3", as a sync would have copied it."""
    return make_access_level(name="Event Hall", hik_id="3")


@pytest.fixture
def offices(app, sim):
    return make_access_level(name="Visitors – Offices", hik_id="2")


def members(sim):
    """{access level hik id: set of person ids} as the simulator holds them."""
    return {lv["privilegeGroupId"]: set(lv["members"]) for lv in sim.state()["access_levels"]}


def enrolled(app, db, visits):
    db.session.commit()
    client = client_for(app)
    for visit in visits:
        enrollment.enroll_visit(visit, client)
    return [reload(db, Visit, visit.id) for visit in visits]


def test_a_new_access_level_moves_the_following_guests_on_hikcentral(
    app, db, sim, work, event, organizer, level, hall, offices
):
    followers = [guest_of(event, organizer, name=f"Guest {n} Follows") for n in range(2)]
    own = make_visit(organizer, offices, guest=make_guest("Guest Own Level"), event=event)
    *followers, own = enrolled(app, db, [*followers, own])
    follower_ids = {visit.hik_person_id for visit in followers}
    before = members(sim)
    assert follower_ids <= before["1"] and not follower_ids & before["3"]
    calls_before = hik_calls(sim)

    change = save(event, organizer, access_level=hall)

    assert (change.guests, change.relevelled) == (0, 2) and change.job is not None
    work()
    after = members(sim)
    assert follower_ids <= after["3"] and not follower_ids & after["1"]
    assert own.hik_person_id in after["2"] and own.hik_person_id not in after["3"]
    calls = hik_calls(sim)
    # One grant and one revoke for the batch, one re-apply, no window sent.
    for path, expected in ((ADD_PERSONS, 1), (DELETE_PERSONS, 1), (REAPPLY, 1), (PERSON_UPDATE, 0)):
        assert calls.get(path, 0) - calls_before.get(path, 0) == expected, path
    for visit in followers:
        assert reload(db, Visit, visit.id).access_level_id == hall.id
    assert reload(db, Visit, own.id).access_level_id == offices.id
    record = reload(db, JobRecord, change.job.id)
    assert (record.state, record.kind) == ("finished", "update_event_guests")
    assert (record.progress_done, record.progress_total, record.progress_failed) == (2, 2, 0)
    # The event page follows the job, as it does a window move.
    page = client_for_user(app, organizer).get(f"/events/{event.id}").get_data(as_text=True)
    assert 'id="job"' in page and "2 of 2" in page

    # Run again (as a retry would): HikCentral holds the same, nothing fails.
    again = event_guests.update_guests(
        event,
        client_for(app),
        report=lambda *progress: None,
        window=False,
        level_change={"from": level.id, "visits": [v.id for v in followers]},
    )
    assert (again["updated"], again["failed"]) == (2, [])
    assert members(sim) == after


def test_window_and_access_level_changed_together_go_in_one_job(
    app, db, sim, work, event, organizer, hall
):
    followers = enrolled(app, db, [guest_of(event, organizer, name=f"Guest {n}") for n in range(3)])
    new_end = event.ends_at + timedelta(hours=2)
    jobs_before = db.session.query(JobRecord).count()

    change = save(event, organizer, ends_at=new_end, access_level=hall)

    assert (change.guests, change.relevelled) == (3, 3)
    assert db.session.query(JobRecord).count() == jobs_before + 1
    work()
    persons = {p["person_code"]: p for p in sim.state()["persons"]}
    for visit in followers:
        person = persons[visit.person_code]
        assert person["end_time"].startswith(new_end.strftime("%Y-%m-%dT%H:%M"))
        assert person["access_levels"] == ["3"]
    record = reload(db, JobRecord, change.job.id)
    assert (record.state, record.progress_done, record.progress_total) == ("finished", 3, 3)


def test_the_event_back_on_its_old_level_before_the_job_ran_keeps_its_guests(
    app, db, sim, work, event, organizer, level, hall
):
    [visit] = enrolled(app, db, [guest_of(event, organizer)])
    save(event, organizer, access_level=hall)
    save(event, organizer, access_level=level)
    work()  # both jobs, in order
    assert reload(db, Visit, visit.id).access_level_id == level.id
    held = members(sim)
    assert visit.hik_person_id in held["1"] and visit.hik_person_id not in held["3"]


@responses.activate
def test_the_requests_are_one_grant_one_revoke_and_one_reapply(
    app, db, event, organizer, level, hall
):
    # The simulator is not used here: the recorded server sees exactly what is sent.
    visits = [guest_of(event, organizer, name=f"Guest {n}") for n in range(2)]
    for n, visit in enumerate(visits):
        visit.state, visit.hik_person_id = "enrolled", str(100 + n)
    event.access_level = hall
    for visit in visits:
        visit.access_level = hall
    db.session.commit()
    url = "https://hik.example"
    for path in (ADD_PERSONS, DELETE_PERSONS, REAPPLY):
        responses.post(f"{url}{path}", json=OK)
    client = HikCentralClient(url, "12345678", "secret", max_retries=0)

    summary = event_guests.update_guests(
        event,
        client,
        report=lambda *progress: None,
        window=False,
        level_change={"from": level.id, "visits": [v.id for v in visits]},
    )

    assert summary == {"event": event.id, "updated": 2, "failed": []}
    sent = [
        (call.request.url[len(url) :], json.loads(call.request.body)) for call in responses.calls
    ]
    people = [{"id": "100"}, {"id": "101"}]
    assert sent == [
        (ADD_PERSONS, {"privilegeGroupId": hall.hik_id, "type": 1, "list": people}),
        (DELETE_PERSONS, {"privilegeGroupId": level.hik_id, "type": 1, "list": people}),
        (REAPPLY, {"personIds": "100,101", "ImmediateDownload": 0}),
    ]


@responses.activate
def test_a_refused_grant_keeps_the_old_level_and_is_reported(
    app, db, event, organizer, level, hall
):
    [visit] = [guest_of(event, organizer)]
    visit.state, visit.hik_person_id = "enrolled", "100"
    event.access_level = visit.access_level = hall
    db.session.commit()
    url = "https://hik.example"
    responses.post(f"{url}{ADD_PERSONS}", json={"code": "2", "msg": "access level is offline"})
    client = HikCentralClient(url, "12345678", "secret", max_retries=0)

    summary = event_guests.update_guests(
        event,
        client,
        report=lambda *progress: None,
        window=False,
        level_change={"from": level.id, "visits": [visit.id]},
    )

    assert summary["failed"] == [visit.id] and summary["updated"] == 0
    # Neither a revoke (the guest keeps the doors they had) nor a re-apply was sent.
    assert [call.request.url[len(url) :] for call in responses.calls] == [ADD_PERSONS]
