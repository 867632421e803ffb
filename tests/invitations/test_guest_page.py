"""The guest's page over HTTP: no log-in, the details, the answer, every refusal."""

import io
import re

import pytest
from markupsafe import escape
from PIL import Image

from portal.extensions import db
from portal.models import VisitState
from portal.services import face_check, invitations
from tests.fixtures.app import CSRF_FIELD
from tests.invitations.conftest import guest_photo, link_in, token_of


@pytest.fixture
def link(invited, work, smtp_server):
    work()
    return "/g/" + token_of(link_in(smtp_server.handler.messages[0]))


def swap_middle(link):
    """The link with one character in the middle of its secret changed."""
    at = len(link) - len(link.rsplit("/", 1)[1]) // 2
    return link[:at] + ("A" if link[at] != "A" else "B") + link[at + 1 :]


def csrf(client, url):
    return CSRF_FIELD.search(client.get(url).get_data(as_text=True)).group(1)


def answer(client, url, photo=None, token=None, **fields):
    data = {
        "csrf_token": token or csrf(client, url),
        "full_name": "Grace Hopper",
        "company": "Navy",
        "consent": "y",
        "photo": (io.BytesIO(guest_photo() if photo is None else photo), "me.jpg"),
        **fields,
    }
    return client.post(url, data=data, content_type="multipart/form-data")


def test_the_page_shows_the_visit_the_camera_and_the_notice_without_log_in(
    anon_client, link, invited, host_user, app
):
    response = anon_client.get(link)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert host_user.name in page and "Visitors – Lobby" in page
    assert 'capture="user"' in page and 'accept="image/*"' in page
    assert str(escape(app.config["PRIVACY_NOTICE"])) in page
    assert 'value="Grace Hopper"' in page
    assert "<script>" not in page and "style=" not in page


def test_the_guest_completes_the_page_and_is_told_when_the_doors_open(anon_client, link, invited):
    token = csrf(anon_client, link)
    response = answer(anon_client, link, token=token)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r"You are registered; your face will open the doors from .+ to .+\.", page)
    db.session.refresh(invited)
    assert invited.state == VisitState.PENDING
    # Sending the form again (back button, double tap) is refused with a sentence.
    again = answer(anon_client, link, token=token)
    assert again.status_code == 410
    assert invitations.LINK_USED in again.get_data(as_text=True)


@pytest.mark.parametrize(
    "photo, sentence",
    [
        (b"%PDF-1.4 not a photo at all" * 20, "The file is not an image"),
        ("white", face_check.NO_FACE),
        ("two", face_check.TWO_FACES),
        ("tiny", face_check.TINY_FACE),
    ],
)
def test_a_bad_photo_is_answered_at_once_with_what_to_fix(
    anon_client, link, invited, photo, sentence
):
    from portal.bench.faces import portrait
    from tests.services.test_face_check import jpeg, on_canvas

    made = {
        "white": lambda: jpeg(Image.new("RGB", (640, 480), (255, 255, 255))),
        "two": lambda: jpeg(
            on_canvas((800, 500), (portrait((400, 500)), (0, 0)), (portrait((400, 500)), (400, 0)))
        ),
        "tiny": lambda: jpeg(on_canvas((1000, 1000), (portrait((400, 500)), (300, 250)))),
    }
    data = made[photo]() if isinstance(photo, str) else photo
    response = answer(anon_client, link, photo=data)
    assert response.status_code == 422
    assert sentence in response.get_data(as_text=True)
    db.session.refresh(invited)
    assert invited.state == VisitState.AWAITING_PHOTO


def test_a_40_mb_file_is_refused_before_it_is_read(anon_client, link, invited):
    response = answer(anon_client, link, photo=b"\xff\xd8" + b"0" * (40 * 1024 * 1024))
    assert response.status_code == 413
    assert "The photo is too large: at most 32 MB." in response.get_data(as_text=True)
    db.session.refresh(invited)
    assert invited.state == VisitState.AWAITING_PHOTO


def test_the_form_needs_its_csrf_token(anon_client, link, invited):
    response = anon_client.post(link, data={"full_name": "Grace", "consent": "y"})
    assert response.status_code == 400
    db.session.refresh(invited)
    assert invited.state == VisitState.AWAITING_PHOTO


@pytest.mark.parametrize(
    "make_bad, sentence",
    [
        (
            lambda link: swap_middle(link),
            invitations.LINK_INVALID,
        ),
        (lambda link: "/g/not-a-link", invitations.LINK_INVALID),
    ],
)
def test_an_altered_link_is_refused_with_a_sentence(anon_client, link, make_bad, sentence):
    response = anon_client.get(make_bad(link))
    assert response.status_code == 410
    assert sentence in response.get_data(as_text=True)


def test_an_expired_link_is_refused_with_a_sentence(anon_client, link, invited):
    from datetime import timedelta

    from portal.models import utcnow

    # The visit is under way and ends a minute ago (as the clock moved on).
    invited.starts_at = utcnow() - timedelta(hours=2)
    invited.ends_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    response = anon_client.get(link)
    assert response.status_code == 410
    assert invitations.LINK_EXPIRED in response.get_data(as_text=True)
