"""JSON errors everywhere under /api/v1, and the paged list document."""

import pytest

from portal.extensions import db
from tests.fixtures.factories import make_access_level

URL = "/api/v1/access-levels"


def test_access_levels_lists_active_ones(api, host_headers):
    visitors = make_access_level("Visitors", hik_id="7")
    retired = make_access_level("Retired", hik_id="8")
    retired.active = False
    db.session.commit()
    body = api.get(URL, headers=host_headers).get_json()
    assert body == {
        "items": [{"id": visitors.id, "hik_id": "7", "name": "Visitors"}],
        "next": None,
    }


def test_pages_link_to_the_next_page(api, host_headers):
    levels = [make_access_level(f"Level {n:02d}") for n in range(5)]
    first = api.get(f"{URL}?per_page=2", headers=host_headers).get_json()
    assert [item["id"] for item in first["items"]] == [levels[0].id, levels[1].id]
    assert first["next"].startswith("/api/v1/access-levels?")
    assert "page=2" in first["next"] and "per_page=2" in first["next"]
    second = api.get(first["next"], headers=host_headers).get_json()
    assert [item["id"] for item in second["items"]] == [levels[2].id, levels[3].id]
    third = api.get(second["next"], headers=host_headers).get_json()
    assert [item["id"] for item in third["items"]] == [levels[4].id]
    assert third["next"] is None


def test_a_page_past_the_end_is_empty(api, host_headers, access_level):
    body = api.get(f"{URL}?page=9", headers=host_headers).get_json()
    assert body == {"items": [], "next": None}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("per_page=201", "per_page"),
        ("per_page=0", "per_page"),
        ("per_page=ten", "per_page"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=x", "page"),
    ],
)
def test_bad_paging_parameters_are_400_naming_them(api, host_headers, query, field):
    response = api.get(f"{URL}?{query}", headers=host_headers)
    assert response.status_code == 400
    body = response.get_json()
    assert list(body["fields"]) == [field]
    assert field in body["error"]


def test_per_page_200_is_allowed(api, host_headers, access_level):
    assert api.get(f"{URL}?per_page=200", headers=host_headers).status_code == 200


def test_unknown_path_is_json_404(api, host_headers):
    response = api.get("/api/v1/nothing-here", headers=host_headers)
    assert response.status_code == 404
    assert response.is_json
    assert set(response.get_json()) == {"error", "fields"}


def test_wrong_method_is_json_405(api, host_headers):
    response = api.delete(URL, headers=host_headers)
    assert response.status_code == 405
    assert response.is_json
    assert response.get_json()["fields"] == {}


def test_oversized_body_is_json_413(app, api, host_headers):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = api.post("/api/v1/visits", data=b"x" * 5000, headers=host_headers)
    assert response.status_code == 413
    assert response.get_json()["fields"] == {}


def test_server_error_is_json_500_without_exception_text(app, api, host_headers, monkeypatch):
    from portal.api import views

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "paged", explode)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = api.get(URL, headers=host_headers)
    assert response.status_code == 500
    body = response.get_json()
    assert "secret internals" not in response.get_data(as_text=True)
    assert body["fields"] == {} and body["error"]
