"""A guard in Chromium: a passage made on the simulator appears in the open log without a
reload, the guest moves into "on site now", and the guard checks them out by hand.

The poll runs in this process the way the scheduler's job would (passages.monitor)."""

import re

import pytest

from portal.extensions import db
from portal.hikvision import client_for
from portal.models import Role, VisitState
from portal.services import passages
from tests.fixtures.factories import make_guest, make_user
from tests.passages_support import enrolled_visit, level, sync_site

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"


def log_in(page, email):
    page.goto(page.base_url + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form [type=submit]")
    page.wait_for_url(re.compile(r"/visits$"))


def test_a_guard_follows_a_guest_in_and_checks_them_out(page, app, sim, redis_conn):
    client = client_for(app)
    sync_site(client)
    guard = make_user(Role.SECURITY, password=PASSWORD, name="Gus Guard")
    host = make_user(Role.HOST, name="Hana Host")
    visit = enrolled_visit(client, host, level("2"), guest=make_guest("Walter Walker"))

    log_in(page, guard.email)
    page.click("nav >> text=Passages")
    page.wait_for_url(re.compile(r"/security/passages$"))
    assert page.locator("#no-passages").is_visible()
    page.evaluate("window.__sameDocument = true")

    event = sim.passage(person_code=visit.person_code, door="1", direction="in")
    assert event["granted"] is True
    result = passages.monitor(client, redis_conn)
    assert result["stored"] == 1
    row = page.locator(f'tr[data-event="{event["eventId"]}"]')
    row.wait_for(timeout=15_000)  # the page refreshes itself every few seconds
    assert page.evaluate("window.__sameDocument") is True  # no reload
    assert "Walter Walker" in row.inner_text() and "Main entrance (in)" in row.inner_text()
    assert page.locator("#no-passages").is_hidden()

    page.click("nav >> text=On site")
    page.wait_for_url(re.compile(r"/security/onsite$"))
    onsite = page.locator(f'#onsite tr[data-visit="{visit.id}"]')
    assert "Walter Walker" in onsite.inner_text() and "Hana Host" in onsite.inner_text()
    onsite.locator("input[name=reason]").fill("Left through the loading bay, reader off")
    onsite.locator("text=Check out").click()
    page.wait_for_url(re.compile(r"/security/onsite$"))
    assert "Walter Walker was checked out by hand." in page.locator(".flash-success").inner_text()
    assert page.locator(f'#onsite tr[data-visit="{visit.id}"]').count() == 0

    db.session.refresh(visit)
    assert visit.state == VisitState.LEFT
    assert visit.history[-1].reason.endswith("Left through the loading bay, reader off")
