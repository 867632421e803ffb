"""Visit rules without HTTP: registration, window changes, cancel, retry, who sees what."""

from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import func, select, text

from portal import queue as job_queue
from portal.models import (
    Guest,
    JobRecord,
    JobState,
    Role,
    Visit,
    VisitState,
    VisitStateChange,
    utcnow,
)
from portal.services import visits as svc
from tests.fixtures.factories import face_jpeg, make_access_level, make_user, make_visit


def window(starts_in=timedelta(hours=1), length=timedelta(hours=8)):
    start = utcnow() + starts_in
    return {"starts_at": start, "ends_at": start + length}


def register(host, level, **overrides):
    fields = {
        "full_name": "Grace Hopper",
        "email": "grace@example.com",
        "phone": "+7 495 123-45-67",
        "company": "Navy",
        "purpose": "Talk",
        "access_level": level,
        "photo": face_jpeg(),
        **window(),
    }
    fields.update(overrides)
    return svc.register_visit(host, **fields)


def count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


def queued(redis_conn, name="high"):
    return Queue(name, connection=redis_conn).jobs


def test_register_writes_guest_visit_history_then_enqueues(db, host_user, access_level, redis_conn):
    visit = register(host_user, access_level)

    assert visit.id and visit.state == VisitState.PENDING
    assert visit.guest.full_name == "Grace Hopper"
    assert visit.guest.photo[:2] == b"\xff\xd8" and len(visit.guest.photo_sha256) == 64
    assert [(c.state, c.by_user_id) for c in visit.history] == [("pending", host_user.id)]
    record = db.session.scalars(select(JobRecord)).one()
    assert (record.kind, record.subject_type, record.subject_id) == (
        "enroll_visit",
        "visit",
        visit.id,
    )
    assert record.created_by_id == host_user.id
    jobs = queued(redis_conn)
    assert [job.id for job in jobs] == [record.rq_job_id]
    assert jobs[0].func_name == "jobs.enroll.enroll_visit"
    assert jobs[0].args == (visit.id,)


def test_enqueue_happens_after_the_commit(app, db, host_user, access_level, monkeypatch):
    seen = {}
    real_enqueue = job_queue.enqueue

    def spying_enqueue(func_name, *args, **kwargs):
        # A separate connection sees only committed rows: what a fast worker would see.
        with db.engine.connect() as other:
            seen["visits"] = other.execute(text("SELECT id, state FROM visits")).all()
            seen["guests"] = other.execute(text("SELECT count(*) FROM guests")).scalar()
        return real_enqueue(func_name, *args, **kwargs)

    monkeypatch.setattr(job_queue, "enqueue", spying_enqueue)
    visit = register(host_user, access_level)
    assert seen == {"visits": [(visit.id, "pending")], "guests": 1}


def test_name_with_html_is_stored_as_plain_text(db, host_user, access_level, redis_conn):
    name = '<script>alert("x")</script> Bobby'
    visit = register(host_user, access_level, full_name=name)
    db.session.expire_all()
    assert db.session.get(Guest, visit.guest_id).full_name == name


def test_whitespace_is_tidied(host_user, access_level, redis_conn):
    visit = register(host_user, access_level, full_name="  Ada \n  Lovelace ", company="  ")
    assert visit.guest.full_name == "Ada Lovelace"
    assert visit.guest.company is None


def test_photo_is_required_by_default(app, db, host_user, access_level, redis_conn):
    assert app.config["REQUIRE_GUEST_PHOTO"] is True
    for missing in (None, b""):
        with pytest.raises(svc.VisitValidationError) as caught:
            register(host_user, access_level, photo=missing)
        assert caught.value.fields == {
            "photo": "Add a photo of the guest's face: the doors recognise guests by face."
        }
    assert count(db, Guest) == count(db, Visit) == count(db, JobRecord) == 0
    assert queued(redis_conn) == []


def test_photo_is_optional_when_the_site_does_not_require_it(
    app, host_user, access_level, redis_conn
):
    app.config["REQUIRE_GUEST_PHOTO"] = False
    visit = register(host_user, access_level, photo=None)
    assert visit.guest.photo is None and visit.state == VisitState.PENDING


