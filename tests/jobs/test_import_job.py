"""Enrolling a confirmed guest list through the real queue against the simulator."""

import math
from collections import Counter

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.hikvision import client_for
from portal.hikvision import operations as ops
from portal.hikvision.operations import ADD_PERSONS, PERSON_ADD, PERSON_BY_CODE, REAPPLY
from portal.models import GuestImport, ImportState, JobRecord, JobState, Visit
from portal.services import enrollment, import_enrollment, imports
from tests.events.imports_support import (
    guest_rows,
    make_event,
    photos_zip,
    sheet,
    stage_upload,
    upload,
)

N = 12


@pytest.fixture
def event(app, organizer_user, level):
    return make_event(organizer_user, level)


def staged(event, user, count=N, with_photos=True):
    names = [f"g{n}.jpg" for n in range(count)]
    photos = upload(photos_zip(names), "photos.zip") if with_photos else None
    rows = guest_rows(count, with_photos=with_photos)
    return stage_upload(event, user, upload(sheet(rows), "guests.csv"), photos)


def reload(model, id_):
    db.session.expire_all()
    return db.session.get(model, id_)


def visits_of(guest_import):
    db.session.expire_all()
    return db.session.scalars(
        select(Visit).where(Visit.import_id == guest_import.id).order_by(Visit.id)
    ).all()


def person_codes(sim):
    return Counter(p["person_code"] for p in sim.state()["persons"])


def test_the_job_enrolls_everyone_in_few_calls(app, db, sim, work, event, organizer_user):
    guest_import = staged(event, organizer_user)
    record = imports.confirm_import(guest_import, organizer_user)

    work()

    record = reload(JobRecord, record.id)
    assert record.state == JobState.FINISHED, record.error
    assert (record.progress_done, record.progress_total, record.progress_failed) == (N, N, 0)
    assert record.result["enrolled_now"] == N and record.result["reapplied"] == N
    guest_import = reload(GuestImport, guest_import.id)
    assert guest_import.state == ImportState.DONE
    visits = visits_of(guest_import)
    assert {v.state for v in visits} == {"enrolled"}
    assert {v.delivery for v in visits} == {"pending"}
    persons = {p["person_code"]: p for p in sim.state()["persons"]}
    for visit in visits:
        person = persons[visit.person_code]
        assert person["person_id"] == visit.hik_person_id
        assert person["has_face"] is True
        assert person["access_levels"] == ["1"]
    calls = sim.stats()["calls"]
    # One add per guest, one grant per chunk (N fits in the first), re-applies in small chunks.
    reapplies = math.ceil(N / app.config["REAPPLY_CHUNK_SIZE"])
    assert calls.get(PERSON_ADD) == N
    assert calls.get(ADD_PERSONS) == 1
    assert calls.get(REAPPLY) == reapplies
    assert sum(calls.values()) == N + 1 + reapplies


def test_chunks_report_progress_and_grant_once_each(app, db, sim, event, organizer_user):
    guest_import = staged(event, organizer_user, count=7, with_photos=False)
    imports.confirm_import(guest_import, organizer_user)
    reports = []
    result = import_enrollment.enroll_import(
        guest_import, client_for(app), report=lambda *a: reports.append(a), first_chunk=2
    )
    # Chunks of 2, 4, 1: progress after each, the first report before any work.
    assert reports == [(0, 7, 0), (2, 7, 0), (6, 7, 0), (7, 7, 0)]
    assert result["enrolled_now"] == 7
    assert sim.stats()["calls"].get(ADD_PERSONS) == 3
    assert sim.stats()["calls"].get(REAPPLY) == 1


class Crash(BaseException):
    """The worker dies (not an error the job could handle)."""


def test_a_crashed_run_is_finished_by_the_next_and_nobody_is_enrolled_twice(
    app, db, sim, work, event, organizer_user, monkeypatch
):
    guest_import = staged(event, organizer_user, count=10, with_photos=False)
    record = imports.confirm_import(guest_import, organizer_user)
    real_grant = import_enrollment.grant_calls
    grants = []

    def dies_at_second_grant(client, calls):
        grants.append(calls)
        if len(grants) == 2:
            raise Crash()
        return real_grant(client, calls)

    monkeypatch.setattr(import_enrollment, "grant_calls", dies_at_second_grant)
    with pytest.raises(Crash):
        # The run of the job the worker was running when it died (the job is run again).
        import_enrollment.enroll_import(
            guest_import, client_for(app), first_chunk=3, job_id=record.rq_job_id
        )
    db.session.rollback()
    states = Counter(v.state for v in visits_of(guest_import))
    # Chunk 1 (3) enrolled; chunks 2 (6) and 3 (1) have their persons but no access yet.
    assert states == {"enrolled": 3, "enrolling": 7}
    assert len(person_codes(sim)) == 10
    monkeypatch.setattr(import_enrollment, "grant_calls", real_grant)
    unrecorded = sum(v.hik_person_id is None for v in visits_of(guest_import))
    before = sim.stats()["calls"]

    work()  # the job, run again

    visits = visits_of(guest_import)
    assert {v.state for v in visits} == {"enrolled"}
    codes = person_codes(sim)
    assert len(codes) == 10 and set(codes.values()) == {1}
    # Persons the dead run recorded are only granted; the others are looked up before any add
    # (a retried run looks first) and adopted, not duplicated.
    after = sim.stats()["calls"]
    assert after.get(PERSON_ADD) == before.get(PERSON_ADD)
    assert after.get(PERSON_BY_CODE, 0) - before.get(PERSON_BY_CODE, 0) == unrecorded
    assert all(p["access_levels"] == ["1"] for p in sim.state()["persons"])


