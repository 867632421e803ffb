"""GET /api/v1/passages and GET /api/v1/onsite: security's JSON twins of the pages."""

from datetime import timedelta

import pytest

from portal.extensions import db
from portal.models import Door, Passage, utcnow
from portal.services import passages
from tests.fixtures.factories import make_visit


@pytest.fixture
def doors(app):
    entry = Door(hik_id="1", name="Main entrance (in)", direction="entry")
    exit_ = Door(hik_id="2", name="Main entrance (out)", direction="exit")
    db.session.add_all([entry, exit_])
    db.session.commit()
    return entry, exit_


@pytest.fixture
def walked(app, host_user, access_level, doors, security_user):
    """A visit whose guest came in (door 1), a refused try at door 2, and one still inside."""
    entry, exit_ = doors
    now = utcnow().replace(microsecond=0)
    visit = make_visit(host_user, access_level, starts_in=timedelta(hours=-2), state="enrolled")
    other = make_visit(host_user, access_level, starts_in=timedelta(hours=-5), state="enrolled")
    other.ends_at = now - timedelta(minutes=30)  # an overstay once inside
    rows = [
        Passage(hik_event_id="10", visit=visit, person_id="7", door=entry, door_hik_id="1",
                direction="in", kind="granted", event_type=196893,
                occurred_at=now - timedelta(hours=1)),
        Passage(hik_event_id="11", visit=visit, person_id="7", door=exit_, door_hik_id="2",
                direction="out", kind="refused", event_type=197151,
                occurred_at=now - timedelta(minutes=30)),
    ]  # fmt: skip
    db.session.add_all(rows)
    db.session.commit()
    passages.check_in(visit, by=security_user, reason="Reader slow", now=now - timedelta(hours=1))
    passages.check_in(other, by=security_user, reason="Badge", now=now - timedelta(hours=3))
    return visit, other


def test_passages_newest_first_with_every_field(api, security_headers, walked):
    visit, _other = walked
    body = api.get("/api/v1/passages", headers=security_headers).get_json()
    assert body["next"] is None
    items = body["items"]
    order = ["manual" if i["manual"] else i["hik_event_id"] for i in items]
    assert order == ["11", "manual", "10", "manual"]
    refused = next(i for i in items if i["hik_event_id"] == "11")
    assert refused == {
        **refused,
        "visit_id": visit.id,
        "person_id": "7",
        "door": "2",
        "door_name": "Main entrance (out)",
        "direction": "out",
        "kind": "refused",
        "event_type": 197151,
        "manual": False,
        "guest": visit.guest.full_name,
    }
    assert set(refused) >= {"id", "hik_event_id", "occurred_at", "received_at"}


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("kind=refused", {"11"}),
        ("door=1", {"10"}),
        ("direction=out&kind=refused", {"11"}),
    ],
)
def test_passage_filters(api, security_headers, walked, query, ids):
    items = api.get(f"/api/v1/passages?{query}", headers=security_headers).get_json()["items"]
    assert {i["hik_event_id"] for i in items} == ids


def test_passages_by_visit_and_time(api, security_headers, walked):
    visit, other = walked
    since = (utcnow() - timedelta(minutes=45)).isoformat()
    items = api.get(
        "/api/v1/passages",
        query_string={"since": since, "visit": visit.id},
        headers=security_headers,
    ).get_json()["items"]
    assert [i["hik_event_id"] for i in items] == ["11"]


def test_passages_page(api, security_headers, walked):
    body = api.get("/api/v1/passages?per_page=1", headers=security_headers).get_json()
    assert len(body["items"]) == 1 and "page=2" in body["next"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=yesterday", "since"),
        ("direction=sideways", "direction"),
        ("kind=maybe", "kind"),
        ("door=nowhere", "door"),
        ("visit=abc", "visit"),
    ],
)
def test_bad_passage_parameters_are_named(api, security_headers, walked, query, field):
    response = api.get(f"/api/v1/passages?{query}", headers=security_headers)
    assert response.status_code == 400
    assert field in response.get_json()["fields"]


def test_hosts_may_not_read_passages(api, host_headers, walked):
    assert api.get("/api/v1/passages", headers=host_headers).status_code == 403
    assert api.get("/api/v1/onsite", headers=host_headers).status_code == 403


def test_onsite_lists_overstays_first(api, admin_headers, walked):
    visit, other = walked
    body = api.get("/api/v1/onsite", headers=admin_headers).get_json()
    assert body["count"] == 2 and body["overstays"] == 1
    assert [i["visit_id"] for i in body["items"]] == [other.id, visit.id]
    first = body["items"][0]
    assert first["overstay"] is True and first["checked_in_at"] and first["host"]
    assert first["url"].endswith(f"/api/v1/visits/{other.id}")
