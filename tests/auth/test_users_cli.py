"""The ``users`` command group: create, token, list, set-role."""

import pytest

from portal.models import Role, User
from portal.services import accounts
from tests.fixtures.factories import make_user

GOOD = "a long enough secret"


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args, **kw: runner.invoke(args=list(args), **kw)


def test_create_user(cli, db):
    result = cli(
        "users", "create", "--email", "Eve@Example.test", "--name", "Eve", "--role", "security",
        "--password", GOOD,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    user = accounts.find_user("eve@example.test")
    assert user.email == "eve@example.test"
    assert user.role == Role.SECURITY and user.active
    assert user.check_password(GOOD)
    assert GOOD not in result.output


def test_create_prompts_for_the_password(cli):
    result = cli(
        "users", "create", "--email", "p@example.test", "--name", "P", input=f"{GOOD}\n{GOOD}\n"
    )
    assert result.exit_code == 0, result.output
    assert accounts.find_user("p@example.test").check_password(GOOD)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "wizard", "--password", GOOD], "Unknown role 'wizard'"),
        (["--password", "short"], "at least 10 characters"),
        (["--password", "password123"], "too easy to guess"),
    ],
)
def test_create_refuses_bad_input_with_a_clear_message(cli, db, args, message):
    result = cli("users", "create", "--email", "x@example.test", "--name", "X", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.query(User).count() == 0


def test_create_with_empty_prompted_password_is_refused(cli, db):
    result = cli("users", "create", "--email", "x@example.test", "--name", "X", input="\n\n")
    assert result.exit_code != 0
    assert "A password is required." in result.output
    assert db.session.query(User).count() == 0


def test_create_refuses_a_duplicate_email(cli, db):
    make_user(Role.HOST, email="dup@example.test")
    result = cli(
        "users", "create", "--email", "DUP@example.test", "--name", "D", "--password", GOOD
    )
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert db.session.query(User).count() == 1


def test_token_prints_a_working_token_as_last_word(cli, app):
    user = make_user(Role.HOST, email="t@example.test")
    result = cli("users", "token", "--email", "t@example.test")
    assert result.exit_code == 0, result.output
    token = result.output.split()[-1]
    assert accounts.user_by_token(token).id == user.id
    assert "no longer works" not in result.output  # there was no previous token
    replaced = cli("users", "token", "--email", "t@example.test").output
    assert "(the previous one no longer works)" in replaced
    second = replaced.split()[-1]
    assert second != token
    assert accounts.user_by_token(token) is None


def test_token_for_unknown_email_fails(cli):
    result = cli("users", "token", "--email", "nobody@example.test")
    assert result.exit_code != 0
    assert "no user with the email nobody@example.test" in result.output


def test_list_shows_users(cli):
    make_user(Role.ADMIN, email="boss@example.test", name="The Boss")
    result = cli("users", "list")
    assert result.exit_code == 0
    assert "boss@example.test" in result.output and "admin" in result.output


def test_set_role(cli, db):
    user = make_user(Role.HOST, email="r@example.test")
    result = cli("users", "set-role", "--email", "r@example.test", "--role", "organizer")
    assert result.exit_code == 0, result.output
    db.session.refresh(user)
    assert user.role == Role.ORGANIZER
