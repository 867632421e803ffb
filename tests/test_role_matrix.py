"""Every route × every role and no session: allowed, refused (403), hidden (404) or log in."""

import re
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.models import Door, Event, GuestImport, JobRecord, Role, utcnow
from tests.api.conftest import bearer
from tests.fixtures.app import client_for, csrf_token
from tests.fixtures.factories import make_user, make_visit

ROLES = ("anonymous", "host", "organizer", "security", "admin")

# page -> expected status for (anonymous, host, organizer, security, admin).
# The visit and job belong to the host; the event and import to the organizer.
LOGIN = 302
EXPECTED = {
    "/": (LOGIN, 302, 302, 302, 302),
    "/visits": (LOGIN, 200, 200, 200, 200),
    "/visits/new": (LOGIN, 200, 200, 200, 200),
    "/visits/{visit}": (LOGIN, 200, 404, 200, 200),
    "/visits/{visit}/photo": (LOGIN, 200, 404, 200, 200),
    "/events": (LOGIN, 403, 200, 403, 200),
    "/events/new": (LOGIN, 403, 200, 403, 200),
    "/events/{event}": (LOGIN, 403, 200, 403, 200),
    "/events/{event}/edit": (LOGIN, 403, 200, 403, 200),
    "/imports/{guest_import}": (LOGIN, 403, 200, 403, 200),
    "/imports/{guest_import}/errors.csv": (LOGIN, 403, 200, 403, 200),
    "/imports/template.csv": (LOGIN, 403, 200, 403, 200),
    "/jobs": (LOGIN, 200, 200, 200, 200),
    "/jobs/{job}": (LOGIN, 200, 404, 200, 200),
    "/jobs/{job}.json": (LOGIN, 200, 404, 200, 200),
    "/profile": (LOGIN, 200, 200, 200, 200),
    "/notices": (LOGIN, 200, 200, 200, 200),
    "/security/passages": (LOGIN, 403, 403, 200, 200),
    "/security/passages.csv": (LOGIN, 403, 403, 200, 200),
    "/security/onsite": (LOGIN, 403, 403, 200, 200),
    "/security/onsite/roll-call": (LOGIN, 403, 403, 200, 200),
    "/admin/users": (LOGIN, 403, 403, 403, 200),
    "/admin/connection": (LOGIN, 403, 403, 403, 200),
    "/admin/audit": (LOGIN, 403, 403, 403, 200),
    "/metrics": (LOGIN, 403, 403, 403, 200),
    "/healthz": (200, 200, 200, 200, 200),
    "/login": (200, 302, 302, 302, 302),
    # The guest's page needs no log-in: its link is the credential (an unknown one is refused).
    "/g/{token}": (410, 410, 410, 410, 410),
}


@pytest.fixture
def world(app, host_user, organizer_user, security_user, admin_user, access_level):
    """One object of each kind, owned as the table above says."""
    from datetime import timedelta

    from portal.models import utcnow
    from portal.services.events import create_event

    visit = make_visit(host_user, access_level)
    start = utcnow() + timedelta(days=1)
    event = create_event(
        organizer_user,
        name="Expo",
        location=None,
        starts_at=start,
        ends_at=start + timedelta(hours=8),
        access_level=access_level,
    )
    guest_import = GuestImport(event=event, uploaded_by=organizer_user, filename="guests.csv")
    job = JobRecord(
        rq_job_id="matrix-job",
        kind="enroll_visit",
        subject_type="visit",
        subject_id=visit.id,
        created_by=host_user,
    )
    db.session.add_all([guest_import, job])
    db.session.commit()
    users = {
        "host": host_user,
        "organizer": organizer_user,
        "security": security_user,
        "admin": admin_user,
    }
    ids = {
        "visit": visit.id,
        "event": event.id,
        "guest_import": guest_import.id,
        "job": job.id,
        "token": "not-a-valid-link",
    }
    return users, ids


def test_every_page_is_in_the_matrix(app):
    pages = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and rule.endpoint != "static" and not rule.rule.startswith("/api/")
    }
    listed = {
        page.replace("{visit}", "<int:visit_id>")
        .replace("{event}", "<int:event_id>")
        .replace("{guest_import}", "<int:import_id>")
        .replace("{job}", "<int:job_id>")
        .replace("{token}", "<token>")
        .replace("template.csv", "template.<fmt>")
        .replace("passages.csv", "passages.<any(csv, xlsx):fmt>")
        for page in EXPECTED
    }
    assert pages == listed


