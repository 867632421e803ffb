"""The new-visit form: the access level the host must choose, the photo the doors need, and the
one-time token that makes a form sent twice register one visit."""

import io
import re
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rq import Queue
from sqlalchemy import func, select

from portal.models import Guest, Role, Visit
from portal.services import submissions
from tests.fixtures.app import client_for, csrf_token
from tests.fixtures.factories import face_jpeg, make_access_level, make_user

ZONE = ZoneInfo("Europe/Moscow")  # the test app's GATEHOUSE_TIMEZONE
FORMAT = "%Y-%m-%dT%H:%M"
NONCE = re.compile(r'name="form_nonce" type="hidden" value="([^"]+)"')
SELECT = re.compile(r'<select[^>]*id="access_level"')
OPTION = re.compile(r"<option([^>]*)>([^<]*)</option>")
CHOOSE_ERROR = "Choose an access level from the list."
PHOTO_REQUIRED = "Add a photo of the guest&#39;s face: the doors recognise guests by face."


def options(html):
    """[(label, selected)] of the access level select."""
    select_html = html[SELECT.search(html).start() :]
    select_html = select_html[: select_html.find("</select>")]
    return [(label, " selected" in attrs) for attrs, label in OPTION.findall(select_html)]


def field_error(html, field):
    marker = f'id="{field}-error">'
    start = html.find(marker)
    return html[start + len(marker) : html.find("<", start + len(marker))] if start >= 0 else None


def open_form(client):
    """GET the form: (csrf token, one-time token)."""
    html = client.get("/visits/new").get_data(as_text=True)
    match = NONCE.search(html)
    assert match, "the form carries no one-time token"
    return csrf_token(client, "/visits/new"), match.group(1)


def form_data(level, csrf, nonce=None, **overrides):
    start = (datetime.now(ZONE) + timedelta(days=1)).replace(second=0, microsecond=0)
    data = {
        "csrf_token": csrf,
        "form_nonce": nonce,
        "full_name": "Grace Hopper",
        "starts_at": start.strftime(FORMAT),
        "ends_at": (start + timedelta(hours=4)).strftime(FORMAT),
        "access_level": str(level.id) if level is not None else None,
        "photo": (io.BytesIO(face_jpeg()), "face.jpg"),
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def post(client, data):
    return client.post("/visits/new", data=data, content_type="multipart/form-data")


def count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


# --- the access level ----------------------------------------------------------------------------


def test_without_a_default_the_host_must_choose_among_several_levels(host_client, db, redis_conn):
    assert host_client.application.config.get("DEFAULT_ACCESS_LEVEL") is None
    alpha = make_access_level("Alpha", hik_id="1")
    make_access_level("Visitors", hik_id="2")
    html = host_client.get("/visits/new").get_data(as_text=True)
    assert options(html) == [("Choose…", True), ("Alpha", False), ("Visitors", False)]

    csrf, nonce = open_form(host_client)
    for chosen in (None, ""):
        response = post(host_client, form_data(None, csrf, nonce, access_level=chosen))
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert field_error(page, "access_level") == CHOOSE_ERROR
        assert options(page)[0] == ("Choose…", True)
    assert count(db, Visit) == count(db, Guest) == 0
    assert Queue("high", connection=redis_conn).count == 0

    assert post(host_client, form_data(alpha, csrf, nonce)).status_code == 302
    assert db.session.scalars(select(Visit)).one().access_level_id == alpha.id


def test_a_default_that_matches_nothing_does_not_preselect(app, host_client):
    app.config["DEFAULT_ACCESS_LEVEL"] = "No such level"
    make_access_level("Alpha", hik_id="1")
    make_access_level("Beta", hik_id="2")
    html = host_client.get("/visits/new").get_data(as_text=True)
    assert options(html) == [("Choose…", True), ("Alpha", False), ("Beta", False)]


def test_the_only_active_level_is_preselected(host_client, db):
    old = make_access_level("Archive", hik_id="1")
    old.active = False
    db.session.commit()
    make_access_level("Visitors", hik_id="2")
    html = host_client.get("/visits/new").get_data(as_text=True)
    assert options(html) == [("Visitors", True)]


def test_the_configured_default_is_preselected_without_a_placeholder_choice(app, host_client):
    app.config["DEFAULT_ACCESS_LEVEL"] = "visitors"
    make_access_level("Alpha", hik_id="1")
    make_access_level("Visitors", hik_id="2")
    html = host_client.get("/visits/new").get_data(as_text=True)
    assert options(html) == [("Choose…", False), ("Alpha", False), ("Visitors", True)]


# --- the photo -----------------------------------------------------------------------------------


def test_the_photo_is_marked_required_and_refused_when_missing(host_client, access_level, db):
    html = host_client.get("/visits/new").get_data(as_text=True)
    label = html[html.find('<label for="photo">') :]
    assert 'class="required"' in label[: label.find("</label>")]
    csrf, nonce = open_form(host_client)
    response = post(host_client, form_data(access_level, csrf, nonce, photo=None))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "photo") == PHOTO_REQUIRED
    assert count(db, Visit) == count(db, Guest) == 0


