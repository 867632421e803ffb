"""Enrollment through the real queue against the simulator's strict profile (notes §8)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.hikvision import client_for, identifiers
from portal.hikvision import operations as ops
from portal.models import Visit, VisitState
from portal.services import enrollment, visits
from tests.fixtures.factories import make_visit
from tests.jobs.test_enroll_jobs import enqueue_enroll, reload

ADD = ops.PERSON_ADD
BY_CODE = ops.PERSON_BY_CODE


@pytest.fixture
def strict(sim):
    sim.configure(profile="strict")
    return sim


def persons_with(sim, code):
    return [p for p in sim.state()["persons"] if p["person_code"] == code]


def test_new_visits_get_safe_person_codes(app, db, host_user, level):
    visit = make_visit(host_user, level)
    assert identifiers.is_safe_code(visit.person_code) and visit.person_code.startswith("GH")
    app.config.update(HIKCENTRAL_PERSON_CODE_PREFIX="VIS", HIKCENTRAL_PERSON_CODE_LENGTH=9)
    other = make_visit(host_user, level)
    assert other.person_code.startswith("VIS") and len(other.person_code) == 9


def test_a_retried_job_adopts_the_person_its_first_run_added(
    app, db, strict, work, host_user, level, impatient_client
):
    app.config["JOB_RETRY_INTERVALS"] = [0]
    strict.configure(fault_paths=[ops.ADD_PERSONS], fault_script=["http_500"])
    visit = make_visit(host_user, level)
    enqueue_enroll(visit)
    work()

    visit = reload(db, Visit, visit.id)
    assert visit.state == VisitState.ENROLLED
    assert len(persons_with(strict, visit.person_code)) == 1
    calls = strict.stats()["calls"]
    # The retry (same job) knows the person its first run added and recorded: no second add,
    # no lookup needed.
    assert calls[ADD] == 1
    assert BY_CODE not in calls


def test_a_lost_add_and_a_failing_lookup_retry_the_job_and_never_fail_the_guest(
    app, db, strict, work, host_user, level, impatient_client
):
    app.config["JOB_RETRY_INTERVALS"] = [0]
    strict.configure(fault_paths=[ADD, BY_CODE], fault_script=["lost", "http_500"])
    visit = make_visit(host_user, level)
    enqueue_enroll(visit)
    work()

    visit = reload(db, Visit, visit.id)
    assert visit.state == VisitState.ENROLLED
    [person] = persons_with(strict, visit.person_code)
    assert visit.hik_person_id == person["person_id"]
    assert strict.stats()["calls"][ADD] == 1


def test_a_guest_already_on_the_server_is_adopted_after_the_bare_refusal(
    app, db, strict, host_user, level
):
    visit = make_visit(host_user, level)
    [added] = ops.ensure_persons(client_for(app), [enrollment.person_spec(visit)])
    enrollment.enroll_visit(visit, client_for(app))
    assert visit.state == VisitState.ENROLLED
    assert visit.hik_person_id == added.person_id
    assert len(persons_with(strict, visit.person_code)) == 1
    assert strict.stats()["calls"][ADD] == 2  # ours, then the refused one, then a lookup


def test_a_window_the_server_ignores_once_is_applied_by_the_second_try(
    app, db, strict, work, host_user, level
):
    visit = make_visit(host_user, level)
    enrollment.enroll_visit(visit, client_for(app))
    new_end = visit.ends_at + timedelta(hours=2)
    visits.change_window(visit, visit.starts_at, new_end, by=host_user)
    work()

    visit = reload(db, Visit, visit.id)
    assert not visit.window_not_applied
    [person] = persons_with(strict, visit.person_code)
    assert person["end_time"] == ops.iso(new_end)
    assert strict.stats()["calls"][ops.PERSON_UPDATE] == 2


def test_a_window_the_server_never_takes_is_marked_for_host_and_admin(
    app, db, strict, work, host_user, level, host_client, admin_client
):
    visit = make_visit(host_user, level)
    enrollment.enroll_visit(visit, client_for(app))
    strict.configure(validity_ignored=[visit.person_code])
    visits.change_window(visit, visit.starts_at, visit.ends_at + timedelta(hours=2), by=host_user)
    work()

    visit = reload(db, Visit, visit.id)
    assert visit.window_not_applied and visit.state == VisitState.ENROLLED
    for client in (host_client, admin_client):
        page = client.get(f"/visits/{visit.id}").get_data(as_text=True)
        assert "Window not applied on HikCentral" in page
    connection = admin_client.get("/admin/connection").get_data(as_text=True)
    assert "Window not applied on HikCentral" in connection
    assert f"/visits/{visit.id}" in connection


def test_an_older_unsafe_code_not_on_the_server_is_replaced_by_a_safe_one(
    app, db, strict, host_user, level
):
    legacy = "GH0123456789ABCDEF"
    visit = make_visit(host_user, level, person_code=legacy)
    enrollment.enroll_visit(visit, client_for(app))
    visit = reload(db, Visit, visit.id)
    assert visit.state == VisitState.ENROLLED
    assert visit.person_code == identifiers.safe_code_for(legacy)
    assert len(persons_with(strict, visit.person_code)) == 1


def test_an_older_code_already_on_the_server_is_kept(app, db, sim, host_user, level):
    legacy = "GH0123456789ABCDEF"
    visit = make_visit(host_user, level, person_code=legacy)
    spec = ops.PersonSpec(legacy, "Ada", "Lovelace", visit.starts_at, visit.ends_at)
    [added] = ops.ensure_persons(client_for(app), [spec])
    enrollment.enroll_visit(visit, client_for(app))
    visit = reload(db, Visit, visit.id)
    assert (visit.person_code, visit.hik_person_id) == (legacy, added.person_id)
    assert len(sim.state()["persons"]) == 1


def test_an_enrolled_visit_keeps_its_older_code(app, db, sim, host_user, level):
    visit = make_visit(host_user, level, person_code="GH0123456789ABCDEF", hik_person_id="77")
    spec = enrollment.person_spec(visit)
    assert (spec.person_code, spec.legacy_code) == ("GH0123456789ABCDEF", None)
    assert db.session.scalar(select(Visit.person_code).where(Visit.id == visit.id)) == (
        "GH0123456789ABCDEF"
    )
