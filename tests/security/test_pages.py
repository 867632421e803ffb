"""The security desk's pages: the passage log, its exports, on site now, the roll-call, check-in
and check-out by hand; the bell, the visit's passages, event attendance, door directions."""

import csv
import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from portal.extensions import db
from portal.models import Door, Notice, Passage, Role, VisitState, utcnow
from portal.services import notices, passages
from tests.fixtures.app import csrf_token
from tests.fixtures.factories import make_guest, make_user, make_visit


@pytest.fixture
def doors(app):
    entry = Door(hik_id="1", name="Main entrance (in)", direction="entry")
    exit_ = Door(hik_id="2", name="Main entrance (out)", direction="exit")
    db.session.add_all([entry, exit_])
    db.session.commit()
    return entry, exit_


def visit_of(host, level, name="Ada Lovelace", **fields):
    fields.setdefault("starts_in", timedelta(hours=-1))
    return make_visit(host, level, guest=make_guest(name), state="enrolled", **fields)


def passage(visit, door, n, *, minutes_ago, direction="in", kind="granted"):
    row = Passage(
        hik_event_id=str(n),
        visit=visit,
        person_id="7",
        door=door,
        door_hik_id=door.hik_id,
        direction=direction,
        kind=kind,
        event_type=196893 if kind == "granted" else 197151,
        occurred_at=utcnow() - timedelta(minutes=minutes_ago),
    )
    db.session.add(row)
    db.session.commit()
    return row


def events_on(page):
    return re.findall(r'data-event="([^"]+)"', page.get_data(as_text=True))


@pytest.fixture
def log(app, doors, host_user, access_level):
    entry, exit_ = doors
    ada = visit_of(host_user, access_level, "Ada Lovelace")
    other_host = make_user(Role.HOST, name="Grace Hopper")
    bob = visit_of(other_host, access_level, "Bob Builder")
    passage(ada, entry, 1, minutes_ago=90)
    passage(ada, exit_, 2, minutes_ago=60, direction="out")
    passage(bob, exit_, 3, minutes_ago=30, direction="out", kind="refused")
    passage(bob, entry, 4, minutes_ago=60 * 30)  # yesterday
    return ada, bob


def test_the_log_lists_newest_first_with_links(security_client, log):
    ada, bob = log
    page = security_client.get("/security/passages")
    assert page.status_code == 200
    assert events_on(page) == ["3", "2", "1", "4"]
    html = page.get_data(as_text=True)
    assert f'href="/visits/{ada.id}"' in html and "Refused" in html
    assert 'data-refresh-url="/security/passages?fragment=rows"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("direction=out", ["3", "2"]),
        ("kind=refused", ["3"]),
        ("guest=ada", ["2", "1"]),
        ("host=grace", ["3", "4"]),
        ("door=__exit__", ["3", "2"]),
    ],
)
def test_the_log_filters(security_client, log, doors, query, expected):
    query = query.replace("__exit__", str(doors[1].id))
    assert events_on(security_client.get(f"/security/passages?{query}")) == expected


def test_the_log_filters_by_time_and_event(security_client, log, organizer_user, access_level):
    from portal.services.events import create_event

    ada, _bob = log
    start = utcnow() - timedelta(hours=3)
    event = create_event(
        organizer_user, name="Expo", location=None, starts_at=start,
        ends_at=start + timedelta(hours=8), access_level=access_level,
    )  # fmt: skip
    ada.event = event
    db.session.commit()
    assert events_on(security_client.get(f"/security/passages?event={event.id}")) == ["2", "1"]
    since = (utcnow() + timedelta(hours=3) - timedelta(minutes=75)).strftime("%Y-%m-%dT%H:%M")
    # The form's times are local (Europe/Moscow, UTC+3).
    assert events_on(security_client.get(f"/security/passages?since={since}")) == ["3", "2"]
    bad = security_client.get("/security/passages?since=yesterday")
    assert "Enter a date and time" in bad.get_data(as_text=True)


def test_the_live_refresh_gets_only_the_rows_with_the_same_filters(security_client, log):
    rows = security_client.get("/security/passages?fragment=rows&kind=refused")
    html = rows.get_data(as_text=True)
    assert "<html" not in html and events_on(rows) == ["3"]