def test_without_the_photo_rule_a_visit_registers_without_photo(app, host_client, access_level, db):
    app.config["REQUIRE_GUEST_PHOTO"] = False
    html = host_client.get("/visits/new").get_data(as_text=True)
    label = html[html.find('<label for="photo">') :]
    assert 'class="required"' not in label[: label.find("</label>")]
    csrf, nonce = open_form(host_client)
    response = post(host_client, form_data(access_level, csrf, nonce, photo=None))
    assert response.status_code == 302
    assert db.session.scalars(select(Visit)).one().guest.photo is None


# --- the same form sent twice --------------------------------------------------------------------


def test_the_same_form_sent_twice_registers_one_visit(host_client, access_level, db, redis_conn):
    csrf, nonce = open_form(host_client)
    first = post(host_client, form_data(access_level, csrf, nonce))
    second = post(host_client, form_data(access_level, csrf, nonce))
    visit = db.session.scalars(select(Visit)).one()
    assert first.status_code == second.status_code == 302
    assert first.location.endswith(f"/visits/{visit.id}")
    assert second.location == first.location
    assert "already sent" in host_client.get(second.location).get_data(as_text=True)
    assert Queue("high", connection=redis_conn).count == 1  # one enrollment job
    ttl = redis_conn.ttl(f"gatehouse:once:visit-new:{visit.host_id}:{nonce}")
    assert 0 < ttl <= submissions.TTL_SECONDS


def test_each_opened_form_registers_its_own_visit(host_client, access_level, db):
    for _ in range(2):
        csrf, nonce = open_form(host_client)
        assert post(host_client, form_data(access_level, csrf, nonce)).status_code == 302
    assert count(db, Visit) == 2


def test_a_refused_form_keeps_its_token_and_may_be_sent_again_corrected(
    host_client, access_level, db
):
    csrf, nonce = open_form(host_client)
    bad = post(host_client, form_data(access_level, csrf, nonce, full_name=""))
    assert bad.status_code == 422
    assert NONCE.search(bad.get_data(as_text=True)).group(1) == nonce
    good = post(host_client, form_data(access_level, csrf, nonce))
    assert good.status_code == 302
    again = post(host_client, form_data(access_level, csrf, nonce))
    assert again.location == good.location
    assert count(db, Visit) == 1


def test_a_repeat_waits_for_the_first_sending_to_finish(
    app, host_client, host_user, access_level, db, redis_conn, monkeypatch
):
    """The second click arrives while the first POST still works: it gets the first's visit."""
    csrf, nonce = open_form(host_client)
    key = f"gatehouse:once:visit-new:{host_user.id}:{nonce}"
    redis_conn.set(key, submissions.PENDING, ex=60)  # the first POST has claimed the token
    timer = threading.Timer(0.3, lambda: redis_conn.set(key, "4242", ex=60))
    timer.start()
    try:
        response = post(host_client, form_data(access_level, csrf, nonce))
    finally:
        timer.cancel()
    assert response.status_code == 302 and response.location.endswith("/visits/4242")
    assert count(db, Visit) == 0


def test_a_repeat_of_a_first_sending_that_never_finishes_writes_nothing(
    host_client, host_user, access_level, db, redis_conn, monkeypatch
):
    monkeypatch.setattr(submissions, "WAIT_SECONDS", 0.2)
    csrf, nonce = open_form(host_client)
    redis_conn.set(f"gatehouse:once:visit-new:{host_user.id}:{nonce}", submissions.PENDING)
    response = post(host_client, form_data(access_level, csrf, nonce))
    assert response.status_code == 302 and response.location.endswith("/visits")
    assert "still being registered" in host_client.get("/visits").get_data(as_text=True)
    assert count(db, Visit) == 0


def test_the_token_is_per_user(app, host_client, access_level, db):
    csrf, nonce = open_form(host_client)
    assert post(host_client, form_data(access_level, csrf, nonce)).status_code == 302
    other = client_for(app, make_user(Role.HOST))
    other_csrf = csrf_token(other, "/visits/new")
    response = post(other, form_data(access_level, other_csrf, nonce, full_name="Alan Turing"))
    assert response.status_code == 302
    names = sorted(db.session.scalars(select(Guest.full_name)))
    assert names == ["Alan Turing", "Grace Hopper"]


@pytest.mark.parametrize("nonce", [None, "short", "x" * 200, "<script>"])
def test_a_form_without_a_usable_token_still_registers(host_client, access_level, db, nonce):
    csrf = csrf_token(host_client, "/visits/new")
    assert post(host_client, form_data(access_level, csrf, nonce)).status_code == 302
    assert count(db, Visit) == 1
