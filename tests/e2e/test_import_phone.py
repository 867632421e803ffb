"""Guest lists in the browser: an upload followed until its preview, and the preview on a 390 px
phone (counts on one line, lists stacked, nothing sideways)."""

import os
import re

import pytest

from portal.models import Role
from tests.e2e.test_browser import PASSWORD, log_in, run_worker
from tests.events.imports_support import (
    guest_rows,
    make_event,
    photos_zip,
    sheet,
    stage_upload,
    upload,
)
from tests.fixtures.factories import make_access_level, make_user

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
SCREENSHOT = os.environ.get("GATEHOUSE_E2E_SCREENSHOT")  # a path, to look at the page


@pytest.fixture
def app_config(app_config, tmp_path):
    return {**app_config, "IMPORT_FILES_DIR": str(tmp_path / "imports")}


def box(page, selector):
    return page.locator(selector).first.bounding_box()


def test_import_preview_reads_well_on_a_phone(browser, live_server, db):
    organizer = make_user(Role.ORGANIZER, password=PASSWORD)
    event = make_event(organizer, make_access_level("Visitors – Lobby", hik_id="1"))
    rows = guest_rows(3)
    rows[0][3] = "A company with a rather long name that has to wrap somewhere"
    rows[2][1] = "broken@"
    guest_import = stage_upload(event, organizer, upload(sheet(rows), "guests.csv"))

    context = browser.new_context(viewport=PHONE, is_mobile=True)
    try:
        page = context.new_page()
        page.base_url = live_server
        log_in(page, organizer.email)
        page.goto(f"{live_server}/imports/{guest_import.id}")

        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        # The three counts share one line.
        tops = {round(page.locator(".stat").nth(n).bounding_box()["y"]) for n in range(3)}
        assert len(tops) == 1
        # Both lists fit: no table is cut off sideways, and their headers are read as labels.
        for selector in ("#preview .table-wrap", "#errors .table-wrap"):
            overflow = page.locator(selector).evaluate("el => el.scrollWidth - el.clientWidth")
            assert overflow <= 0, selector
        assert box(page, "#preview thead")["height"] <= 1  # read by screen readers only
        assert page.locator("#preview td[data-label='E-mail']").first.is_visible()
        assert page.locator("#errors td[data-label='Row']").first.inner_text() == "4"
        # The button has room above it and its explanation is on a line of its own below.
        stats, button = box(page, ".stats"), box(page, "#confirm-form button")
        assert button["y"] - (stats["y"] + stats["height"]) >= 12
        help_line = box(page, "#confirm-actions + .field-help")
        assert help_line["y"] >= button["y"] + button["height"]
        assert page.locator("#confirm-form button").inner_text() == "Import 2 guests"
        if SCREENSHOT:
            page.screenshot(path=SCREENSHOT, full_page=True)
    finally:
        context.close()


def test_an_uploaded_sheet_is_checked_by_its_job_and_the_page_shows_the_preview(
    page, db, redis_conn, tmp_path
):
    organizer = make_user(Role.ORGANIZER, password=PASSWORD)
    event = make_event(organizer, make_access_level("Visitors – Lobby", hik_id="1"))
    sheet_file = tmp_path / "guests.csv"
    sheet_file.write_bytes(sheet(guest_rows(3, with_photos=True)))
    photos = tmp_path / "photos.zip"
    photos.write_bytes(photos_zip(["g0.jpg", "g1.jpg", "g2.jpg"]))

    log_in(page, organizer.email)
    page.goto(f"{page.base_url}/events/{event.id}")
    page.set_input_files("#sheet", str(sheet_file))
    page.set_input_files("#photos", str(photos))
    page.click("text=Upload and check")

    page.wait_for_url(re.compile(r"/imports/\d+$"))
    assert page.locator("#import-state").inner_text() == "Checking the sheet"
    assert page.locator("#staging-note").is_visible()

    run_worker(redis_conn)

    # job-progress.js polls the staging job and reloads the page when it has finished.
    page.locator("#confirm-form button").wait_for(timeout=15_000)
    assert page.locator("#confirm-form button").inner_text() == "Import 3 guests"
    assert page.locator("#import-state").inner_text() == "Checked, waiting for import"
    assert page.locator("#staging-note").count() == 0
