"""Visit pages through the test client, with CSRF on: register, follow, change, who sees what."""

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from flask import url_for
from rq import Queue
from sqlalchemy import func, select

from portal.models import Guest, JobRecord, Role, Visit, VisitState, utcnow
from portal.services import visits as svc
from tests.fixtures.app import csrf_token
from tests.fixtures.factories import face_jpeg, make_access_level, make_guest, make_user, make_visit

ZONE = ZoneInfo("Europe/Moscow")  # the test app's GATEHOUSE_TIMEZONE
FORMAT = "%Y-%m-%dT%H:%M"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "DEFAULT_ACCESS_LEVEL": "Visitors"}


@pytest.fixture
def no_hikcentral_calls(monkeypatch):
    """Records any HTTP request the portal tries to make (registration must make none)."""
    calls = []

    def record(adapter, request, *args, **kwargs):
        calls.append(request.url)
        raise requests.exceptions.ConnectionError("no HTTP from a page request")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", record)
    return calls


def local(delta):
    return (datetime.now(ZONE) + delta).replace(second=0, microsecond=0)


def form_data(level, **overrides):
    data = {
        "full_name": "Grace Hopper",
        "email": "grace@example.com",
        "phone": "+7 495 123-45-67",
        "company": "Navy",
        "starts_at": local(timedelta(days=1)).strftime(FORMAT),
        "ends_at": local(timedelta(days=1, hours=8)).strftime(FORMAT),
        "purpose": "Compiler talk",
        "access_level": str(level.id),
        "photo": (io.BytesIO(face_jpeg()), "face.jpg"),
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def post_new(client, data, *, with_token=True):
    if with_token:
        data["csrf_token"] = csrf_token(client, "/visits/new")
    return client.post("/visits/new", data=data, content_type="multipart/form-data")


def nothing_written(db, redis_conn):
    counts = [
        db.session.scalar(select(func.count()).select_from(m)) for m in (Guest, Visit, JobRecord)
    ]
    return counts == [0, 0, 0] and Queue("high", connection=redis_conn).count == 0


def field_error(html, field):
    """The error text shown next to ``field`` (render_field puts it right under the input)."""
    marker = f'id="{field}-error">'
    start = html.find(marker)
    return html[start + len(marker) : html.find("<", start + len(marker))] if start >= 0 else None


# --- the form ---------------------------------------------------------------------------------


def test_home_redirects_to_visits(host_client):
    response = host_client.get("/")
    assert response.status_code == 302 and response.location.endswith("/visits")


def test_anonymous_is_sent_to_log_in(anon_client):
    response = anon_client.get("/visits/new")
    assert response.status_code == 302 and "/login" in response.location


def test_new_form_opens_the_camera_and_preselects_the_default_level(host_client, db):
    make_access_level("Alpha", hik_id="1")
    visitors = make_access_level("Visitors", hik_id="2")
    html = host_client.get("/visits/new").get_data(as_text=True)
    assert 'accept="image/*"' in html and 'capture="user"' in html
    assert html.count('type="datetime-local"') == 2
    assert f'<option selected value="{visitors.id}">Visitors</option>' in html
    assert 'enctype="multipart/form-data"' in html


def test_register_redirects_to_the_visit_and_only_enqueues(
    host_client, host_user, access_level, db, redis_conn, no_hikcentral_calls
):
    data = form_data(access_level)
    response = post_new(host_client, data)

    assert response.status_code == 302
    visit = db.session.scalars(select(Visit)).one()
    assert response.location.endswith(f"/visits/{visit.id}")
    assert visit.host_id == host_user.id and visit.state == VisitState.PENDING
    # The local (Moscow, UTC+3) times typed into the form are stored as UTC.
    typed = datetime.strptime(data["starts_at"], FORMAT).replace(tzinfo=ZONE)
    assert visit.starts_at == typed
    assert visit.starts_at.utcoffset() == timedelta(0)
    assert visit.guest.photo[:2] == b"\xff\xd8"
    record = svc.latest_job(visit)
    assert record.kind == "enroll_visit"
    assert Queue("high", connection=redis_conn).job_ids == [record.rq_job_id]
    assert no_hikcentral_calls == []  # the HikCentral work is in the job, not the request

    page = host_client.get(response.location).get_data(as_text=True)
    assert "Grace Hopper" in page and "registered" in page
    moment = local(timedelta(days=1))
    assert f"{moment.day} {moment:%b %Y, %H:%M}" in page  # shown in local time


BAD_FORMS = [
    ({"full_name": None}, "full_name", "Enter the guest&#39;s full name."),
    ({"full_name": "   "}, "full_name", "Enter the guest&#39;s full name."),
    ({"email": "grace@"}, "email", "Enter an email address like name@example.com."),
    ({"phone": "phone me"}, "phone", "Enter a phone number"),
    (
        {"ends_at": local(timedelta(hours=20)).strftime(FORMAT)},
        "ends_at",
        "The end must be after the start.",
    ),
    (
        {"starts_at": local(-timedelta(hours=3)).strftime(FORMAT)},
        "starts_at",
        "The start is in the past",
    ),
    (
        {"ends_at": local(timedelta(days=16)).strftime(FORMAT)},
        "ends_at",
        "A visit can last at most 14 days.",
    ),
    ({"starts_at": "tomorrow-ish"}, "starts_at", "Not a valid datetime value."),
    ({"ends_at": ""}, "ends_at", "Enter when the visit ends."),
    ({"access_level": "424242"}, "access_level", "Choose an access level from the list."),
    ({"access_level": "abc"}, "access_level", "Choose an access level from the list."),
    (
        {"photo": None},
        "photo",
        "Add a photo of the guest&#39;s face: the doors recognise guests by face.",
    ),
    (
        {"photo": (io.BytesIO(b"MZ\x90\x00 not a picture"), "face.jpg")},
        "photo",
        "The file is not an image",
    ),
    (
        {"photo": (io.BytesIO(face_jpeg(size=(800, 800))[:2500]), "face.jpg")},
        "photo",
        "The photo is damaged or incomplete",
    ),
    (
        {"photo": (io.BytesIO(face_jpeg(size=(120, 160))), "face.jpg")},
        "photo",
        "The photo is too small: at least 200 pixels on its short side.",
    ),
]


@pytest.mark.parametrize(("overrides", "field", "message"), BAD_FORMS)
def test_bad_input_is_shown_next_to_its_field_and_nothing_is_written(
    host_client, access_level, db, redis_conn, overrides, field, message
):
    response = post_new(host_client, form_data(access_level, **overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, field).startswith(message), html
    assert 'aria-invalid="true"' in html
    assert nothing_written(db, redis_conn)


def test_bad_form_keeps_what_was_typed(host_client, access_level):
    response = post_new(host_client, form_data(access_level, email="nope", company="ACME"))
    html = response.get_data(as_text=True)
    assert 'value="Grace Hopper"' in html and 'value="ACME"' in html


def test_forty_megabyte_upload_gets_a_friendly_413(host_client, access_level, db, redis_conn):
    huge = (io.BytesIO(b"\xff" * (40 * 1024 * 1024)), "huge.jpg")
    response = post_new(host_client, form_data(access_level, photo=huge))
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert (
        field_error(html, "photo")
        == "The photo is too large: at most 32 MB. Choose a smaller photo."
    )
    assert "Nothing was saved" in html and 'name="full_name"' in html
    assert nothing_written(db, redis_conn)


def test_form_without_csrf_token_is_refused(host_client, access_level, db, redis_conn):
    response = post_new(host_client, form_data(access_level), with_token=False)
    assert response.status_code == 400
    assert nothing_written(db, redis_conn)


def test_html_in_a_name_is_stored_as_text_and_escaped_everywhere(
    host_client, access_level, db, redis_conn
):
    name = '<script>alert("pwned")</script><b>Bob</b>'
    response = post_new(host_client, form_data(access_level, full_name=name))
    assert response.status_code == 302
    visit = db.session.scalars(select(Visit)).one()
    assert visit.guest.full_name == name
    pages = [
        host_client.get(response.location).get_data(as_text=True),  # with the flash message
        host_client.get("/visits").get_data(as_text=True),
        host_client.get("/visits?q=script").get_data(as_text=True),
    ]
    for html in pages:
        assert "<script>alert" not in html and "<b>Bob</b>" not in html
        assert "&lt;script&gt;alert(" in html


# --- the visit page and its actions ------------------------------------------------------------


def test_visit_page_shows_state_history_and_actions(host_client, host_user, access_level):
    visit = make_visit(
        host_user, access_level, state="failed", state_reason="The face was refused."
    )
    html = host_client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "The face was refused." in html
    assert "badge-failed" in html
    assert f'action="/visits/{visit.id}/retry"' in html
    assert f'action="/visits/{visit.id}/cancel"' in html and "data-confirm=" in html
    assert f'src="/visits/{visit.id}/photo"' in html


def test_delivery_failure_offers_reapply(host_client, host_user, access_level):
    visit = make_visit(
        host_user,
        access_level,
        state="enrolled",
        hik_person_id="p1",
        delivery="failed",
        delivery_failed=2,
    )
    html = host_client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "Not delivered to 2 devices" in html
    assert f'action="/visits/{visit.id}/reapply"' in html
    visit.delivery = "applied"
    from portal.extensions import db

    db.session.commit()
    html = host_client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "On the doors" in html and "/reapply" not in html


def test_job_progress_polls_the_jobs_json_when_it_exists(
    app, host_client, host_user, access_level, redis_conn
):
    visit = make_visit(host_user, access_level, state="enrolled", hik_person_id="p1")
    record = svc.reapply(visit, by=host_user)
    html = host_client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "Reapply visit" in html and "badge-queued" in html
    if "jobs_ui.job_json" in app.view_functions:
        with app.test_request_context():
            url = url_for("jobs_ui.job_json", job_id=record.id)
        assert f'data-json-url="{url}"' in html and "job-progress.js" in html
    else:
        assert "data-json-url" not in html


def test_photo_is_private_and_not_cached(host_client, host_user, access_level, db):
    guest = make_guest()
    visit = make_visit(host_user, access_level, guest=guest)
    response = host_client.get(f"/visits/{visit.id}/photo")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.data == guest.photo
    no_photo = make_visit(host_user, access_level, guest=make_guest(photo=False))
    assert host_client.get(f"/visits/{no_photo.id}/photo").status_code == 404
    assert "No photo." in host_client.get(f"/visits/{no_photo.id}").get_data(as_text=True)


def test_cancel_with_csrf(host_client, host_user, access_level, db):
    visit = make_visit(host_user, access_level)
    token = csrf_token(host_client, f"/visits/{visit.id}")
    assert host_client.post(f"/visits/{visit.id}/cancel").status_code == 400
    response = host_client.post(f"/visits/{visit.id}/cancel", data={"csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).state == "cancelled"
    assert "has been cancelled" in host_client.get(response.location).get_data(as_text=True)


def test_change_window(host_client, host_user, access_level, db):
    visit = make_visit(host_user, access_level)
    token = csrf_token(host_client, f"/visits/{visit.id}")
    start, end = local(timedelta(days=2)), local(timedelta(days=2, hours=3))
    response = host_client.post(
        f"/visits/{visit.id}/window",
        data={
            "csrf_token": token,
            "starts_at": start.strftime(FORMAT),
            "ends_at": end.strftime(FORMAT),
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).starts_at == start
    bad = host_client.post(
        f"/visits/{visit.id}/window",
        data={
            "csrf_token": token,
            "starts_at": start.strftime(FORMAT),
            "ends_at": start.strftime(FORMAT),
        },
    )
    # The browser is sent back to the visit's own page, where a reload sends nothing again.
    assert bad.status_code == 303
    assert bad.location == f"/visits/{visit.id}#change"
    shown = host_client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert field_error(shown, "ends_at") == "The end must be after the start."
    assert f'value="{start.strftime(FORMAT)}"' in shown  # what was typed is kept
    assert db.session.get(Visit, visit.id).ends_at != start  # nothing was saved
    # Shown once: the next look at the page has the visit's own times and no error.
    assert (
        field_error(host_client.get(f"/visits/{visit.id}").get_data(as_text=True), "ends_at")
        is None
    )


def test_retry_with_a_new_photo(host_client, host_user, access_level, db, redis_conn):
    visit = make_visit(host_user, access_level, state="failed", state_reason="Bad face.")
    token = csrf_token(host_client, f"/visits/{visit.id}")
    bad = host_client.post(
        f"/visits/{visit.id}/retry",
        data={"csrf_token": token, "photo": (io.BytesIO(b"nope"), "x.jpg")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert field_error(bad.get_data(as_text=True), "photo").startswith("The file is not an image")
    huge = host_client.post(
        f"/visits/{visit.id}/retry",
        data={"csrf_token": token, "photo": (io.BytesIO(b"\0" * (40 * 1024 * 1024)), "x.jpg")},
        content_type="multipart/form-data",
    )
    assert huge.status_code == 413
    assert field_error(huge.get_data(as_text=True), "photo").startswith("The photo is too large")
    ok = host_client.post(
        f"/visits/{visit.id}/retry",
        data={"csrf_token": token, "photo": (io.BytesIO(face_jpeg()), "new.jpg")},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 302
    db.session.expire_all()
    visit = db.session.get(Visit, visit.id)
    assert visit.state == "pending" and visit.guest.photo_sha256
    assert Queue("high", connection=redis_conn).count == 1


# --- who sees and changes what -----------------------------------------------------------------


def test_hosts_see_and_change_only_their_own_visits(app, host_client, host_user, access_level, db):
    other = make_user(Role.HOST, name="Other Host")
    theirs = make_visit(other, access_level, guest=make_guest("Secret Guest"))
    mine = make_visit(host_user, access_level, guest=make_guest("My Guest"))
    listing = host_client.get("/visits").get_data(as_text=True)
    assert "My Guest" in listing and "Secret Guest" not in listing
    assert host_client.get(f"/visits/{theirs.id}").status_code == 404
    assert host_client.get(f"/visits/{theirs.id}/photo").status_code == 404
    token = csrf_token(host_client, f"/visits/{mine.id}")
    for action in ("cancel", "window", "retry", "reapply"):
        response = host_client.post(f"/visits/{theirs.id}/{action}", data={"csrf_token": token})
        assert response.status_code == 404, action
    db.session.expire_all()
    assert db.session.get(Visit, theirs.id).state == "pending"


def test_security_sees_all_but_cannot_change(security_client, host_user, access_level, db):
    visit = make_visit(host_user, access_level, guest=make_guest("Someone"))
    assert "Someone" in security_client.get("/visits").get_data(as_text=True)
    html = security_client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "Someone" in html and "/cancel" not in html
    token = csrf_token(security_client, f"/visits/{visit.id}")
    assert (
        security_client.post(f"/visits/{visit.id}/cancel", data={"csrf_token": token}).status_code
        == 403
    )
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).state == "pending"


def test_admin_can_cancel_anyones_visit(admin_client, host_user, access_level, db):
    visit = make_visit(host_user, access_level)
    token = csrf_token(admin_client, f"/visits/{visit.id}")
    assert (
        admin_client.post(f"/visits/{visit.id}/cancel", data={"csrf_token": token}).status_code
        == 302
    )
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).state == "cancelled"


# --- the list ----------------------------------------------------------------------------------


def test_list_groups_today_upcoming_past(host_client, host_user, access_level):
    make_visit(
        host_user, access_level, guest=make_guest("Past Guest"), starts_in=-timedelta(days=3)
    )
    make_visit(
        host_user, access_level, guest=make_guest("Later Guest"), starts_in=timedelta(days=3)
    )
    make_visit(
        host_user,
        access_level,
        guest=make_guest("Today Guest"),
        starts_in=timedelta(minutes=1),
        length=timedelta(minutes=5),
    )
    html = host_client.get("/visits").get_data(as_text=True)
    positions = [
        html.find(text)
        for text in (
            "<h2>Today</h2>",
            "Today Guest",
            "<h2>Upcoming</h2>",
            "Later Guest",
            "<h2>Past</h2>",
            "Past Guest",
        )
    ]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)


def test_list_search_filter_and_pages(host_client, host_user, access_level):
    for n in range(30):
        make_visit(
            host_user,
            access_level,
            guest=make_guest(f"Guest {n:02d}"),
            starts_in=timedelta(days=2, minutes=n),
        )
    make_visit(
        host_user,
        access_level,
        guest=make_guest("Zed Failed"),
        state="failed",
        starts_in=timedelta(days=3),
    )
    first = host_client.get("/visits").get_data(as_text=True)
    assert "Guest 00" in first and "Guest 29" not in first and "page=2" in first
    second = host_client.get("/visits?page=2").get_data(as_text=True)
    assert "Guest 29" in second
    assert "Zed Failed" in host_client.get("/visits?state=failed").get_data(as_text=True)
    assert "Guest 00" not in host_client.get("/visits?state=failed").get_data(as_text=True)
    found = host_client.get("/visits?q=zed").get_data(as_text=True)
    assert "Zed Failed" in found and "Guest 00" not in found
    empty = host_client.get("/visits?q=nobody").get_data(as_text=True)
    assert "No visits match this search." in empty


def test_empty_list_invites_a_first_visit(host_client):
    html = host_client.get("/visits").get_data(as_text=True)
    assert "No visits yet" in html


def test_no_hikcentral_call_on_list_or_page(
    host_client, host_user, access_level, no_hikcentral_calls
):
    visit = make_visit(host_user, access_level)
    host_client.get("/visits")
    host_client.get(f"/visits/{visit.id}")
    assert no_hikcentral_calls == []
    assert utcnow()  # the clock is real: nothing here depends on a frozen time


def test_default_window_is_working_hours_or_from_now():
    from portal.visits.forms import default_window

    morning = datetime(2030, 5, 6, 7, 40, tzinfo=ZONE)
    assert default_window(morning) == (datetime(2030, 5, 6, 9, 0), datetime(2030, 5, 6, 18, 0))
    midday = datetime(2030, 5, 6, 11, 7, tzinfo=ZONE)
    assert default_window(midday) == (datetime(2030, 5, 6, 11, 15), datetime(2030, 5, 6, 18, 0))
    evening = datetime(2030, 5, 6, 17, 20, tzinfo=ZONE)
    assert default_window(evening) == (datetime(2030, 5, 6, 17, 30), datetime(2030, 5, 6, 19, 30))
