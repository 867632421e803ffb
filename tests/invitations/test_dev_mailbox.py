"""The development sink and its Mailbox page: what `make run` shows of the mail it sent."""

import pytest

from portal.mailsink import start_sink
from portal.services import mail
from tests.fixtures.app import client_for


@pytest.fixture
def sink(tmp_path):
    controller = start_sink(tmp_path / "mailbox")
    yield controller
    controller.stop()


@pytest.fixture
def app_config(app_config, sink, tmp_path):
    return {
        **app_config,
        "GATEHOUSE_ENV": "development",
        "MAIL_SERVER": sink.hostname,
        "MAIL_PORT": sink.port,
        "MAILBOX_DIR": str(tmp_path / "mailbox"),
    }


def test_the_mailbox_shows_what_the_sink_received(app, admin_user, host_user):
    message = mail.Mail(
        to="guest@example.com", subject="Your visit", text="Open <this> link", html="<p>x</p>"
    )
    mail.send(message)
    page = client_for(app, admin_user).get("/dev/mailbox")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Your visit" in text and "guest@example.com" in text and "Open &lt;this&gt; link" in text
    assert client_for(app, host_user).get("/dev/mailbox").status_code == 403


def test_there_is_no_mailbox_outside_development(app, admin_user):
    app.config["GATEHOUSE_ENV"] = "testing"
    from portal import create_app

    testing_app = create_app({**app.config, "GATEHOUSE_ENV": "testing"})
    assert "devmail.mailbox" not in testing_app.view_functions
