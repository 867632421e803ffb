"""Numbers beyond the database's integers and absurdly nested JSON answer 404 or 400, never 500."""

import pytest
from sqlalchemy import func, select

from portal.bounds import MAX_DB_INT, db_int
from portal.extensions import db
from portal.models import Event, Visit
from tests.api.conftest import bearer
from tests.fixtures.app import csrf_token
from tests.fixtures.factories import make_user

HUGE = "99999999999999999999"  # beyond 64 bits
BEYOND_POSTGRES = str(2**31)  # fits SQLite's integers, not PostgreSQL's


@pytest.fixture
def id_routes(app):
    """Every GET route with an integer id in it, the id replaced by ``{}``."""
    routes = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and "<int:" in rule.rule:
            routes.append(rule.rule.replace("<int:", "{").split("{")[0] + "{}" + _tail(rule.rule))
    assert len(routes) >= 8
    return routes


def _tail(rule):
    return rule.split(">", 1)[1]


@pytest.mark.parametrize("number", [HUGE, BEYOND_POSTGRES])
def test_ids_beyond_the_database_are_not_found(admin_user, app, id_routes, number):
    pages = app.test_client(user=admin_user)
    headers = bearer(admin_user)
    for route in id_routes:
        url = route.format(number)
        response = pages.get(url, headers=headers if url.startswith("/api/") else {})
        assert response.status_code == 404, url


@pytest.mark.parametrize("url", ["/visits", "/jobs", "/admin/users"])
def test_page_numbers_beyond_the_database_are_not_found(admin_client, url):
    assert admin_client.get(f"{url}?page=9223372036854775807").status_code == 404
    assert admin_client.get(f"{url}?page={HUGE}").status_code == 404


def test_api_page_numbers_beyond_the_database_are_refused(anon_client, admin_user):
    url = "/api/v1/visits?page=9223372036854775807"
    response = anon_client.get(url, headers=bearer(admin_user))
    assert response.status_code == 400
    assert "page" in response.get_json()["fields"]


@pytest.mark.parametrize("url", ["/api/v1/visits", "/api/v1/events"])
@pytest.mark.parametrize("level", [int(HUGE), HUGE, 2**31])
def test_a_twenty_digit_access_level_is_refused_on_the_api(anon_client, url, level):
    headers = bearer(make_user("organizer"))
    response = anon_client.post(url, json={"access_level": level}, headers=headers)
    assert response.status_code == 400
    assert "access_level" in response.get_json()["fields"]


def test_a_twenty_digit_access_level_is_refused_on_the_pages(organizer_client):
    for url in ("/visits/new", "/events/new"):
        token = csrf_token(organizer_client, url)
        response = organizer_client.post(
            url,
            data={
                "csrf_token": token,
                "full_name": "Ada Lovelace",
                "name": "Expo",
                "starts_at": "2030-01-01T10:00",
                "ends_at": "2030-01-01T12:00",
                "access_level": HUGE,
            },
        )
        # The form comes back with its errors (the visit form answers 422), not a 500.
        assert response.status_code in (200, 422), url
        assert "access level" in response.get_data(as_text=True).lower()
    assert db.session.scalar(select(func.count(Visit.id))) == 0
    assert db.session.scalar(select(func.count(Event.id))) == 0


def test_json_nested_100000_deep_is_a_bad_request(anon_client, host_user):
    body = "[" * 100_000 + "]" * 100_000
    response = anon_client.post(
        "/api/v1/visits", data=body, content_type="application/json", headers=bearer(host_user)
    )
    assert response.status_code == 400
    assert response.get_json()["fields"] == {"body": "Is not valid JSON."}


def test_db_int_accepts_only_what_fits():
    assert db_int("42") == 42
    assert db_int(MAX_DB_INT) == MAX_DB_INT
    assert db_int(MAX_DB_INT + 1) is None
    assert db_int(HUGE) is None
    assert db_int("٣") is None  # a digit, but not an ASCII one
    assert db_int(True) is None
    assert db_int(-1) is None


@pytest.mark.parametrize("number", [HUGE, BEYOND_POSTGRES])
def test_passage_filters_beyond_the_database_are_ignored_like_any_unreadable_one(
    security_client, number
):
    for url in (f"/security/passages?event={number}&door={number}", "/security/passages?door=x"):
        response = security_client.get(url)
        assert response.status_code == 200, url
        assert b"passage-log" in response.data


@pytest.mark.parametrize("number", [HUGE, BEYOND_POSTGRES])
def test_api_passage_filters_beyond_the_database_are_refused(anon_client, security_user, number):
    for name in ("visit", "door"):
        url = f"/api/v1/passages?{name}={number}"
        response = anon_client.get(url, headers=bearer(security_user))
        assert response.status_code == 400, url
        assert name in response.get_json()["fields"]
