"""What the visit pages tell a visitor-desk user: labels, states, hints after a bad form."""

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from portal.services import visits as svc
from tests.fixtures.app import csrf_token
from tests.fixtures.factories import face_jpeg, make_guest, make_visit

ZONE = ZoneInfo("Europe/Moscow")  # the test app's GATEHOUSE_TIMEZONE
FORMAT = "%Y-%m-%dT%H:%M"


def bad_form(level):
    """A form whose name is missing but whose photo is fine."""
    start = (datetime.now(ZONE) + timedelta(days=1)).replace(second=0, microsecond=0)
    return {
        "full_name": "",
        "email": "grace@example.com",
        "starts_at": start.strftime(FORMAT),
        "ends_at": (start + timedelta(hours=4)).strftime(FORMAT),
        "access_level": str(level.id),
        "photo": (io.BytesIO(face_jpeg()), "face.jpg"),
    }


def test_nav_says_visits_for_those_who_see_all_and_my_visits_for_hosts(
    host_client, security_client
):
    assert ">My visits</a>" in host_client.get("/visits").get_data(as_text=True)
    html = security_client.get("/visits").get_data(as_text=True)
    assert ">Visits</a>" in html and ">My visits</a>" not in html


def test_bad_form_says_nothing_was_saved_and_asks_for_the_photo_again(host_client, access_level):
    data = bad_form(access_level)
    data["csrf_token"] = csrf_token(host_client, "/visits/new")
    response = host_client.post("/visits/new", data=data, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="form-problems"' in html and "correct the field marked in red" in html
    assert 'id="photo-again"' in html
    assert 'value="grace@example.com"' in html


def test_no_photo_hint_when_the_photo_itself_was_refused(host_client, access_level):
    data = bad_form(access_level)
    data["photo"] = (io.BytesIO(b"not an image"), "face.jpg")
    data["csrf_token"] = csrf_token(host_client, "/visits/new")
    html = host_client.post("/visits/new", data=data, content_type="multipart/form-data").get_data(
        as_text=True
    )
    assert 'id="photo-error"' in html and 'id="photo-again"' not in html
    assert "correct the 2 fields marked in red" in html


def test_new_form_marks_required_fields_and_lets_the_server_explain(host_client, access_level):
    html = host_client.get("/visits/new").get_data(as_text=True)
    assert "novalidate" in html
    label = html[html.find('<label for="full_name">') :]
    assert label[: label.find("</label>")].count('class="required"') == 1


def test_a_cancelled_visit_is_not_shown_as_on_the_doors(host_client, host_user, access_level):
    visit = make_visit(
        host_user, access_level, state="cancelled", hik_person_id="p1", delivery="applied"
    )
    html = host_client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "Access removed" in html and "On the doors" not in html


def test_a_live_visit_without_photo_warns_that_face_readers_will_not_know_the_guest(
    host_client, host_user, access_level
):
    visit = make_visit(host_user, access_level, guest=make_guest(photo=False))
    html = host_client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert 'id="no-photo"' in html and "Face readers will not recognise" in html


def test_visit_page_links_its_latest_job(host_client, host_user, access_level, redis_conn):
    visit = make_visit(host_user, access_level, state="enrolled", hik_person_id="p1")
    record = svc.reapply(visit, by=host_user)
    html = host_client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert f'href="/jobs/{record.id}"' in html
    # no total yet: the progress bar is there for the script but hidden
    assert "data-job-progress hidden" in html
