"""/admin/users: role checks, adding users, roles, enabling and disabling."""

import pytest

from portal.extensions import db
from portal.models import Role, User
from portal.services import accounts
from tests.fixtures.app import csrf_token
from tests.fixtures.factories import make_user

ADMIN_PAGES = ["/admin/users", "/admin/connection"]


@pytest.mark.parametrize("page", ADMIN_PAGES)
@pytest.mark.parametrize("client_name", ["host_client", "organizer_client", "security_client"])
def test_non_admins_get_403(request, page, client_name):
    client = request.getfixturevalue(client_name)
    response = client.get(page)
    assert response.status_code == 403
    assert "You do not have access to this page." in response.get_data(as_text=True)


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_anonymous_is_sent_to_login(anon_client, page):
    response = anon_client.get(page)
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_non_admin_cannot_post_admin_actions(app, host_client, host_user):
    other = make_user(Role.HOST)
    token = csrf_token(host_client, "/profile")
    response = host_client.post(
        f"/admin/users/{other.id}/role", data={"csrf_token": token, "role": "admin"}
    )
    assert response.status_code == 403
    db.session.refresh(other)
    assert other.role == Role.HOST


def test_admin_lists_users(admin_client, admin_user, host_user):
    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert host_user.email in html and admin_user.email in html
    assert "(you)" in html


def test_nav_shows_admin_links_to_admins_only(admin_client, host_client):
    admin_html = admin_client.get("/profile").get_data(as_text=True)
    host_html = host_client.get("/profile").get_data(as_text=True)
    assert 'href="/admin/users"' in admin_html and 'href="/admin/connection"' in admin_html
    assert "/admin/" not in host_html


def add_user(client, **fields):
    data = {"name": "New Person", "email": "new@example.test", "role": "organizer"}
    data["password"] = "a long enough secret"
    data.update(fields)
    data["csrf_token"] = csrf_token(client, "/admin/users")
    return client.post("/admin/users", data=data)


def test_admin_adds_a_user(admin_client):
    response = add_user(admin_client)
    assert response.status_code == 302
    user = accounts.find_user("new@example.test")
    assert user.role == Role.ORGANIZER and user.check_password("a long enough secret")
    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert "was added as organizer" in html


def test_add_user_errors_are_shown_next_to_the_field(admin_client, host_user):
    response = add_user(admin_client, email=host_user.email.upper())
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f"A user with the email {host_user.email} already exists." in html
    response = add_user(admin_client, password="short")
    assert "at least 10 characters" in response.get_data(as_text=True)
    response = add_user(admin_client, role="wizard")
    assert response.status_code == 400
    assert db.session.query(User).count() == 2


def test_add_user_without_csrf_is_refused(admin_client):
    data = {"name": "X", "email": "x@example.test", "role": "host", "password": "long enough pw"}
    assert admin_client.post("/admin/users", data=data).status_code == 400
    assert accounts.find_user("x@example.test") is None


def test_admin_changes_a_role(admin_client, host_user):
    token = csrf_token(admin_client, "/admin/users")
    response = admin_client.post(
        f"/admin/users/{host_user.id}/role", data={"csrf_token": token, "role": "security"}
    )
    assert response.status_code == 302
    db.session.refresh(host_user)
    assert host_user.role == Role.SECURITY


def test_admin_cannot_demote_themselves(admin_client, admin_user):
    token = csrf_token(admin_client, "/admin/users")
    response = admin_client.post(
        f"/admin/users/{admin_user.id}/role",
        data={"csrf_token": token, "role": "host"},
        follow_redirects=True,
    )
    assert "You cannot change your own role." in response.get_data(as_text=True)
    db.session.refresh(admin_user)
    assert admin_user.role == Role.ADMIN


def test_admin_cannot_disable_themselves(admin_client, admin_user):
    token = csrf_token(admin_client, "/admin/users")
    response = admin_client.post(
        f"/admin/users/{admin_user.id}/disable", data={"csrf_token": token}, follow_redirects=True
    )
    assert "You cannot disable your own account." in response.get_data(as_text=True)
    db.session.refresh(admin_user)
    assert admin_user.active


def test_disable_and_enable_a_user(app, admin_client, host_user):
    accounts.rotate_token(host_user)
    token = csrf_token(admin_client, "/admin/users")
    response = admin_client.post(f"/admin/users/{host_user.id}/disable", data={"csrf_token": token})
    assert response.status_code == 302
    db.session.refresh(host_user)
    assert not host_user.active and host_user.api_token_hash is None
    assert accounts.authenticate(host_user.email, "correct horse battery") is None
    admin_client.post(f"/admin/users/{host_user.id}/enable", data={"csrf_token": token})
    db.session.refresh(host_user)
    assert host_user.active
    assert accounts.authenticate(host_user.email, "correct horse battery").id == host_user.id


def test_unknown_user_is_404(admin_client):
    token = csrf_token(admin_client, "/admin/users")
    assert (
        admin_client.post("/admin/users/999/disable", data={"csrf_token": token}).status_code == 404
    )


def test_html_in_a_user_name_is_escaped_on_the_users_page(admin_client):
    make_user(Role.HOST, name="<script>alert('x')</script>")
    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(" in html