def test_the_log_pages_without_losing_filters(security_client, doors, host_user, access_level):
    visit = visit_of(host_user, access_level)
    for n in range(55):
        passage(visit, doors[0], n, minutes_ago=n)
    first = security_client.get("/security/passages?direction=in")
    assert len(events_on(first)) == 50
    assert "/security/passages?page=2&amp;direction=in" in first.get_data(as_text=True) or (
        "direction=in&amp;page=2" in first.get_data(as_text=True)
    )
    second = security_client.get("/security/passages?direction=in&page=2")
    assert events_on(second) == [str(n) for n in range(50, 55)]
    assert "data-refresh-url" not in second.get_data(as_text=True)  # only the newest page lives


def test_exports_are_filtered_and_formula_safe(security_client, doors, host_user, access_level):
    visit = visit_of(host_user, access_level, '=HYPERLINK("http://x")')
    visit.guest.company = "+cmd|' /C calc'!A0"
    passage(visit, doors[0], 1, minutes_ago=5)
    passage(visit, doors[1], 2, minutes_ago=1, direction="out", kind="refused")
    response = security_client.get("/security/passages.csv?kind=granted")
    assert (
        response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    )
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:5] == ["time", "door", "direction", "result", "guest"]
    assert len(rows) == 2
    assert rows[1][4] == '\'=HYPERLINK("http://x")' and rows[1][5].startswith("'+cmd")
    book = load_workbook(io.BytesIO(security_client.get("/security/passages.xlsx").data))
    sheet = book.active
    assert sheet.max_row == 3
    assert all(str(c.value).startswith("'") for c in sheet["E"][1:])
    assert {c.value for c in sheet["D"][1:]} == {"Granted", "Refused"}


def test_hosts_and_organizers_cannot_see_the_desk(host_client, organizer_client, log):
    for client in (host_client, organizer_client):
        assert client.get("/security/passages").status_code == 403
        assert client.get("/security/passages.xlsx").status_code == 403
        assert client.get("/security/onsite").status_code == 403


# --- on site now --------------------------------------------------------------------------------


def test_onsite_shows_overstays_first_and_the_roll_call(
    security_client, security_user, host_user, access_level
):
    inside = visit_of(host_user, access_level, "Inside Ian")
    late = visit_of(host_user, access_level, "Late Lara", starts_in=timedelta(hours=-5))
    late.ends_at = utcnow() - timedelta(minutes=10)
    expected = visit_of(host_user, access_level, "Expected Eve")
    passages.check_in(inside, by=security_user, reason="r", now=utcnow() - timedelta(minutes=30))
    passages.check_in(late, by=security_user, reason="r", now=utcnow() - timedelta(hours=4))
    html = security_client.get("/security/onsite").get_data(as_text=True)
    onsite = html[html.index('id="onsite"') : html.index('id="expected"')]
    assert onsite.index("Late Lara") < onsite.index("Inside Ian")
    assert 'class="overstay"' in onsite and "Overstay" in onsite
    assert "Expected Eve" in html[html.index('id="expected"') :]
    assert 'id="onsite-count">2<' in html
    roll = security_client.get("/security/onsite/roll-call").get_data(as_text=True)
    assert roll.index("Inside Ian") < roll.index("Late Lara")  # alphabetical for reading out
    assert "Expected Eve" not in roll and 'class="box"' in roll
    assert expected.state == VisitState.ENROLLED


def test_check_in_and_out_by_hand_with_a_reason(
    app, security_client, security_user, host_user, access_level
):
    visit = visit_of(host_user, access_level, "Walk In")
    url = f"/security/visits/{visit.id}"
    token = csrf_token(security_client, "/security/onsite")
    refused = security_client.post(f"{url}/check-in", data={"csrf_token": token, "reason": " "})
    assert refused.status_code == 302
    db.session.refresh(visit)
    assert visit.state == VisitState.ENROLLED
    answer = security_client.post(
        f"{url}/check-in",
        data={"csrf_token": token, "reason": "Reader offline", "next": f"/visits/{visit.id}"},
    )
    assert answer.headers["Location"].endswith(f"/visits/{visit.id}")
    db.session.refresh(visit)
    assert visit.state == VisitState.ON_SITE
    assert visit.history[-1].reason == f"Checked in by hand by {security_user.name}: Reader offline"
    assert visit.history[-1].by_user_id == security_user.id
    security_client.post(f"{url}/check-out", data={"csrf_token": token, "reason": "Left with host"})
    db.session.refresh(visit)
    assert visit.state == VisitState.LEFT
    page = security_client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "by hand: Left with host" in page and "by hand: Reader offline" in page
    # The host was told of the arrival.
    assert db.session.scalar(select(Notice).where(Notice.user_id == host_user.id))