@pytest.mark.parametrize("page", list(EXPECTED))
def test_role_matrix(app, world, page):
    users, ids = world
    url = page.format(**ids)
    for role, expected in zip(ROLES, EXPECTED[page], strict=True):
        client = app.test_client() if role == "anonymous" else client_for(app, users[role])
        response = client.get(url)
        assert response.status_code == expected, f"{role} GET {url}"
        if role == "anonymous" and expected == LOGIN and page != "/":
            assert "/login" in response.headers["Location"]


def test_disabled_users_are_logged_out(app, world):
    users, _ids = world
    client = client_for(app, users["host"])
    users["host"].active = False
    db.session.commit()
    assert "/login" in client.get("/visits").headers["Location"]


def test_another_organizer_cannot_see_the_event(app, world):
    _users, ids = world
    stranger = client_for(app, make_user(Role.ORGANIZER))
    assert stranger.get(f"/events/{ids['event']}").status_code == 404
    assert stranger.get(f"/imports/{ids['guest_import']}").status_code == 404


# --- every other route: POST/PATCH/DELETE pages with a valid CSRF token, and the JSON API ------
# Each request meets fresh objects (the visit, event, import, job, door and user of its URL), so
# no request sees what another one changed. The form is empty but for the CSRF token: a role
# that may act gets the action or its form's own answer (400/422/200), never the role answer.
# 409: the import has no rows to confirm or retry. The visit is enrolled; the job has failed.
CHANGES = {
    ("POST", "/admin/connection/check"): (LOGIN, 403, 403, 403, 200),
    ("POST", "/admin/connection/sync"): (LOGIN, 403, 403, 403, 302),
    ("POST", "/admin/doors/{door_id}/direction"): (LOGIN, 403, 403, 403, 302),
    ("POST", "/admin/users"): (LOGIN, 403, 403, 403, 400),
    ("POST", "/admin/users/{user_id}/disable"): (LOGIN, 403, 403, 403, 302),
    ("POST", "/admin/users/{user_id}/role"): (LOGIN, 403, 403, 403, 302),
    ("POST", "/events/{event_id}/cancel"): (LOGIN, 403, 302, 403, 302),
    ("POST", "/events/{event_id}/invite"): (LOGIN, 403, 302, 403, 302),
    # The guest's page: the link is the credential; an unknown one is refused for everyone.
    ("POST", "/g/{token}"): (410, 410, 410, 410, 410),
    ("POST", "/events/{event_id}/edit"): (LOGIN, 403, 200, 403, 200),
    ("POST", "/events/{event_id}/imports"): (LOGIN, 403, 303, 403, 303),
    ("POST", "/events/new"): (LOGIN, 403, 200, 403, 200),
    ("POST", "/imports/{import_id}/confirm"): (LOGIN, 403, 302, 403, 302),
    ("POST", "/imports/{import_id}/discard"): (LOGIN, 403, 302, 403, 302),
    ("POST", "/imports/{import_id}/retry"): (LOGIN, 403, 302, 403, 302),
    ("POST", "/jobs/{job_id}/retry"): (LOGIN, 302, 404, 403, 302),
    ("POST", "/login"): (200, 302, 302, 302, 302),
    ("POST", "/logout"): (LOGIN, 302, 302, 302, 302),
    ("POST", "/notices/read"): (LOGIN, 302, 302, 302, 302),
    ("POST", "/profile/language"): (LOGIN, 400, 400, 400, 400),
    ("POST", "/profile/notices"): (LOGIN, 302, 302, 302, 302),
    ("POST", "/profile/password"): (LOGIN, 400, 400, 400, 400),
    ("POST", "/profile/sessions/end"): (LOGIN, 302, 302, 302, 302),
    ("POST", "/profile/token"): (LOGIN, 200, 200, 200, 200),
    ("POST", "/security/visits/{visit_id}/check-in"): (LOGIN, 403, 403, 302, 302),
    ("POST", "/visits/{visit_id}/cancel"): (LOGIN, 302, 404, 403, 302),
    ("POST", "/visits/{visit_id}/invite"): (LOGIN, 302, 404, 403, 302),
    ("POST", "/visits/{visit_id}/guest-photo"): (LOGIN, 302, 404, 403, 302),
    ("POST", "/visits/{visit_id}/reapply"): (LOGIN, 302, 404, 403, 302),
    ("POST", "/visits/{visit_id}/retry"): (LOGIN, 302, 404, 403, 302),
    # An invalid window goes back to the visit's page (303) with the form's errors.
    ("POST", "/visits/{visit_id}/window"): (LOGIN, 303, 404, 403, 303),
    ("POST", "/visits/new"): (LOGIN, 422, 422, 422, 422),
    # The API: a Bearer token per role, none for "anonymous"; bodies are {}.
    ("GET", "/api/v1/access-levels"): (401, 200, 200, 200, 200),
    ("POST", "/api/v1/events"): (401, 403, 400, 403, 400),
    ("POST", "/api/v1/events/{event_id}/imports"): (401, 403, 400, 403, 400),
    ("PATCH", "/api/v1/events/{event_id}"): (401, 403, 400, 403, 400),
    ("POST", "/api/v1/events/{event_id}/cancel"): (401, 403, 200, 403, 200),
    ("GET", "/api/v1/imports/{import_id}"): (401, 403, 200, 403, 200),
    ("POST", "/api/v1/imports/{import_id}/confirm"): (401, 403, 409, 403, 409),
    ("POST", "/api/v1/imports/{import_id}/retry"): (401, 403, 409, 403, 409),
    ("GET", "/api/v1/jobs/{job_id}"): (401, 200, 404, 200, 200),
    ("GET", "/api/v1/onsite"): (401, 403, 403, 200, 200),
    ("GET", "/api/v1/passages"): (401, 403, 403, 200, 200),
    ("GET", "/api/v1/visits"): (401, 200, 200, 200, 200),
    ("POST", "/api/v1/visits"): (401, 400, 400, 400, 400),
    ("GET", "/api/v1/visits/{visit_id}"): (401, 200, 404, 200, 200),
    ("PATCH", "/api/v1/visits/{visit_id}"): (401, 400, 404, 403, 400),
    ("DELETE", "/api/v1/visits/{visit_id}"): (401, 200, 404, 403, 200),
    ("POST", "/api/v1/visits/{visit_id}/invite"): (401, 409, 404, 403, 409),
}
CHANGE_METHODS = {"POST", "PATCH", "DELETE"}


