"""Forms of the admin blueprint."""

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

from portal.models import Role

ROLE_LABELS = [(role.value, role.value.capitalize()) for role in Role]
ROLE_CHOICES = [SelectChoice(value, label) for value, label in ROLE_LABELS]


class UserCreateForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    email = EmailField(
        "Email",
        # The address itself is checked by the accounts service (internal domains allowed).
        validators=[DataRequired(), Length(max=254)],
    )
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.HOST.value)
    password = PasswordField(
        "Password", validators=[DataRequired()], description="At least 10 characters."
    )
    submit = SubmitField("Add user")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


class ActionForm(FlaskForm):
    """A button with only the CSRF token (enable, disable, sync)."""


class CheckForm(FlaskForm):
    """The connection self-test; ``write`` also enrolls and deletes a test person."""

    write = BooleanField("Also enroll and delete a test person")
    submit = SubmitField("Run the self-test")
