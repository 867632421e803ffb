"""Log-in throttling in Redis: per account, per address, the right password refused meanwhile."""

import logging

from sqlalchemy import select

from portal.models import AuditAction, AuditEntry, Role
from tests.api.conftest import bearer
from tests.fixtures.app import csrf_token
from tests.fixtures.factories import make_user

PASSWORD = "correct horse battery"
LOCKED = "Too many failed log-ins"


def attempt(client, email, password, address="192.0.2.10"):
    token = csrf_token(client, "/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def test_the_right_password_is_refused_after_five_failures(app, anon_client, caplog):
    user = make_user(Role.HOST)
    for _ in range(app.config["LOGIN_FAILURES_PER_ACCOUNT"] - 1):
        response = attempt(anon_client, user.email, "wrong password")
        assert "Email or password is incorrect." in response.get_data(as_text=True)
    with caplog.at_level(logging.WARNING, logger="portal.services.login_throttle"):
        last = attempt(anon_client, user.email, "wrong password")
    assert LOCKED in last.get_data(as_text=True)
    assert any("log-in locked" in record.getMessage() for record in caplog.records)
    # The same page and a sentence, from any address, even with the right password.
    right = attempt(anon_client, user.email, PASSWORD, address="198.51.100.7")
    assert right.status_code == 200
    text = right.get_data(as_text=True)
    assert LOCKED in text and "try again in 15 min" in text
    assert anon_client.get("/profile").status_code == 302


def test_the_lock_lifts_after_the_window(app, anon_client, redis_conn):
    user = make_user(Role.HOST)
    for _ in range(app.config["LOGIN_FAILURES_PER_ACCOUNT"]):
        attempt(anon_client, user.email, "wrong password")
    assert LOCKED in attempt(anon_client, user.email, PASSWORD).get_data(as_text=True)
    # The window passes: its failures leave Redis (the moving window's entries expire).
    for key in redis_conn.scan_iter("gatehouse-throttle*"):
        redis_conn.delete(key)
    assert attempt(anon_client, user.email, PASSWORD).status_code == 302


def test_one_address_is_limited_across_accounts(app, anon_client):
    app.config["LOGIN_FAILURES_PER_ADDRESS"] = 6
    for n in range(6):
        attempt(anon_client, f"nobody{n}@example.test", "wrong password")
    user = make_user(Role.HOST)
    assert LOCKED in attempt(anon_client, user.email, PASSWORD).get_data(as_text=True)
    # Another address is not affected.
    assert attempt(anon_client, user.email, PASSWORD, address="203.0.113.5").status_code == 302


def test_a_lock_out_is_audited(app, anon_client, db):
    user = make_user(Role.HOST)
    for _ in range(app.config["LOGIN_FAILURES_PER_ACCOUNT"]):
        attempt(anon_client, user.email, "wrong password")
    entry = db.session.scalars(select(AuditEntry)).one()
    assert entry.action == AuditAction.LOGIN_LOCKED.value
    assert (entry.object_id, entry.address) == (user.id, "192.0.2.10")


def test_unknown_api_tokens_are_limited_per_address(app, anon_client, host_user):
    app.config["API_TOKEN_FAILURES_PER_ADDRESS"] = 3
    headers = {"Authorization": "Bearer not-a-token"}
    address = {"REMOTE_ADDR": "192.0.2.20"}
    for _ in range(3):
        response = anon_client.get("/api/v1/visits", headers=headers, environ_base=address)
        assert response.status_code == 401
    good = bearer(host_user)
    response = anon_client.get("/api/v1/visits", headers=good, environ_base=address)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "try again in" in response.get_json()["error"]
    other = {"REMOTE_ADDR": "192.0.2.21"}
    assert anon_client.get("/api/v1/visits", headers=good, environ_base=other).status_code == 200