def test_a_host_cannot_check_guests_in(app, host_client, host_user, access_level):
    visit = visit_of(host_user, access_level)
    token = csrf_token(host_client, "/visits")
    answer = host_client.post(
        f"/security/visits/{visit.id}/check-in", data={"csrf_token": token, "reason": "x"}
    )
    assert answer.status_code == 403
    assert 'id="by-hand"' not in host_client.get(f"/visits/{visit.id}").get_data(as_text=True)


# --- the bell, the visit page, the event page, the doors ---------------------------------------


def test_the_bell_counts_unread_notices(app, host_client, host_user, access_level, security_user):
    visit = visit_of(host_user, access_level, "Ada Lovelace")
    passages.check_in(visit, by=security_user, reason="Reader offline")
    page = host_client.get("/visits").get_data(as_text=True)
    assert 'id="bell-count">1<' in page
    listed = host_client.get("/notices").get_data(as_text=True)
    assert "Your guest Ada Lovelace has arrived." in listed
    token = csrf_token(host_client, "/notices")
    host_client.post("/notices/read", data={"csrf_token": token})
    assert 'id="bell-count"' not in host_client.get("/visits").get_data(as_text=True)
    assert notices.unread_count(host_user) == 0


def test_the_visit_page_lists_its_passages(host_client, host_user, access_level, doors):
    visit = visit_of(host_user, access_level)
    passage(visit, doors[0], 1, minutes_ago=10)
    passage(visit, doors[1], 2, minutes_ago=5, direction="out", kind="refused")
    html = host_client.get(f"/visits/{visit.id}").get_data(as_text=True)
    section = html[html.index('id="passages"') :]
    assert section.index("Main entrance (out)") < section.index("Main entrance (in)")
    assert "Refused" in section


def test_the_event_page_counts_attendance(organizer_client, organizer_user, access_level):
    from portal.services.events import create_event

    start = utcnow() - timedelta(hours=1)
    event = create_event(
        organizer_user, name="Expo", location=None, starts_at=start,
        ends_at=start + timedelta(hours=8), access_level=access_level,
    )  # fmt: skip
    for state, n in (("on_site", 2), ("enrolled", 3), ("pending", 1), ("left", 1), ("failed", 1)):
        for _ in range(n):
            visit_of(organizer_user, access_level, event=event).state = state
    db.session.commit()
    html = organizer_client.get(f"/events/{event.id}").get_data(as_text=True)
    assert re.search(r'id="count-arrived"[^>]*>2<', html)
    assert re.search(r'id="count-not-yet"[^>]*>4<', html)
    assert re.search(r'id="count-left"[^>]*>1<', html)


def test_an_admin_sets_a_doors_direction(admin_client, security_client, doors):
    entry, _exit = doors
    token = csrf_token(admin_client, "/admin/connection")
    admin_client.post(
        f"/admin/doors/{entry.id}/direction", data={"csrf_token": token, "direction": "both"}
    )
    db.session.refresh(entry)
    assert entry.direction == "both"
    admin_client.post(
        f"/admin/doors/{entry.id}/direction", data={"csrf_token": token, "direction": "up"}
    )
    db.session.refresh(entry)
    assert entry.direction == "both"
    token = csrf_token(security_client, "/security/onsite")
    answer = security_client.post(
        f"/admin/doors/{entry.id}/direction", data={"csrf_token": token, "direction": "exit"}
    )
    assert answer.status_code == 403


def test_a_guard_sees_the_desk_first_in_the_navigation(security_client):
    html = security_client.get("/security/passages").get_data(as_text=True)
    nav = re.findall(r'<li><a href="([^"]+)"', html)
    assert nav[:2] == ["/security/passages", "/security/onsite"]
    assert "/visits" in nav