BAD_INPUT = [
    ({"full_name": ""}, "full_name", "Enter the guest's full name."),
    ({"full_name": "   "}, "full_name", "Enter the guest's full name."),
    ({"full_name": "x" * 201}, "full_name", "At most 200 characters."),
    ({"email": "not-an-email"}, "email", "Enter an email address like name@example.com."),
    ({"email": "a@b@c.com"}, "email", "Enter an email address like name@example.com."),
    ({"phone": "call me maybe"}, "phone", "Enter a phone number"),
    ({"phone": "12"}, "phone", "Enter a phone number"),
    (window(length=-timedelta(hours=1)), "ends_at", "The end must be after the start."),
    (window(starts_in=-timedelta(hours=2)), "starts_at", "The start is in the past"),
    (window(length=timedelta(days=15)), "ends_at", "A visit can last at most 14 days."),
    ({"access_level": 999_999}, "access_level", "Choose an access level from the list."),
    ({"access_level": "abc"}, "access_level", "Choose an access level from the list."),
    ({"access_level": None}, "access_level", "Choose an access level from the list."),
    ({"photo": b"not an image at all"}, "photo", "The file is not an image"),
    ({"photo": face_jpeg(size=(150, 150))}, "photo", "The photo is too small"),
    ({"photo": face_jpeg(size=(800, 800))[:3000]}, "photo", "The photo is damaged or incomplete"),
    ({"starts_at": None}, "starts_at", "Enter when the visit starts."),
]


@pytest.mark.parametrize(("overrides", "field", "message"), BAD_INPUT)
def test_bad_input_names_the_field_and_writes_nothing(
    db, host_user, access_level, redis_conn, overrides, field, message
):
    with pytest.raises(svc.VisitValidationError) as caught:
        register(host_user, access_level, **overrides)
    assert caught.value.fields[field].startswith(message)
    assert count(db, Guest) == count(db, Visit) == count(db, JobRecord) == 0
    assert count(db, VisitStateChange) == 0
    assert queued(redis_conn) == []


def test_inactive_access_level_is_refused(db, host_user, redis_conn):
    level = make_access_level("Old")
    level.active = False
    db.session.commit()
    with pytest.raises(svc.VisitValidationError) as caught:
        register(host_user, level)
    assert "access_level" in caught.value.fields


def test_all_errors_are_reported_at_once(host_user, access_level, redis_conn):
    with pytest.raises(svc.VisitValidationError) as caught:
        register(host_user, access_level, full_name="", email="x", photo=b"nope")
    assert set(caught.value.fields) == {"full_name", "email", "photo"}


def test_queue_down_leaves_the_visit_pending_and_retryable(
    db, host_user, access_level, redis_conn, monkeypatch
):
    import redis

    def refuse(*args, **kwargs):
        raise redis.exceptions.ConnectionError("down")

    monkeypatch.setattr(Queue, "enqueue", refuse)
    visit = register(host_user, access_level)
    assert visit.state == VisitState.PENDING
    assert db.session.get(Visit, visit.id) is not None
    assert svc.latest_job(visit).state == JobState.FAILED
    assert svc.needs_retry(visit)

    monkeypatch.undo()
    record = svc.retry_enrollment(visit, by=host_user)
    assert record.kind == "enroll_visit" and record.state == JobState.QUEUED
    assert [job.id for job in queued(redis_conn)] == [record.rq_job_id]
    assert not svc.needs_retry(visit)


# --- validate_window -------------------------------------------------------------------------


def test_window_allows_a_start_a_few_minutes_ago():
    now = utcnow()
    assert (
        svc.validate_window(now - timedelta(minutes=3), now + timedelta(hours=1), max_days=14) == {}
    )


def test_window_of_exactly_max_days_is_allowed():
    start = utcnow() + timedelta(hours=1)
    assert svc.validate_window(start, start + timedelta(days=14), max_days=14) == {}
    errors = svc.validate_window(start, start + timedelta(days=14, minutes=1), max_days=14)
    assert errors == {"ends_at": "A visit can last at most 14 days."}


def test_window_refuses_naive_times():
    start = utcnow().replace(tzinfo=None)
    errors = svc.validate_window(start, start + timedelta(hours=1), max_days=14)
    assert set(errors) == {"starts_at", "ends_at"}


