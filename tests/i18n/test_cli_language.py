"""The operator's console stays English; what a command leaves for users speaks their language.

A host created with ``users create --language ru`` gets their e-mails in Russian from the
``worker`` command, while the guest is written in the site's language and the operator reads
English output.
"""

from datetime import timedelta

import pytest

from portal.extensions import db
from portal.models import utcnow
from portal.services import accounts, host_notices
from portal.services import visits as visit_service

PASSWORD = "a long enough secret"


@pytest.fixture
def app_config(app_config, mail_config):
    return {**app_config, **mail_config}


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def test_users_create_takes_a_language(cli):
    result = cli(
        "users", "create", "--email", "ru@example.test", "--name", "Анна", "--language", "ru-RU",
        "--password", PASSWORD,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Created user ru@example.test" in result.output
    assert accounts.find_user("ru@example.test").language == "ru"


def test_users_create_refuses_a_language_not_offered(cli):
    result = cli(
        "users", "create", "--email", "x@example.test", "--name", "X", "--language", "xx",
        "--password", PASSWORD,
    )  # fmt: skip
    assert result.exit_code != 0
    assert "language: Unknown language 'xx': choose one of en, ru." in result.output
    assert accounts.find_user("x@example.test") is None


def test_the_worker_command_writes_each_recipient_in_their_language(cli, app, level, smtp_server):
    cli(
        "users", "create", "--email", "host@example.test", "--name", "Анна Смирнова",
        "--language", "ru", "--password", PASSWORD,
    )  # fmt: skip
    host = accounts.find_user("host@example.test")
    start = utcnow() + timedelta(days=2)
    visit = visit_service.register_visit(
        host,
        full_name="Grace Hopper",
        email="grace@example.com",
        starts_at=start,
        ends_at=start + timedelta(hours=4),
        access_level=level,
    )
    host_notices.notify(visit, host_notices.GUEST_COMPLETED)
    db.session.commit()

    result = cli("worker", "--burst")
    assert result.exit_code == 0 and "worker done: jobs ran" in result.output
    subjects = {message["To"]: message["Subject"] for message in smtp_server.handler.messages}
    assert subjects["grace@example.com"].startswith("Your visit on ")  # DEFAULT_LANGUAGE: en
    assert subjects["host@example.test"] == "Гость Grace Hopper прислал фото"
