"""Forms of the admin blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Length

from portal.layout import ROLE_LABELS as ROLE_WORDS
from portal.models import Role

ROLE_LABELS = [(role.value, ROLE_WORDS[role.value]) for role in Role]
ROLE_CHOICES = [SelectChoice(value, label) for value, label in ROLE_LABELS]


class UserCreateForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(
        _l("Email"),
        # The address itself is checked by the accounts service (internal domains allowed).
        validators=[DataRequired(), Length(max=254)],
    )
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default=Role.HOST.value)
    password = PasswordField(
        _l("Password"), validators=[DataRequired()], description=_l("At least 10 characters.")
    )
    submit = SubmitField(_l("Add user"))


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


class ActionForm(FlaskForm):
    """A button with only the CSRF token (enable, disable, sync)."""


class CheckForm(FlaskForm):
    """The connection self-test; ``write`` also enrolls and deletes a test person."""

    write = BooleanField(_l("Also enroll and delete a test person"))
    submit = SubmitField(_l("Run the self-test"))
