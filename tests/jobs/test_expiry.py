"""Expiry sweep (architecture.md, flow 5): revokes batched per level, persons deleted, twice."""

from datetime import timedelta

from portal.models import Visit
from portal.queue import enqueue
from portal.services import expiry
from tests.fixtures.factories import make_access_level, make_visit
from tests.jobs.test_enroll_jobs import enqueue_enroll

REVOKE = "/artemis/api/acs/v1/privilege/group/single/deletePersons"
DELETE = "/artemis/api/resource/v1/person/single/delete"


def enrolled_visits(db, sim, work, host, levels):
    visits = [make_visit(host, level) for level in levels]
    for visit in visits:
        enqueue_enroll(visit)
    work()
    db.session.expire_all()
    assert all(v.state == "enrolled" for v in visits)
    return visits


def end_now(db, visits):
    for visit in visits:
        visit.starts_at = visit.starts_at - timedelta(days=1)
        visit.ends_at = visit.starts_at + timedelta(hours=1)
    db.session.commit()


def test_sweep_is_batched_and_idempotent(app, db, sim, work, host_user):
    lobby = make_access_level("Lobby", hik_id="1")
    offices = make_access_level("Offices", hik_id="2")
    visits = enrolled_visits(db, sim, work, host_user, [lobby, lobby, lobby, offices])
    still_on = make_visit(host_user, lobby)
    waiting = make_visit(host_user, lobby)  # pending, never enrolled
    end_now(db, [*visits, waiting])
    calls_before = sim.stats()["calls"]

    enqueue("jobs.access.expire_visits", kind="expire_visits")
    work()

    calls = sim.stats()["calls"]
    assert calls[REVOKE] - calls_before.get(REVOKE, 0) == 2  # one per access level
    assert calls[DELETE] - calls_before.get(DELETE, 0) == 4
    db.session.expire_all()
    assert {v.state for v in visits} == {"expired"}
    assert visits[0].state_reason == expiry.WINDOW_ENDED
    assert db.session.get(Visit, waiting.id).state == "expired"
    assert db.session.get(Visit, still_on.id).state == "pending"
    codes = {p["person_code"] for p in sim.state()["persons"]}
    assert not codes & {v.person_code for v in visits}

    # A second run finds nothing to do and calls HikCentral no more.
    client = app.extensions["hikcentral"]
    assert expiry.expire_visits(client) == {"expired": 0, "retry_later": 0, "visits": []}
    assert sim.stats()["calls"].get(REVOKE) == calls[REVOKE]


def test_transient_failure_leaves_visit_for_next_sweep(
    app, db, sim, work, host_user, impatient_client
):
    lobby = make_access_level("Lobby", hik_id="1")
    [visit] = enrolled_visits(db, sim, work, host_user, [lobby])
    end_now(db, [visit])
    sim.configure(fault_rate=1.0, fault_kinds=["http_500"])
    outcome = expiry.expire_visits(impatient_client)
    assert outcome["retry_later"] == 1
    assert db.session.get(Visit, visit.id).state == "enrolled"

    sim.configure(fault_rate=0.0)
    assert expiry.expire_visits(impatient_client)["expired"] == 1
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).state == "expired"
    assert sim.person(visit.person_code) is None


def test_expired_visits_forget_the_delivery_of_removed_access(
    app, db, sim, work, host_user, impatient_client
):
    lobby = make_access_level("Lobby", hik_id="1")
    [visit] = enrolled_visits(db, sim, work, host_user, [lobby])
    end_now(db, [visit])
    visit.delivery = "applied"
    db.session.commit()
    sim.configure(fault_rate=1.0, fault_kinds=["http_500"])
    expiry.expire_visits(impatient_client)  # HikCentral busy: access kept, delivery still true
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).delivery == "applied"

    sim.configure(fault_rate=0.0)
    assert expiry.expire_visits(impatient_client)["expired"] == 1
    db.session.expire_all()
    visit = db.session.get(Visit, visit.id)
    assert (visit.state, visit.delivery, visit.delivery_failed) == ("expired", None, 0)
