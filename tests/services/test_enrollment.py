"""The enrollment service called directly (no queue), against the simulator."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from portal.hikvision import client_for
from portal.hikvision import operations as ops
from portal.models import Visit
from portal.services import delivery, enrollment
from portal.services.jobs import JobFailure
from tests.fixtures.factories import make_access_level, make_visit


@pytest.fixture
def app_config(app_config):
    return {**app_config, "DELIVERY_CHECKS": 3, "DELIVERY_CHECK_DELAYS": [3, 30, 120]}


@pytest.fixture
def client(app, sim):
    return client_for(app)


@pytest.fixture
def lobby(app):
    return make_access_level("Visitors – Lobby", hik_id="1")


@pytest.mark.parametrize(
    ("full_name", "expected"),
    [
        ("Ada Lovelace", ("Ada", "Lovelace")),
        ("Jean Luc de Tour", ("Jean Luc de", "Tour")),
        ("  Madonna ", ("Madonna", "-")),
    ],
)
def test_split_name(full_name, expected):
    assert enrollment.split_name(full_name) == expected


def test_enroll_records_person_and_history(app, db, sim, client, host_user, lobby):
    visit = make_visit(host_user, lobby)
    result = enrollment.enroll_visit(visit, client)
    assert result["outcome"] == "enrolled"
    assert visit.state == "enrolled" and visit.hik_person_id == result["hik_person_id"]
    assert visit.delivery == "pending"  # checked later, by a deferred job
    person = sim.person(visit.person_code)
    assert datetime.fromisoformat(person["end_time"]) == visit.ends_at.replace(microsecond=0)


def test_window_already_over_expires_without_calls(app, db, sim, client, host_user, lobby):
    visit = make_visit(host_user, lobby, starts_in=timedelta(hours=-5))
    assert enrollment.enroll_visit(visit, client)["outcome"] == "expired"
    assert visit.state == "expired" and visit.state_reason == enrollment.WINDOW_OVER
    assert sim.stats()["calls"] == {}


def test_inactive_access_level_fails_without_calls(app, db, sim, client, host_user, lobby):
    lobby.active = False
    db.session.commit()
    visit = make_visit(host_user, lobby)
    with pytest.raises(JobFailure) as failure:
        enrollment.enroll_visit(visit, client)
    assert "no longer offered" in failure.value.message
    assert visit.state == "failed" and visit.state_reason == failure.value.message
    assert sim.stats()["calls"] == {}


def test_cancel_during_enrollment_takes_access_back(
    app, db, sim, client, host_user, lobby, monkeypatch
):
    visit = make_visit(host_user, lobby)
    real_reapply = ops.reapply

    def reapply_then_cancel(client_, person_ids):
        real_reapply(client_, person_ids)
        # The host cancels while the job is between its HikCentral calls.
        db.session.execute(update(Visit).where(Visit.id == visit.id).values(state="cancelled"))

    monkeypatch.setattr(ops, "reapply", reapply_then_cancel)
    result = enrollment.enroll_visit(visit, client)
    assert result["outcome"] == "revoked_after_change"
    assert visit.state == "cancelled"
    assert sim.person(visit.person_code) is None


def test_window_changed_during_enrollment_is_sent(
    app, db, sim, client, host_user, lobby, monkeypatch
):
    visit = make_visit(host_user, lobby)
    new_end = visit.ends_at + timedelta(hours=3)
    real_grant = ops.grant

    def grant_then_extend(client_, level_id, person_ids):
        db.session.execute(update(Visit).where(Visit.id == visit.id).values(ends_at=new_end))
        return real_grant(client_, level_id, person_ids)

    monkeypatch.setattr(ops, "grant", grant_then_extend)
    enrollment.enroll_visit(visit, client)
    person = sim.person(visit.person_code)
    assert datetime.fromisoformat(person["end_time"]) == new_end.replace(microsecond=0)


def test_give_up_only_touches_unfinished_visits(app, db, host_user, lobby):
    waiting = make_visit(host_user, lobby, state="enrolling")
    done = make_visit(host_user, lobby, state="enrolled")
    for visit in (waiting, done):
        enrollment.give_up(visit, enrollment.HIKCENTRAL_DOWN)
    assert waiting.state == "failed" and waiting.state_reason == enrollment.HIKCENTRAL_DOWN
    assert done.state == "enrolled"


def test_revoke_leaves_live_visits_alone(app, db, sim, client, host_user, lobby):
    visit = make_visit(host_user, lobby)
    enrollment.enroll_visit(visit, client)
    assert enrollment.revoke_visit(visit, client)["outcome"] == "skipped"
    assert sim.person(visit.person_code) is not None


def test_reapply_follows_delivery(app, db, sim, client, host_user, lobby):
    sim.configure(delivery_delay=0.0)
    visit = make_visit(host_user, lobby)
    enrollment.enroll_visit(visit, client)
    delivery.follow_deliveries(client, now=visit.delivery_due_at)
    assert visit.delivery == "applied"
    result = enrollment.reapply_visit(visit, client)
    # The re-apply starts the checks over, to be made later by the deferred job.
    assert result == {"visit": visit.id, "outcome": "reapplied", "delivery": "pending"}
    assert (visit.delivery_checks, visit.delivery_due_at is not None) == (0, True)
    delivery.follow_deliveries(client, now=visit.delivery_due_at)
    assert visit.delivery == "applied"


def test_revoke_forgets_the_delivery_of_the_removed_access(app, db, sim, client, host_user, lobby):
    sim.configure(delivery_delay=0.0)
    visit = make_visit(host_user, lobby)
    enrollment.enroll_visit(visit, client)
    delivery.follow_deliveries(client, now=visit.delivery_due_at)
    assert visit.delivery == "applied"
    visit.state = "cancelled"
    db.session.commit()
    assert enrollment.revoke_visit(visit, client)["outcome"] == "revoked"
    db.session.expire_all()
    visit = db.session.get(Visit, visit.id)
    assert (visit.delivery, visit.delivery_failed) == (None, 0)
    assert sim.person(visit.person_code) is None
