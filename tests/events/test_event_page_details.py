"""What the event pages show: same-day windows, a filter only when there are guests."""

from datetime import datetime, timedelta

from portal.extensions import db
from portal.models import Event
from tests.fixtures.app import csrf_token
from tests.fixtures.factories import make_visit


def create_event(client, level, start, hours):
    fmt = "%Y-%m-%dT%H:%M"
    data = {
        "name": "Open Day",
        "location": "Hall A",
        "starts_at": start.strftime(fmt),
        "ends_at": (start + timedelta(hours=hours)).strftime(fmt),
        "access_level": str(level.id),
        "csrf_token": csrf_token(client, "/events/new"),
    }
    assert client.post("/events/new", data=data).status_code == 302
    return db.session.scalars(db.select(Event)).one()


def test_event_form_puts_times_side_by_side_in_local_time(organizer_client, access_level):
    html = organizer_client.get("/events/new").get_data(as_text=True)
    assert '<div class="form-row">' in html and "Times are local (Europe/Moscow)" in html


def test_event_page_shows_a_same_day_window_once_and_no_filter_without_guests(
    organizer_client, organizer_user, access_level
):
    start = (datetime.now() + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
    event = create_event(organizer_client, access_level, start, 8)
    html = organizer_client.get(f"/events/{event.id}").get_data(as_text=True)
    assert f"{start.day} {start:%b %Y}, 09:00 – 17:00" in html
    assert 'role="search"' not in html
    make_visit(organizer_user, access_level, event=event)
    html = organizer_client.get(f"/events/{event.id}").get_data(as_text=True)
    assert 'role="search"' in html and 'type="search"' in html
