"""Pages show a service's refusal one way: beside its field, or flashed when there is none."""

from flask import get_flashed_messages, render_template_string
from flask_wtf import FlaskForm
from wtforms import StringField

from portal.models import Role
from portal.page_errors import service_errors, show_errors
from portal.queue import QUEUE_DOWN_MESSAGE, QueueUnavailable
from portal.services.errors import FieldErrors, ServiceError
from tests.events.test_event_views import event_form
from tests.fixtures.app import client_for, csrf_token

NAME_FIELD = '{% import "_macros.html" as m %}{{ m.render_field(form.name) }}'


class NameForm(FlaskForm):
    name = StringField("Name")


def test_a_sentence_for_a_present_field_stands_beside_it(app):
    with app.test_request_context("/", method="POST"):
        form = NameForm(meta={"csrf": False})
        with service_errors(form) as refusal:
            raise FieldErrors({"name": "Give a name."})
        html = render_template_string(NAME_FIELD, form=form)
        assert get_flashed_messages() == []
    assert refusal.on_form
    assert '<p class="field-error" id="name-error">Give a name.</p>' in html


def test_a_sentence_for_a_field_the_form_lacks_is_flashed(app):
    with app.test_request_context("/", method="POST"):
        form = NameForm(meta={"csrf": False})
        with service_errors(form) as refusal:
            raise FieldErrors({"name": "Give a name.", "nickname": "No nicknames."})
        assert get_flashed_messages(with_categories=True) == [("error", "No nicknames.")]
    assert form.name.errors == ["Give a name."]
    assert refusal.on_form


def test_a_fields_own_error_comes_first(app):
    with app.test_request_context("/", method="POST"):
        form = NameForm(meta={"csrf": False})
        form.name.errors = ["Not a date."]
        assert show_errors(form, {"name": "Give a date."})
    assert form.name.errors == ["Not a date."]


def test_without_a_form_every_sentence_is_flashed(app):
    with app.test_request_context("/", method="POST"):
        with service_errors() as refusal:
            raise FieldErrors({"name": "Give a name."})
        with service_errors():
            raise ServiceError("This visit has ended.")
        with service_errors():
            raise FieldErrors({}, "You cannot disable your own account.")
        flashed = get_flashed_messages()
    assert not refusal.on_form
    assert isinstance(refusal.error, FieldErrors)
    assert flashed == [
        "Give a name.",
        "This visit has ended.",
        "You cannot disable your own account.",
    ]


def test_the_queue_being_down_is_said_as_asked(app):
    with app.test_request_context("/", method="POST"):
        with service_errors():
            raise QueueUnavailable("redis refused")
        with service_errors(queue_down="Saved; the doors follow later.", queue_category="warning"):
            raise QueueUnavailable("redis refused")
        flashed = get_flashed_messages(with_categories=True)
    assert flashed == [("error", QUEUE_DOWN_MESSAGE), ("warning", "Saved; the doors follow later.")]


def test_an_action_that_goes_through_is_not_a_refusal(app):
    with app.test_request_context("/", method="POST"):
        with service_errors() as refusal:
            pass
    assert refusal.error is None and not refusal.on_form


def test_an_event_form_shows_the_services_sentence_beside_the_field(organizer_client, access_level):
    token = csrf_token(organizer_client, "/events/new")
    data = event_form(access_level, ends_at="2001-01-01T10:00") | {"csrf_token": token}
    body = organizer_client.post("/events/new", data=data).get_data(as_text=True)
    field = body[body.index('<label for="ends_at"') :]
    assert '<p class="field-error" id="ends_at-error">' in field[: field.index("</div>")]
    assert 'class="flash flash-error"' not in body


def test_a_refusal_about_a_field_of_no_form_is_flashed(app, admin_user):
    """Changing one's own role is refused about the role field; the page has no such form."""
    client = client_for(app, admin_user)
    token = csrf_token(client, "/admin/users")
    response = client.post(
        f"/admin/users/{admin_user.id}/role",
        data={"csrf_token": token, "role": Role.HOST.value},
        follow_redirects=True,
    )
    body = response.get_data(as_text=True)
    assert '<div class="flash flash-error" role="alert">You cannot change your own role.</div>' in (
        body
    )
