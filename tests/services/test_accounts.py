"""Account rules without HTTP: creation, roles, activation, tokens, passwords."""

import pytest

from portal.models import Role
from portal.services import accounts
from portal.services.accounts import AccountError
from tests.fixtures.factories import make_user

GOOD = "a long enough secret"


def test_create_user_normalizes_email_and_hashes_password(app):
    user = accounts.create_user(
        email="  Ann@Example.TEST ", name=" Ann ", role="Organizer", password=GOOD
    )
    assert user.email == "ann@example.test" and user.name == "Ann"
    assert user.role == Role.ORGANIZER
    assert GOOD not in user.password_hash and user.check_password(GOOD)
    assert accounts.find_user("ANN@example.test").id == user.id


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"name": "  "}, "name", "name is required"),
        ({"role": "root"}, "role", "Unknown role 'root'"),
        ({"password": ""}, "password", "password is required"),
        ({"password": "aaaaaaaaaaaa"}, "password", "too easy"),
        ({"password": "x@example.test"}, "password", "not be the email"),
    ],
)
def test_create_user_refusals_name_the_field(app, fields, field, message):
    data = {"email": "x@example.test", "name": "X", "role": "host", "password": GOOD, **fields}
    with pytest.raises(AccountError) as caught:
        accounts.create_user(**data)
    assert list(caught.value.fields) == [field]
    assert message.lower() in caught.value.message.lower()


def test_duplicate_email_is_refused_case_insensitively(app):
    make_user(email="dup@example.test")
    with pytest.raises(AccountError, match="already exists"):
        accounts.create_user(email="DUP@example.test", name="D", role="host", password=GOOD)


def test_authenticate(app):
    user = make_user(email="a@example.test", password=GOOD)
    assert accounts.authenticate("A@example.test", GOOD).id == user.id
    assert accounts.authenticate("a@example.test", "wrong password") is None
    assert accounts.authenticate("nobody@example.test", GOOD) is None
    accounts.set_active(user, False)
    assert accounts.authenticate("a@example.test", GOOD) is None


def test_admin_cannot_demote_or_disable_self_but_can_others(app):
    admin = make_user(Role.ADMIN)
    other = make_user(Role.HOST)
    with pytest.raises(AccountError, match="own role"):
        accounts.set_role(admin, "host", by=admin)
    with pytest.raises(AccountError, match="own account"):
        accounts.set_active(admin, False, by=admin)
    assert admin.role == Role.ADMIN and admin.active
    accounts.set_role(other, "security", by=admin)
    accounts.set_active(other, False, by=admin)
    assert other.role == Role.SECURITY and not other.active


def test_token_is_stored_hashed_and_dies_with_disable(app):
    user = make_user()
    token = accounts.rotate_token(user)
    assert user.api_token_hash != token and len(user.api_token_hash) == 64
    assert accounts.user_by_token(token).id == user.id
    assert accounts.user_by_token("") is None and accounts.user_by_token("guess") is None
    accounts.set_active(user, False)
    assert accounts.user_by_token(token) is None
    accounts.set_active(user, True)
    assert accounts.user_by_token(token) is None


def test_change_password(app):
    user = make_user(password=GOOD)
    with pytest.raises(AccountError) as caught:
        accounts.change_password(user, "wrong", "another long secret")
    assert list(caught.value.fields) == ["current_password"]
    with pytest.raises(AccountError) as caught:
        accounts.change_password(user, GOOD, "short")
    assert list(caught.value.fields) == ["new_password"]
    accounts.change_password(user, GOOD, "another long secret")
    assert user.check_password("another long secret")
