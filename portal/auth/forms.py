"""Forms of the auth blueprint."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired()])
    submit = SubmitField("Log in")


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField("New password", validators=[DataRequired()])
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired(), EqualTo("new_password", message="The passwords differ.")],
    )
    submit = SubmitField("Change password")


class TokenForm(FlaskForm):
    submit = SubmitField("Create new token")


class NoticesForm(FlaskForm):
    notify_guest_completed = BooleanField("My guest sent their photo")
    notify_enrollment_failed = BooleanField("Access for my guest could not be set up")
    notify_guest_arrived = BooleanField("My guest arrived")
    submit = SubmitField("Save e-mail choices")
