"""Every page × every role: allowed, refused (403), hidden (404) or sent to log in."""

import pytest

from portal.extensions import db
from portal.models import GuestImport, JobRecord, Role
from tests.fixtures.app import client_for
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
    "/metrics": (LOGIN, 403, 403, 403, 200),
    "/healthz": (200, 200, 200, 200, 200),
    "/login": (200, 302, 302, 302, 302),
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
    ids = {"visit": visit.id, "event": event.id, "guest_import": guest_import.id, "job": job.id}
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
