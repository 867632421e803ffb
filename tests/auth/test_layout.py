"""The shared layout: navigation by role, links to missing pages hidden, macros."""

import pytest
from flask import render_template_string
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired

from portal.auth.roles import role_required
from portal.layout import nav_url
from portal.models import VisitState
from tests.fixtures.app import csrf_token
from tests.fixtures.factories import make_user


def nav(client):
    html = client.get("/profile").get_data(as_text=True)
    return html[html.index('<nav class="nav"') : html.index("</nav>")]


def test_host_nav(host_client):
    links = nav(host_client)
    assert 'href="/visits"' in links and 'href="/visits/new"' in links
    assert 'href="/events"' not in links and "/admin/" not in links
    assert 'action="/logout"' in links and 'name="csrf_token"' in links


def test_organizer_sees_events(organizer_client):
    assert 'href="/events"' in nav(organizer_client)


def test_admin_sees_everything_that_exists(admin_client):
    links = nav(admin_client)
    for href in ("/visits", "/events", "/jobs", "/admin/users", "/admin/connection"):
        assert f'href="{href}"' in links


def test_nav_url_hides_missing_endpoints(app):
    with app.test_request_context("/"):
        assert nav_url("no_such.endpoint") is None
        assert nav_url("no_such.endpoint", "auth.login") == "/login"


def test_flash_messages_show_with_their_category(app, admin_client, host_user):
    token = csrf_token(admin_client, "/admin/users")
    page = admin_client.post(
        f"/admin/users/{host_user.id}/disable", data={"csrf_token": token}, follow_redirects=True
    )
    assert 'class="flash flash-success"' in page.get_data(as_text=True)


@pytest.mark.parametrize("state", list(VisitState))
def test_state_badge_for_every_visit_state(app, state):
    with app.test_request_context("/"):
        html = render_template_string(
            '{% import "_macros.html" as m %}{{ m.state_badge(state) }}', state=state
        )
    assert f"badge-{state.value.replace('_', '-')}" in html
    assert "_" not in html.split(">", 1)[1]  # a label for people, not the code


def test_render_field_puts_the_error_next_to_the_field(app):
    class NameForm(FlaskForm):
        name = StringField("Name", validators=[DataRequired(message="Name is required.")])

    with app.test_request_context("/", method="POST", data={"name": ""}):
        form = NameForm(meta={"csrf": False})
        form.validate()
        html = render_template_string(
            '{% import "_macros.html" as m %}{{ m.render_field(form.name) }}', form=form
        )
    assert 'aria-invalid="true"' in html
    assert '<p class="field-error" id="name-error">Name is required.</p>' in html
    assert html.index('id="name"') < html.index("Name is required.")


def test_pagination_keeps_query_arguments(app, admin_user, db):
    make_user()
    page = db.paginate(db.select(type(admin_user)), page=1, per_page=1, error_out=False)
    with app.test_request_context("/admin/users?q=x"):
        html = render_template_string(
            '{% import "_macros.html" as m %}{{ m.pagination(page) }}', page=page
        )
    assert 'href="/admin/users?q=x&amp;page=2"' in html


@pytest.mark.fresh_app
def test_role_required_on_a_view(app, host_client, admin_client, anon_client):
    @role_required("admin")
    def secret():
        return "admins only"

    app.add_url_rule("/test-secret", "test_secret", secret)
    assert admin_client.get("/test-secret").get_data(as_text=True) == "admins only"
    assert host_client.get("/test-secret").status_code == 403
    assert anon_client.get("/test-secret").status_code == 302
