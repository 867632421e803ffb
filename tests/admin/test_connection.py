"""/admin/connection and `flask sync` against the simulator, and a HikCentral that is down."""

import pytest

from portal.hikvision import errors as hik_errors
from portal.models import AccessLevel, Door
from tests.fixtures.app import csrf_token


class DownClient:
    """A client whose every call fails the way an unreachable or misconfigured server does."""

    def __init__(self, error):
        self.error = error

    def call(self, path, body=None, *, retry=True):
        raise self.error

    def pages(self, path, body, *, page_size=500):
        raise self.error

    def metrics_summary(self):
        return {"calls": 0, "by_path": {}, "errors": 1, "retries": 0,
                "rate_limit_wait_seconds": 0.0, "seconds": 0.0}  # fmt: skip


def test_connection_page_shows_version_and_counts(app, admin_client, sim):
    html = admin_client.get("/admin/connection").get_data(as_text=True)
    assert "HikCentral Professional" in html
    assert app.config["HIKCENTRAL_URL"] in html
    assert "Sync access levels and doors" in html
    assert app.config["HIKCENTRAL_APP_SECRET"] not in html
    assert '<div class="stat" id="count-doors">0</div>' in html


def test_sync_button_copies_levels_and_doors(app, db, admin_client, sim):
    token = csrf_token(admin_client, "/admin/connection")
    response = admin_client.post(
        "/admin/connection/sync", data={"csrf_token": token}, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert "Synced 3 access levels (3 created) and 4 doors (4 created)." in html
    assert db.session.query(AccessLevel).filter_by(active=True).count() == 3
    directions = sorted(d.direction for d in db.session.query(Door))
    assert directions == ["entry", "entry", "exit", "exit"]
    assert '<div class="stat" id="count-doors">4</div>' in html
    assert app.config["HIKCENTRAL_APP_SECRET"] not in html


def test_sync_button_needs_csrf(admin_client, db, sim):
    assert admin_client.post("/admin/connection/sync").status_code == 400
    assert db.session.query(AccessLevel).count() == 0


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        (
            hik_errors.UnavailableError("connect refused to 10.9.9.9 secret=abc"),
            "could not be reached",
        ),
        (hik_errors.AuthenticationError("signature mismatch secret=abc"), "refused the portal"),
        (hik_errors.ProtocolError("garbage <html> secret=abc"), "answered with an error"),
    ],
)
def test_unreachable_hikcentral_gets_a_friendly_sentence(app, admin_client, error, sentence):
    app.extensions["hikcentral"] = DownClient(error)
    html = admin_client.get("/admin/connection").get_data(as_text=True)
    assert sentence in html
    assert "Unreachable" in html
    assert "secret=abc" not in html and "10.9.9.9" not in html

    token = csrf_token(admin_client, "/admin/connection")
    page = admin_client.post(
        "/admin/connection/sync", data={"csrf_token": token}, follow_redirects=True
    )
    html = page.get_data(as_text=True)
    assert "Sync failed." in html and sentence in html
    assert "secret=abc" not in html


def test_sync_command(app, db, sim):
    result = app.test_cli_runner().invoke(args=["sync"])
    assert result.exit_code == 0, result.output
    assert "Synced 3 access levels" in result.output and "4 doors" in result.output
    assert db.session.query(Door).count() == 4
    again = app.test_cli_runner().invoke(args=["sync"])
    assert "(no changes)" in again.output


def test_sync_command_reports_a_failure_without_the_exception_text(app):
    app.extensions["hikcentral"] = DownClient(hik_errors.UnavailableError("boom secret=abc"))
    result = app.test_cli_runner().invoke(args=["sync"])
    assert result.exit_code != 0
    assert "Sync failed. HikCentral could not be reached" in result.output
    assert "secret=abc" not in result.output
