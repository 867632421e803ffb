"""Drift repair: enrolled visits compared with HikCentral, differences repaired within a budget."""

from datetime import datetime, timedelta

from portal.hikvision import client_for
from portal.hikvision import operations as ops
from portal.models import DriftRepair, Visit
from portal.services import drift, enrollment
from tests.fixtures.factories import make_guest, make_visit


def enrolled(app, host, level, count=2):
    visits = [make_visit(host, level, guest=make_guest(f"Guest Drift{n}")) for n in range(count)]
    enrollment.enroll_visit(visits[0], client_for(app))
    return visits


def repairs(db):
    return [(r.visit_id, r.kind) for r in db.session.query(DriftRepair).order_by(DriftRepair.id)]


def test_persons_lost_by_a_server_restore_are_created_again(app, db, sim, host_user, level):
    visits = enrolled(app, host_user, level)
    sim.reset()  # HikCentral restarted empty
    summary = drift.repair_drift(client_for(app))

    assert summary["checked"] == 2 and summary["stopped"] is None
    assert repairs(db) == [(v.id, "person_missing") for v in visits]
    for visit in visits:
        db.session.refresh(visit)
        person = sim.person(visit.person_code)
        assert person["person_id"] == visit.hik_person_id
        assert person["access_levels"] == ["1"] and person["has_face"] is True
        assert visit.delivery == "pending"  # re-applied; a check follows
    # Nothing left to repair: the next run only looks.
    assert drift.repair_drift(client_for(app))["repairs"] == []


def test_a_window_or_access_level_changed_by_hand_is_set_back(app, db, sim, host_user, level):
    changed, ungranted = enrolled(app, host_user, level)
    client = client_for(app)
    wrong_end = changed.ends_at + timedelta(days=3)
    item = (changed.hik_person_id, changed.person_code, changed.starts_at, wrong_end)
    assert ops.update_validity(client, [item])[0].ok
    assert ops.revoke(client, "1", [ungranted.hik_person_id])[0].ok

    summary = drift.repair_drift(client)

    assert {(r["visit"], r["kind"]) for r in summary["repairs"]} == {
        (changed.id, "validity"),
        (ungranted.id, "access_level"),
    }
    person = sim.person(changed.person_code)
    assert datetime.fromisoformat(person["end_time"]) == changed.ends_at.replace(microsecond=0)
    assert sim.person(ungranted.person_code)["access_levels"] == ["1"]


def test_a_run_stops_at_its_call_budget_and_the_next_goes_on(app, db, sim, host_user, level):
    visits = enrolled(app, host_user, level, count=3)
    sim.reset()
    first = drift.repair_drift(client_for(app), max_calls=2)
    assert (first["checked"], first["stopped"], first["calls"]) == (0, "budget", 2)
    # The budget is per run; visits not reached come first next time.
    second = drift.repair_drift(client_for(app), max_calls=100)
    assert second["checked"] == 3
    assert all(sim.person(v.person_code) for v in visits)


def test_the_budget_is_the_call_share_of_the_rate_limit(app):
    app.config.update(
        HIKCENTRAL_RATE_LIMIT_CALLS=10,
        HIKCENTRAL_RATE_LIMIT_WINDOW=1.0,
        RECONCILE_CALL_SHARE=0.2,
        DRIFT_REPAIR_SECONDS=300,
    )
    assert drift.call_rate(app.config) == 2.0
    assert drift.run_budget(app.config) == 120  # 2 calls/s for at most a minute
    limiter = drift.drift_limiter(app.config, app.extensions["redis"])
    assert (limiter.calls, limiter.window_seconds) == (2, 1.0)


def test_hikcentral_down_stops_the_run_without_losing_anything(
    app, db, sim, host_user, level, impatient_client
):
    visits = enrolled(app, host_user, level)
    sim.configure(fault_rate=1.0, fault_kinds=["http_500"])
    summary = drift.repair_drift(impatient_client)
    assert summary["checked"] == 0 and summary["stopped"] == "UnavailableError"
    assert repairs(db) == []
    db.session.expire_all()
    assert {db.session.get(Visit, v.id).drift_checked_at for v in visits} == {None}


def test_the_connection_page_lists_repairs(app, db, sim, admin_client, host_user, level):
    enrolled(app, host_user, level, count=1)
    sim.reset()
    drift.repair_drift(client_for(app))
    page = admin_client.get("/admin/connection").get_data(as_text=True)
    assert "Drift repairs" in page
    assert drift.DETAILS[drift.DriftKind.PERSON_MISSING] in page
