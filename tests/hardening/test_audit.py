"""The audit log: actions recorded with who, what, when and where; committed with the action;
an admin page filtered by user, object and time; purged after AUDIT_RETENTION_DAYS."""

from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditAction, AuditEntry, JobRecord, Role, User, utcnow
from portal.services import accounts, audit, retention
from portal.services import events as event_service
from portal.services import jobs as job_service
from portal.services import visits as visit_service
from tests.events.imports_support import guest_rows, make_event, sheet, stage_upload, upload
from tests.fixtures.app import csrf_token
from tests.fixtures.factories import face_jpeg, make_user, make_visit


def entries(action=None):
    db.session.expire_all()
    statement = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        statement = statement.where(AuditEntry.action == AuditAction(action).value)
    return db.session.scalars(statement).all()


def test_admin_actions_are_recorded_with_who_what_and_where(app, admin_client, admin_user):
    target = make_user(Role.HOST)
    token = csrf_token(admin_client, "/admin/users")
    admin_client.post(
        f"/admin/users/{target.id}/role", data={"csrf_token": token, "role": "security"}
    )
    admin_client.post(f"/admin/users/{target.id}/disable", data={"csrf_token": token})
    admin_client.post("/profile/token", data={"csrf_token": csrf_token(admin_client, "/profile")})
    recorded = [(e.action, e.user_id, e.object_type, e.object_id, e.address) for e in entries()]
    assert recorded == [
        ("role_changed", admin_user.id, "user", target.id, "127.0.0.1"),
        ("user_disabled", admin_user.id, "user", target.id, "127.0.0.1"),
        ("token_created", admin_user.id, "user", admin_user.id, "127.0.0.1"),
    ]
    assert entries("role_changed")[0].details == "host → security"


def test_visit_actions_are_recorded(app, sim, redis_conn, host_user, level):
    visit = visit_service.register_visit(
        host_user,
        full_name="Ada Lovelace",
        starts_at=utcnow() + timedelta(hours=1),
        ends_at=utcnow() + timedelta(hours=3),
        access_level=level.id,
        photo=face_jpeg(),
    )
    visit_service.change_window(
        visit, utcnow() + timedelta(hours=2), utcnow() + timedelta(hours=4), by=host_user
    )
    visit_service.cancel_visit(visit, by=host_user)
    actions = [(e.action, e.object_type, e.object_id, e.user_id) for e in entries()]
    assert actions == [
        ("visit_created", "visit", visit.id, host_user.id),
        ("visit_changed", "visit", visit.id, host_user.id),
        ("visit_cancelled", "visit", visit.id, host_user.id),
    ]


def test_job_retry_reapply_and_events_are_recorded(app, organizer_user, host_user, level):
    job = JobRecord(
        rq_job_id="failed-one",
        kind="enroll_visit",
        state="failed",
        created_by=host_user,
        call={"func": "jobs.enroll.enroll_visit", "args": [1], "queue": "high"},
    )
    db.session.add(job)
    db.session.commit()
    job_service.retry_job(job, by=host_user)
    visit = make_visit(host_user, level, state="enrolled", hik_person_id="42")
    visit_service.reapply(visit, by=host_user)
    start = utcnow() + timedelta(days=1)
    created = event_service.create_event(
        organizer_user, name="Expo", location=None, starts_at=start,
        ends_at=start + timedelta(hours=4), access_level=level,
    )  # fmt: skip
    assert [(e.action, e.object_type) for e in entries()] == [
        ("job_retried", "job"),
        ("access_reapplied", "visit"),
        ("event_created", "event"),
    ]
    assert entries("event_created")[0].object_id == created.id


def test_imports_are_recorded(app, organizer_user, level, redis_conn):
    from portal.services import imports

    event = make_event(organizer_user, level)
    staged = stage_upload(event, organizer_user, upload(sheet(guest_rows(2)), "g.csv"))
    imports.confirm_import(staged, organizer_user)
    other = stage_upload(event, organizer_user, upload(sheet(guest_rows(1, start=5)), "h.csv"))
    other_id = other.id
    imports.discard_import(other)
    assert [(e.action, e.object_id) for e in entries()] == [
        ("import_uploaded", staged.id),
        ("import_confirmed", staged.id),
        ("import_uploaded", other_id),
        ("import_discarded", other_id),
    ]
    assert entries("import_confirmed")[0].details == "2 visits, 0 already registered"


def test_an_entry_that_cannot_be_written_fails_its_action(app, admin_user):
    target = make_user(Role.HOST)

    def refuse_audit(session, _context, _instances):
        if any(isinstance(obj, AuditEntry) for obj in session.new):
            raise RuntimeError("audit table unavailable")

    sa_event.listen(db.session, "before_flush", refuse_audit)
    try:
        with pytest.raises(RuntimeError):
            accounts.set_active(target, False, by=admin_user)
    finally:
        sa_event.remove(db.session, "before_flush", refuse_audit)
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(User, target.id).active  # the action was not committed without it
    assert entries() == []


def test_a_failed_action_leaves_no_entry(app, admin_user):
    with pytest.raises(accounts.AccountError):
        accounts.set_active(admin_user, False, by=admin_user)
    assert entries() == []


@pytest.fixture
def logged(app, admin_user, host_user):
    """Three entries: two by the admin on two users, one by the host long ago."""
    audit.record(AuditAction.ROLE_CHANGED, host_user, by=admin_user)
    audit.record(AuditAction.USER_DISABLED, admin_user, by=admin_user)
    old = audit.record(AuditAction.TOKEN_CREATED, host_user, by=host_user)
    old.at = utcnow() - timedelta(days=30)
    db.session.commit()


def rows(client, query=""):
    response = client.get(f"/admin/audit{query}")
    return response.status_code, response.get_data(as_text=True).count("<tr>") - 1


def test_the_audit_page_filters_by_user_object_and_time(
    admin_client, admin_user, host_user, logged
):
    assert rows(admin_client) == (200, 3)
    assert rows(admin_client, f"?user={admin_user.id}") == (200, 2)
    assert rows(admin_client, f"?object_type=user&object_id={host_user.id}") == (200, 2)
    since = (utcnow() - timedelta(days=2)).date().isoformat()
    assert rows(admin_client, f"?since={since}") == (200, 2)
    until = (utcnow() - timedelta(days=20)).date().isoformat()
    assert rows(admin_client, f"?until={until}") == (200, 1)
    page = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "Role changed" in page and "127.0.0.1" not in page  # recorded outside a request


def test_bad_filters_are_explained(admin_client, logged):
    response = admin_client.get("/admin/audit?since=yesterday&object_id=99999999999999999999")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Must be a date (YYYY-MM-DD)." in text and "Must be a whole number." in text


def test_old_entries_are_purged_with_the_personal_data(app, logged):
    app.config["AUDIT_RETENTION_DAYS"] = 10
    counts = retention.purge_personal_data()
    assert counts["audit_entries_deleted"] == 1
    assert len(entries()) == 2


def test_check_in_and_out_by_hand_are_recorded(app, host_user, security_user, level):
    from portal.services import passages

    visit = make_visit(host_user, level, state="enrolled", hik_person_id="7")
    passages.check_in(visit, by=security_user, reason="Reader did not see her")
    passages.check_out(visit, by=security_user, reason="Left by the side gate")
    recorded = [(e.action, e.object_id, e.user_id, e.details) for e in entries()]
    assert recorded == [
        ("checked_in", visit.id, security_user.id, "Reader did not see her"),
        ("checked_out", visit.id, security_user.id, "Left by the side gate"),
    ]