def test_a_past_start_is_the_only_problem_of_a_window_ending_tomorrow():
    now = utcnow()
    for ago in (timedelta(hours=3), timedelta(days=20)):
        errors = svc.validate_window(now - ago, now + timedelta(days=1), max_days=14)
        assert errors == {"starts_at": "The start is in the past: choose a time from now on."}


def test_a_past_start_and_an_end_too_far_from_now_are_both_reported():
    now = utcnow()
    errors = svc.validate_window(now - timedelta(days=2), now + timedelta(days=15), max_days=14)
    assert errors == {
        "starts_at": "The start is in the past: choose a time from now on.",
        "ends_at": "A visit can last at most 14 days.",
    }


def test_window_keeps_a_past_start_of_a_visit_under_way():
    now = utcnow()
    started = now - timedelta(hours=2)
    errors = svc.validate_window(
        started, now + timedelta(hours=3), max_days=14, current_start=started
    )
    assert errors == {}
    errors = svc.validate_window(
        started, now - timedelta(minutes=30), max_days=14, current_start=started
    )
    assert errors == {"ends_at": "The end is in the past: choose a later time."}


# --- change, cancel, retry, reapply ----------------------------------------------------------


def test_change_window_of_pending_visit_updates_without_job(
    db, host_user, access_level, redis_conn
):
    visit = make_visit(host_user, access_level)
    new = window(starts_in=timedelta(days=1))
    assert svc.change_window(visit, new["starts_at"], new["ends_at"], by=host_user) is None
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).starts_at == new["starts_at"]
    assert visit.history[-1].reason.startswith("Time changed to")
    assert count(db, JobRecord) == 0


def test_change_window_of_enrolled_visit_enqueues_update_validity(
    db, host_user, access_level, redis_conn
):
    visit = make_visit(
        host_user, access_level, state="on_site", hik_person_id="p1", starts_in=-timedelta(hours=1)
    )
    record = svc.change_window(
        visit, visit.starts_at, visit.ends_at + timedelta(hours=2), by=host_user
    )
    assert record.kind == "update_validity" and record.subject_id == visit.id
    assert queued(redis_conn)[0].func_name == "jobs.enroll.update_validity"


def test_bad_window_change_changes_nothing(db, host_user, access_level, redis_conn):
    visit = make_visit(host_user, access_level)
    before = (visit.starts_at, visit.ends_at)
    with pytest.raises(svc.VisitValidationError) as caught:
        svc.change_window(
            visit, visit.starts_at, visit.starts_at - timedelta(hours=1), by=host_user
        )
    assert caught.value.fields == {"ends_at": "The end must be after the start."}
    db.session.expire_all()
    assert (db.session.get(Visit, visit.id).starts_at, visit.ends_at) == before


def test_cancel_pending_visit_without_person_needs_no_job(db, host_user, access_level, redis_conn):
    visit = make_visit(host_user, access_level)
    assert svc.cancel_visit(visit, by=host_user) is None
    assert visit.state == VisitState.CANCELLED
    assert visit.history[-1].state == "cancelled" and host_user.name in visit.history[-1].reason
    assert queued(redis_conn) == []


def test_cancel_enrolled_visit_revokes(db, host_user, access_level, redis_conn):
    visit = make_visit(host_user, access_level, state="enrolled", hik_person_id="p9")
    record = svc.cancel_visit(visit, by=host_user)
    assert record.kind == "revoke_visit"
    assert queued(redis_conn)[0].func_name == "jobs.enroll.revoke_visit"
    with pytest.raises(svc.VisitStateError, match="cancelled"):
        svc.cancel_visit(visit, by=host_user)


def test_retry_failed_visit_with_new_photo(db, host_user, access_level, redis_conn):
    visit = make_visit(host_user, access_level, state="failed", state_reason="Bad face.")
    old_sha = visit.guest.photo_sha256
    record = svc.retry_enrollment(visit, by=host_user, photo=face_jpeg(color=(10, 200, 10)))
    assert visit.state == VisitState.PENDING and visit.state_reason == "Retry requested."
    assert visit.guest.photo_sha256 and visit.guest.photo_sha256 != old_sha
    assert record.kind == "enroll_visit"
    assert queued(redis_conn)[0].func_name == "jobs.enroll.enroll_visit"