def test_persons_created_before_a_crash_are_adopted_not_duplicated(
    app, db, sim, work, event, organizer_user
):
    guest_import = staged(event, organizer_user, count=4, with_photos=False)
    imports.confirm_import(guest_import, organizer_user)
    visits = visits_of(guest_import)
    # A run created two persons, then died before it could record them.
    specs = [enrollment.person_spec(v) for v in visits[:2]]
    assert all(r.ok for r in ops.ensure_persons(client_for(app), specs))
    for visit in visits[:2]:
        visit.state = "enrolling"
    db.session.commit()

    work()

    assert {v.state for v in visits_of(guest_import)} == {"enrolled"}
    codes = person_codes(sim)
    assert len(codes) == 4 and set(codes.values()) == {1}


def test_a_refused_photo_fails_that_guest_with_a_reason_and_retry_enrolls_it(
    app, db, sim, work, event, organizer_user
):
    guest_import = staged(event, organizer_user, count=3)
    imports.confirm_import(guest_import, organizer_user)
    broken = visits_of(guest_import)[1]
    good_photo = broken.guest.photo
    broken.guest.photo = b"\xff\xd8 not really a jpeg"
    db.session.commit()

    work()

    visits = {v.id: v for v in visits_of(guest_import)}
    assert visits[broken.id].state == "failed"
    assert visits[broken.id].state_reason.startswith("HikCentral refused the photo")
    assert [v.state for k, v in visits.items() if k != broken.id] == ["enrolled", "enrolled"]
    record = reload(JobRecord, reload(GuestImport, guest_import.id).job_id)
    assert record.state == JobState.FINISHED
    assert (record.progress_done, record.progress_total, record.progress_failed) == (3, 3, 1)
    assert [v.id for v in db.session.scalars(import_enrollment.failed_visits(guest_import))] == [
        broken.id
    ]

    visits[broken.id].guest.photo = good_photo
    db.session.commit()
    retry = imports.retry_failed(reload(GuestImport, guest_import.id), organizer_user)
    work()

    assert {v.state for v in visits_of(guest_import)} == {"enrolled"}
    assert reload(JobRecord, retry.id).state == JobState.FINISHED
    codes = person_codes(sim)
    assert len(codes) == 3 and set(codes.values()) == {1}


def test_hikcentral_down_leaves_guests_waiting_and_a_rerun_finishes(
    app, db, sim, event, organizer_user, impatient_client
):
    guest_import = staged(event, organizer_user, count=4, with_photos=False)
    imports.confirm_import(guest_import, organizer_user)
    sim.configure(fault_rate=1.0, fault_kinds=["http_500"])
    with pytest.raises(enrollment.TransientEnrollmentError):
        import_enrollment.enroll_import(guest_import, impatient_client, job_id="job-1")
    db.session.rollback()
    assert {v.state for v in visits_of(guest_import)} <= {"enrolling", "pending"}
    assert reload(GuestImport, guest_import.id).state == ImportState.ENROLLING

    sim.configure(fault_rate=0.0)
    # RQ retries the same job (same id): it takes up the guests it holds.
    import_enrollment.enroll_import(
        reload(GuestImport, guest_import.id), impatient_client, job_id="job-1"
    )
    assert {v.state for v in visits_of(guest_import)} == {"enrolled"}
    codes = person_codes(sim)
    assert len(codes) == 4 and set(codes.values()) == {1}


def test_giving_up_fails_the_waiting_guests_so_they_can_be_retried(
    app, db, sim, event, organizer_user, redis_conn
):
    from jobs.imports import _give_up

    guest_import = staged(event, organizer_user, count=2, with_photos=False)
    imports.confirm_import(guest_import, organizer_user)
    _give_up(guest_import.id, error=enrollment.TransientEnrollmentError("down"))
    visits = visits_of(guest_import)
    assert {v.state for v in visits} == {"failed"}
    assert {v.state_reason for v in visits} == {enrollment.HIKCENTRAL_DOWN}
    assert reload(GuestImport, guest_import.id).state == ImportState.DONE


def test_a_guest_cancelled_meanwhile_is_skipped(app, db, sim, work, event, organizer_user):
    guest_import = staged(event, organizer_user, count=3, with_photos=False)
    imports.confirm_import(guest_import, organizer_user)
    cancelled = visits_of(guest_import)[0]
    cancelled.state = "cancelled"
    db.session.commit()

    work()

    states = {v.id: v.state for v in visits_of(guest_import)}
    assert states.pop(cancelled.id) == "cancelled"
    assert set(states.values()) == {"enrolled"}
    assert cancelled.person_code not in person_codes(sim)
