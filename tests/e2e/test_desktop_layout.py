"""Pages at 1280 px: nothing a user should not see, every column where its header is."""

import os

import pytest

from portal.extensions import db
from portal.models import Role, VisitState
from portal.services.visits import set_state
from tests.e2e.test_browser import PASSWORD, log_in
from tests.events.imports_support import guest_rows, make_event, sheet, stage_upload, upload
from tests.fixtures.factories import make_access_level, make_user, make_visit

pytestmark = pytest.mark.slow

SCREENSHOT = os.environ.get("GATEHOUSE_E2E_SCREENSHOT")  # a path, to look at the page


def column_lefts(page, selector):
    """The left edge of every cell of the first row matching ``selector``."""
    return page.locator(selector).first.evaluate(
        "row => [...row.children].map(cell => Math.round(cell.getBoundingClientRect().left))"
    )


def line_count(locator):
    """How many lines the text of ``locator`` takes."""
    return locator.evaluate(
        "el => { const r = document.createRange(); r.selectNodeContents(el);"
        " return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }"
    )


def test_the_username_for_password_managers_is_not_shown_on_the_profile(page):
    user = make_user(Role.HOST, password=PASSWORD)
    log_in(page, user.email)
    page.goto(page.base_url + "/profile")
    assert page.locator("input[name=username]").count() == 1
    assert not page.locator("input[name=username]").is_visible()
    assert page.locator("#current_password").is_visible()


def test_a_history_row_with_no_note_keeps_every_column(page):
    host = make_user(Role.HOST, password=PASSWORD)
    visit = make_visit(host, make_access_level())
    set_state(visit, VisitState.PENDING, "Registered.", by=host)
    set_state(visit, VisitState.ENROLLING)  # no note, by the system
    db.session.commit()

    log_in(page, host.email)
    page.goto(f"{page.base_url}/visits/{visit.id}")
    headers = column_lefts(page, "table:has(th:text('By')) thead tr")
    rows = page.locator("table:has(th:text('By')) tbody tr")
    assert rows.count() == 2
    for n in range(2):
        cells = column_lefts(page, f"table:has(th:text('By')) tbody tr >> nth={n}")
        assert cells == headers
    assert rows.first.locator("td").nth(3).inner_text() == "System"


def test_the_import_preview_fits_a_laptop_screen(page):
    organizer = make_user(Role.ORGANIZER, password=PASSWORD)
    event = make_event(organizer, make_access_level("Visitors – Lobby", hik_id="1"))
    rows = guest_rows(3)
    rows[0][1] = "a.rather.long.address.of.somebody@subsidiary.example-company.com"
    rows[0][3] = "A company with a rather long name that has to wrap somewhere"
    guest_import = stage_upload(event, organizer, upload(sheet(rows), "guests.csv"))

    log_in(page, organizer.email)
    page.goto(f"{page.base_url}/imports/{guest_import.id}")
    wrap = page.locator("#preview .table-wrap")
    assert wrap.evaluate("el => el.scrollWidth - el.clientWidth") <= 0
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT, full_page=True)
    for label in ("Phone", "Visit"):
        assert line_count(page.locator(f"#preview td[data-label='{label}']").first) == 1, label
    # An ordinary row's address stays whole; a name wraps at most once.
    ordinary = page.locator("#preview tbody tr").nth(1)
    assert line_count(ordinary.locator("td[data-label='E-mail']")) == 1
    assert line_count(ordinary.locator("td").first) <= 2