def test_retry_with_bad_photo_keeps_the_visit_failed(db, host_user, access_level, redis_conn):
    visit = make_visit(host_user, access_level, state="failed")
    with pytest.raises(svc.VisitValidationError) as caught:
        svc.retry_enrollment(visit, by=host_user, photo=b"garbage")
    assert "photo" in caught.value.fields
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).state == "failed"
    assert count(db, JobRecord) == 0


def test_retry_refused_for_enrolled_visit(host_user, access_level, redis_conn):
    visit = make_visit(host_user, access_level, state="enrolled")
    with pytest.raises(svc.VisitStateError):
        svc.retry_enrollment(visit, by=host_user)


def test_reapply_only_for_a_visit_with_access(host_user, access_level, redis_conn):
    visit = make_visit(host_user, access_level, state="enrolled", hik_person_id="p3")
    assert svc.reapply(visit, by=host_user).kind == "reapply_visit"
    assert queued(redis_conn)[0].func_name == "jobs.enroll.reapply_visit"
    pending = make_visit(host_user, access_level)
    with pytest.raises(svc.VisitStateError):
        svc.reapply(pending, by=host_user)


def test_latest_job_is_the_newest_for_this_visit(host_user, access_level, redis_conn):
    visit = make_visit(host_user, access_level, state="enrolled", hik_person_id="p3")
    other = make_visit(host_user, access_level, state="enrolled", hik_person_id="p4")
    assert svc.latest_job(visit) is None
    svc.reapply(visit, by=host_user)
    second = svc.reapply(visit, by=host_user)
    svc.reapply(other, by=host_user)
    assert svc.latest_job(visit).id == second.id


# --- who sees and changes what ---------------------------------------------------------------


def test_visibility_and_change_rights(db, host_user, access_level):
    other_host = make_user(Role.HOST)
    security = make_user(Role.SECURITY)
    admin = make_user(Role.ADMIN)
    mine = make_visit(host_user, access_level)
    theirs = make_visit(other_host, access_level)

    def visible(user):
        return set(db.session.scalars(svc.visible_visits(user)))

    assert visible(host_user) == {mine}
    assert visible(security) == visible(admin) == {mine, theirs}
    assert svc.can_view(host_user, mine) and not svc.can_view(host_user, theirs)
    assert svc.can_view(security, theirs) and not svc.can_change(security, theirs)
    assert svc.can_change(admin, theirs) and svc.can_change(host_user, mine)
    assert not svc.can_change(host_user, theirs)


def test_search_orders_today_upcoming_past(db, host_user, access_level):
    now = utcnow()
    day_start, day_end = now - timedelta(hours=1), now + timedelta(hours=10)
    past_old = make_visit(host_user, access_level, starts_in=-timedelta(days=5))
    past_new = make_visit(host_user, access_level, starts_in=-timedelta(days=2))
    today = make_visit(host_user, access_level, starts_in=timedelta(hours=1))
    later = make_visit(host_user, access_level, starts_in=timedelta(days=3))
    soon = make_visit(host_user, access_level, starts_in=timedelta(days=1))
    query = svc.search_visits(host_user, day_start=day_start, day_end=day_end)
    visits = list(db.session.scalars(query))
    assert visits == [today, soon, later, past_new, past_old]
    groups = svc.group_by_day(visits, day_start, day_end)
    assert [(key, len(items)) for key, items in groups] == [(0, 1), (1, 2), (2, 2)]


def test_search_by_name_and_state(db, host_user, access_level):
    from tests.fixtures.factories import make_guest

    ada = make_visit(host_user, access_level, guest=make_guest("Ada Lovelace"))
    make_visit(host_user, access_level, guest=make_guest("Alan Turing"), state="failed")
    make_visit(host_user, access_level, guest=make_guest("100%_real"))
    now = utcnow()

    def names(**kw):
        query = svc.search_visits(host_user, day_start=now, day_end=now, **kw)
        return [v.guest.full_name for v in db.session.scalars(query)]

    assert names(q="love") == [ada.guest.full_name]
    assert names(state="failed") == ["Alan Turing"]
    assert names(q="%") == ["100%_real"]
