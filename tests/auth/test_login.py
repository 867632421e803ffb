"""Log-in, log-out, the profile page and its API token."""

from portal.extensions import db
from portal.models import Role, hash_token
from portal.services import accounts
from tests.fixtures.app import csrf_token
from tests.fixtures.factories import make_user

PASSWORD = "correct horse battery"


def login(client, email, password=PASSWORD, next_url=None):
    token = csrf_token(client, "/login")
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"email": email, "password": password, "csrf_token": token})


def test_login_page_renders_form(anon_client):
    page = anon_client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="email"' in html and 'name="password"' in html
    assert 'name="csrf_token"' in html


def test_login_with_correct_password_logs_in(app, anon_client):
    user = make_user(Role.HOST, email="ann@example.test")
    response = login(anon_client, "ANN@example.test ")
    assert response.status_code == 302
    profile = anon_client.get("/profile")
    assert profile.status_code == 200
    assert user.email in profile.get_data(as_text=True)


def test_wrong_password_and_unknown_email_get_the_same_generic_error(app, anon_client):
    make_user(Role.HOST, email="ann@example.test")
    wrong = login(anon_client, "ann@example.test", "not the password")
    unknown = login(anon_client, "nobody@example.test")
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert "Email or password is incorrect." in response.get_data(as_text=True)
    assert anon_client.get("/profile").status_code == 302


def test_disabled_user_cannot_log_in(app, anon_client):
    user = make_user(Role.HOST, email="gone@example.test")
    accounts.set_active(user, False)
    response = login(anon_client, "gone@example.test")
    assert "Email or password is incorrect." in response.get_data(as_text=True)
    assert anon_client.get("/profile").status_code == 302


def test_disabled_user_is_logged_out_of_an_open_session(app, host_user):
    client = app.test_client(user=host_user)
    assert client.get("/profile").status_code == 200
    accounts.set_active(host_user, False)
    response = client.get("/profile")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_login_without_csrf_token_is_refused(app, anon_client):
    make_user(Role.HOST, email="ann@example.test")
    response = anon_client.post("/login", data={"email": "ann@example.test", "password": PASSWORD})
    assert response.status_code == 400
    assert anon_client.get("/profile").status_code == 302


def test_next_redirect_only_to_local_paths(app, anon_client):
    make_user(Role.HOST, email="ann@example.test")
    response = login(anon_client, "ann@example.test", next_url="/profile")
    assert response.headers["Location"].endswith("/profile")


def test_next_redirect_to_another_site_is_ignored(app, anon_client):
    make_user(Role.HOST, email="ann@example.test")
    for evil in ("https://evil.test/x", "//evil.test/x", "/\\evil.test"):
        client = app.test_client()
        response = login(client, "ann@example.test", next_url=evil)
        assert response.status_code == 302
        assert "evil.test" not in response.headers["Location"]


def test_logout_requires_post_with_csrf(app, host_client):
    assert host_client.get("/logout").status_code == 405
    assert host_client.post("/logout").status_code == 400
    token = csrf_token(host_client, "/profile")
    response = host_client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert host_client.get("/profile").status_code == 302


def test_profile_shows_name_email_role(host_client, host_user):
    html = host_client.get("/profile").get_data(as_text=True)
    assert host_user.name in html and host_user.email in html and "Host" in html
    assert "You have no API token yet." in html


def test_token_rotation_shows_plain_token_once_and_stores_only_its_hash(
    app, host_client, host_user
):
    token_csrf = csrf_token(host_client, "/profile")
    page = host_client.post("/profile/token", data={"csrf_token": token_csrf})
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    start = html.index('<code id="new-token">') + len('<code id="new-token">')
    token = html[start : html.index("</code>", start)]
    assert len(token) >= 32
    db.session.refresh(host_user)
    assert host_user.api_token_hash == hash_token(token)
    assert token not in (host_user.api_token_hash or "")
    assert accounts.user_by_token(token).id == host_user.id
    again = host_client.get("/profile").get_data(as_text=True)
    assert token not in again
    assert "You have an API token." in again


def test_only_a_replaced_token_is_said_to_stop_working(host_client):
    first = host_client.post(
        "/profile/token", data={"csrf_token": csrf_token(host_client, "/profile")}
    )
    assert "Your API token was created." in first.get_data(as_text=True)
    assert "no longer works" not in first.get_data(as_text=True)
    second = host_client.post(
        "/profile/token", data={"csrf_token": csrf_token(host_client, "/profile")}
    )
    assert "the previous one no longer works" in second.get_data(as_text=True)


def test_rotating_again_invalidates_the_old_token(app, host_user):
    first = accounts.rotate_token(host_user)
    second = accounts.rotate_token(host_user)
    assert accounts.user_by_token(first) is None
    assert accounts.user_by_token(second).id == host_user.id


def test_token_rotation_without_csrf_is_refused(host_client, host_user):
    assert host_client.post("/profile/token").status_code == 400
    db.session.refresh(host_user)
    assert host_user.api_token_hash is None


def test_change_password(app, host_client, host_user):
    token = csrf_token(host_client, "/profile")
    data = {
        "csrf_token": token,
        "current_password": PASSWORD,
        "new_password": "a much better secret",
        "confirm": "a much better secret",
    }
    response = host_client.post("/profile/password", data=data)
    assert response.status_code == 302
    db.session.refresh(host_user)
    assert host_user.check_password("a much better secret")


def test_change_password_errors_are_shown_next_to_fields(app, host_client, host_user):
    token = csrf_token(host_client, "/profile")
    data = {
        "csrf_token": token,
        "current_password": "wrong one",
        "new_password": "short",
        "confirm": "short",
    }
    html = host_client.post("/profile/password", data=data).get_data(as_text=True)
    assert "The current password is incorrect." in html
    db.session.refresh(host_user)
    assert host_user.check_password(PASSWORD)
    data.update(current_password=PASSWORD)
    html = host_client.post("/profile/password", data=data).get_data(as_text=True)
    assert "at least 10 characters" in html
    db.session.refresh(host_user)
    assert host_user.check_password(PASSWORD)


def test_profile_requires_login(anon_client):
    response = anon_client.get("/profile")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_html_in_a_name_is_escaped(app):
    user = make_user(Role.ADMIN, name="<script>alert(1)</script>")
    html = app.test_client(user=user).get("/profile").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
