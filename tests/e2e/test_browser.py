"""A host in Chromium: log in, register a visitor with a photo, watch the visit become Enrolled.

The web app runs on a real socket; the enrollment job runs in this process on a burst RQ
SimpleWorker against the simulator, and the visit page notices by itself (it polls the job).
"""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from rq import Queue, SimpleWorker

from portal.models import Role, Visit
from portal.queue import QUEUES
from tests.fixtures.factories import face_jpeg, make_access_level, make_user

pytestmark = pytest.mark.slow

ZONE = ZoneInfo("Europe/Moscow")  # the test app's GATEHOUSE_TIMEZONE
PASSWORD = "correct horse battery"


def run_worker(redis_conn):
    queues = [Queue(name, connection=redis_conn) for name in QUEUES]
    SimpleWorker(queues, connection=redis_conn).work(burst=True)


def log_in(page, email):
    page.goto(page.base_url + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form [type=submit]")
    page.wait_for_url(re.compile(r"/visits$"))


def test_host_registers_a_visitor_and_sees_it_enrolled(page, db, sim, redis_conn, tmp_path):
    host = make_user(Role.HOST, password=PASSWORD)
    make_access_level("Visitors – Lobby", hik_id="1")  # a seed level of the simulator
    photo = tmp_path / "face.jpg"
    photo.write_bytes(face_jpeg())

    log_in(page, host.email)
    assert page.locator("h1").inner_text() == "My visits"
    assert page.locator(".empty-state").is_visible()

    page.click("nav >> text=New visit")
    start = (datetime.now(ZONE) + timedelta(days=1)).replace(hour=10, minute=0)
    page.fill("#full_name", "Ada King Lovelace")
    page.fill("#company", "Analytical Engines")
    page.fill("#starts_at", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#ends_at", (start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M"))
    page.set_input_files("#photo", str(photo))
    page.click("text=Register visit")

    page.wait_for_url(re.compile(r"/visits/\d+$"))
    assert "Ada King Lovelace registered" in page.locator(".flash-success").inner_text()
    assert page.locator("h1 .badge").inner_text() in {"Pending", "Enrolling"}
    assert page.locator("img.photo").evaluate("img => img.naturalWidth") > 0
    # the page shows local times, as typed
    assert f"{start.day} {start:%b %Y}, 10:00" in page.locator("dl.details").last.inner_text()

    run_worker(redis_conn)

    # job-progress.js polls the job and reloads the page when it has finished
    page.locator("h1 .badge-enrolled").wait_for(timeout=15_000)
    assert page.locator("h1 .badge").inner_text() == "Enrolled"
    # one quick delivery check only (app_config): the doors may not have confirmed yet
    assert page.locator("#delivery").inner_text() in {
        "On the doors",
        "Being delivered to the doors",
    }
    visit = db.session.scalars(db.select(Visit)).one()
    assert sim.person(visit.person_code)["has_face"]

    page.click("text=Log out")
    page.wait_for_url(re.compile(r"/login"))
    assert "You are logged out." in page.locator(".flash").inner_text()
    page.goto(page.base_url + f"/visits/{visit.id}")
    assert "/login" in page.url


def test_phone_menu_opens_and_lists_the_host_pages(browser, live_server, db):
    host = make_user(Role.HOST, password=PASSWORD)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = context.new_page()
        page.base_url = live_server
        log_in(page, host.email)
        nav = page.locator("nav.nav")
        assert not nav.is_visible()
        page.click("label.nav-toggle-label")
        assert nav.is_visible()
        links = nav.locator(".nav-links a").all_inner_texts()
        assert links == ["My visits", "New visit", "Jobs"]
        # nothing sticks out sideways on a phone
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


def test_a_double_click_sends_the_new_visit_form_once(page, db):
    host = make_user(Role.HOST, password=PASSWORD)
    make_access_level("Visitors – Lobby", hik_id="1")
    log_in(page, host.email)
    page.goto(page.base_url + "/visits/new")
    page.fill("#full_name", "Ada King Lovelace")
    # The answer loads into a frame, so this page stays scriptable while the POST is held.
    page.evaluate(
        """() => {
            const sink = document.createElement("iframe");
            sink.name = "sink";
            document.body.appendChild(sink);
            document.querySelector("form[enctype]").target = "sink";
        }"""
    )
    posts = []
    # Never answered: the browser waits as on a very slow link.
    page.route(re.compile(r"/visits/new$"), lambda route: posts.append(route.request.method))
    button = page.get_by_role("button", name="Register visit")
    button.dblclick()
    page.wait_for_function(
        "[...document.querySelectorAll('button')].some("
        "b => b.disabled && b.textContent.includes('Register visit'))",
        timeout=5_000,
    )
    button.click(force=True, timeout=2_000)
    page.wait_for_timeout(300)
    assert posts == ["POST"]
    assert db.session.scalar(db.select(db.func.count(Visit.id))) == 0
