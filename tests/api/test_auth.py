"""Bearer-token authentication: no session cookie, no CSRF, 401 with WWW-Authenticate."""

import pytest

from portal.extensions import db
from tests.api.conftest import bearer
from tests.fixtures.factories import make_user

URL = "/api/v1/access-levels"


def assert_unauthorized(response):
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.get_json()
    assert body["fields"] == {}
    assert body["error"]


def test_missing_token_is_401(api):
    assert_unauthorized(api.get(URL))


@pytest.mark.parametrize(
    "header", ["Bearer not-a-token", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer"]
)
def test_bad_token_is_401(api, host_user, header):
    bearer(host_user)
    assert_unauthorized(api.get(URL, headers={"Authorization": header}))


def test_good_token_authenticates(api, host_headers, access_level):
    response = api.get(URL, headers=host_headers)
    assert response.status_code == 200
    assert response.get_json()["items"][0]["name"] == access_level.name
    # A token call starts no session: there is no cookie a browser could replay.
    assert "Set-Cookie" not in response.headers


def test_scheme_is_case_insensitive(api, host_user, access_level):
    token = host_user.rotate_api_token()
    db.session.commit()
    response = api.get(URL, headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200


def test_disabled_user_is_401(api, host_user):
    headers = bearer(host_user)
    host_user.active = False
    db.session.commit()
    assert_unauthorized(api.get(URL, headers=headers))


def test_rotated_token_stops_working(api, host_user):
    old = bearer(host_user)
    new = bearer(host_user)
    assert_unauthorized(api.get(URL, headers=old))
    assert api.get(URL, headers=new).status_code == 200


def test_token_is_not_stored_in_plain(host_user):
    token = bearer(host_user)["Authorization"].split()[1]
    assert host_user.api_token_hash != token
    assert token not in (host_user.api_token_hash or "")


def test_session_cookie_does_not_authenticate(host_client):
    # host_client is logged in to the pages; its cookie must mean nothing to the API.
    assert_unauthorized(host_client.get(URL))
    assert_unauthorized(host_client.post("/api/v1/visits", json={}))


def test_token_wins_over_a_session_of_another_user(app, host_user, access_level):
    other = make_user(email="other@example.test")
    client = app.test_client(user=host_user)
    response = client.get(URL, headers=bearer(other))
    assert response.status_code == 200


def test_api_needs_no_csrf_token(api, host_headers):
    # CSRF is on for the pages; a JSON POST with a token must reach validation (400), not a
    # CSRF refusal.
    response = api.post("/api/v1/visits", json={}, headers=host_headers)
    assert response.status_code == 400
    assert "fields" in response.get_json()