def fresh_objects(users, level):
    """A new enrolled visit and failed job of the host, event and import of the organizer, a
    door and a user to act on; their ids by the names the URLs use."""
    visit = make_visit(users["host"], level, state="enrolled", hik_person_id="9")
    start = utcnow() + timedelta(days=1)
    event = Event(
        organizer=users["organizer"],
        name="Expo",
        starts_at=start,
        ends_at=start + timedelta(hours=8),
        access_level=level,
    )
    guest_import = GuestImport(event=event, uploaded_by=users["organizer"], filename="g.csv")
    job = JobRecord(
        rq_job_id=f"matrix-{visit.id}",
        kind="enroll_visit",
        subject_type="visit",
        subject_id=visit.id,
        created_by=users["host"],
        state="failed",
        call={"func": "jobs.enroll.enroll_visit", "args": [visit.id], "queue": "high"},
    )
    door = Door(hik_id=f"matrix-{visit.id}", name="Side door")
    db.session.add_all([event, guest_import, job, door])
    db.session.commit()
    ids = {"visit_id": visit.id, "event_id": event.id, "import_id": guest_import.id}
    ids |= {"job_id": job.id, "door_id": door.id, "user_id": make_user(Role.HOST).id}
    return ids | {"token": "not-a-valid-link"}


def test_every_route_is_in_a_matrix(app):
    listed = {(method, url) for method, url in CHANGES}
    pattern = re.compile(r"<(?:int:)?(\w+)>")
    for rule in app.url_map.iter_rules():
        api = rule.rule.startswith("/api/")
        for method in sorted(rule.methods & (CHANGE_METHODS | ({"GET"} if api else set()))):
            url = rule.rule.replace("<any(enable, disable):action>", "disable")
            url = url.replace("<any('check-in', 'check-out'):action>", "check-in")
            assert (method, pattern.sub(r"{\1}", url)) in listed, f"{method} {rule.rule}"


@pytest.mark.parametrize("method, page", list(CHANGES), ids=lambda value: str(value))
def test_every_route_with_every_role(app, world, access_level, method, page):
    users, _ids = world
    for role, expected in zip(ROLES, CHANGES[(method, page)], strict=True):
        url = page.format(**fresh_objects(users, access_level))
        user = users.get(role)
        client = app.test_client() if user is None else client_for(app, user)
        if url.startswith("/api/"):
            headers = bearer(user) if user else {}
            body = {"json": {}} if method in CHANGE_METHODS else {}
            response = client.open(url, method=method, headers=headers, **body)
        else:
            token = csrf_token(client, "/profile" if user else "/login")
            response = client.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == expected, f"{role} {method} {url}"
        if role == "anonymous" and expected == LOGIN:
            assert "/login" in response.headers["Location"]
