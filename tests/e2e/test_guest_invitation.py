"""The invitation path in Chromium: a host registers a guest with only an e-mail; the guest opens
the link on a 360 px phone, takes a photo, agrees, and is registered; the visit ends enrolled with
the guest's own photo and the host is told by e-mail.

Mail goes to a real local SMTP server; jobs run in this process on a burst SimpleWorker against
the simulator.
"""

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from portal.models import Role, Visit, VisitState
from tests.e2e.test_browser import PASSWORD, ZONE, log_in, run_worker
from tests.fixtures.factories import face_jpeg, make_access_level, make_user
from tests.invitations.conftest import link_in

pytestmark = pytest.mark.slow

PHONE = {"width": 360, "height": 740}


@pytest.fixture
def app_config(app_config, mail_config):
    return {**app_config, **mail_config}


def test_a_guest_completes_their_own_registration_on_a_phone(
    app, browser, live_server, page, db, sim, redis_conn, smtp_server, tmp_path
):
    app.config["PUBLIC_URL"] = live_server
    host = make_user(Role.HOST, password=PASSWORD, name="Hannah Host")
    make_access_level("Visitors – Lobby", hik_id="1")
    selfie = tmp_path / "selfie.jpg"
    selfie.write_bytes(face_jpeg(size=(720, 960), color=(60, 90, 140)))

    # The host registers the guest with only an e-mail.
    log_in(page, host.email)
    page.goto(page.base_url + "/visits/new")
    start = (datetime.now(ZONE) + timedelta(days=1)).replace(hour=10, minute=0)
    page.fill("#full_name", "Grace Hopper")
    page.fill("#email", "grace@example.com")
    page.fill("#starts_at", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#ends_at", (start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M"))
    page.click("text=Register visit")
    page.wait_for_url(re.compile(r"/visits/\d+$"))
    assert page.locator("#waiting-for-photo").inner_text() == "Waiting for the guest's photo."

    run_worker(redis_conn)  # the invitation e-mail
    [invitation] = smtp_server.handler.messages
    assert invitation["To"] == "grace@example.com"
    link = link_in(invitation)
    assert link.startswith(live_server + "/g/")

    # The guest, on a phone, without any account.
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        errors = []
        phone.on("pageerror", lambda error: errors.append(str(error)))
        phone.goto(link)
        details = phone.locator("#visit-details").inner_text()
        assert "Hannah Host" in details and start.strftime("%d %b %Y, 10:00") in details
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert phone.locator("#photo").get_attribute("capture") == "user"
        phone.set_input_files("#photo", str(selfie))
        phone.fill("#company", "US Navy")
        phone.check("#consent")
        phone.click("text=Send my photo")
        registered = phone.locator("#registered").inner_text()
        assert re.search(
            r"You are registered; your face will open the doors from .+ 10:00 to 16:00\.",
            registered,
        )
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert errors == []
    finally:
        context.close()

    run_worker(redis_conn)  # enrollment, and the host's e-mail
    visit = db.session.scalars(select(Visit)).one()
    db.session.refresh(visit)
    assert visit.state == VisitState.ENROLLED
    assert visit.guest.company == "US Navy" and visit.consent_at is not None
    assert sim.person(visit.person_code)["has_face"]
    to_host = [m for m in smtp_server.handler.messages if m["To"] == host.email]
    assert [m["Subject"] for m in to_host] == ["Grace Hopper sent their photo"]

    page.reload()
    assert page.locator("h1 .badge").inner_text() == "Enrolled"
    assert page.locator("img.photo").evaluate("img => img.naturalWidth") > 0
