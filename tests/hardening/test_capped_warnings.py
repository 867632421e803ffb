"""A sheet with very many columns gives a short warning, and the session cookie stays small."""

import io

import pytest

from portal.services.brief import MAX_TEXT_CHARS, MAX_WARNINGS, cap_warnings
from tests.events.imports_support import guest_rows, make_event, run_worker, sheet
from tests.fixtures.app import csrf_token

COLUMNS = 100_000  # the probe used a million; this is already a 2 MB warning uncapped
COOKIE_LIMIT = 4096  # browsers drop larger cookies


@pytest.fixture
def event(app, organizer_user, level):
    return make_event(organizer_user, level)


def wide_sheet(extra_columns):
    headers = ["full_name", "email", *(f"extra column {n}" for n in range(extra_columns))]
    rows = [row[:2] for row in guest_rows(2)]
    return sheet(rows, headers=headers)


def test_a_hundred_thousand_unknown_columns_make_a_short_warning(organizer_client, event):
    form = {
        "csrf_token": csrf_token(organizer_client, f"/events/{event.id}"),
        "file": (io.BytesIO(wide_sheet(COLUMNS)), "guests.csv"),
    }
    response = organizer_client.post(
        f"/events/{event.id}/imports", data=form, content_type="multipart/form-data"
    )
    assert response.status_code == 303
    run_worker(organizer_client.application.extensions["redis"])  # the staging job
    # The warning is kept on the import, capped, never in the session cookie.
    assert len(response.headers.get("Set-Cookie", "")) < COOKIE_LIMIT
    page = organizer_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Columns not recognized and ignored: &#39;extra column 0&#39;" in page
    assert f"and {COLUMNS - 10} more" in page


def test_many_warnings_are_capped_in_count_and_length():
    notices = cap_warnings(["x" * 10_000] * 50)
    assert len(notices) == MAX_WARNINGS
    assert all(len(notice) <= MAX_TEXT_CHARS for notice in notices)
    assert notices[-1] == "… and 41 more warnings."
