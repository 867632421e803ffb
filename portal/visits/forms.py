"""Forms of the visits blueprint: they parse; the rules live in portal.services.visits."""

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateTimeLocalField,
    EmailField,
    HiddenField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import InputRequired

from portal.bounds import db_int
from portal.i18n import N_

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
WORKDAY = (9, 18)  # default visit window, local hours
PHOTO_ATTRS = {"accept": "image/*", "capture": "user"}


CHOOSE = _l("Choose…")


def _int_or_none(value):
    """Coerce a select's value; an unknown value becomes None for the service to explain."""
    if value in (None, ""):
        return None
    return db_int(value)


def _time_field(label, message):
    # ``message`` stays English (N_): a refused form's errors wait in the session, and pages
    # translate them when they show them.
    return DateTimeLocalField(label, format=DATETIME_FORMAT, validators=[InputRequired(message)])


class WindowForm(FlaskForm):
    starts_at = _time_field(_l("Starts"), N_("Enter when the visit starts."))
    ends_at = _time_field(_l("Ends"), N_("Enter when the visit ends."))


class VisitForm(WindowForm):
    full_name = StringField(_l("Guest's full name"))
    email = EmailField(_l("Email"))
    phone = TelField(_l("Phone"))
    company = StringField(_l("Company"))
    # Choices: the site's language first, then every offered one (visits.views.visit_form).
    language = SelectField(_l("Guest's language"), validate_choice=False)
    purpose = TextAreaField(_l("Purpose"), render_kw={"rows": 2})
    access_level = SelectField(_l("Access level"), coerce=_int_or_none, validate_choice=False)
    photo = FileField(
        _l("Photo of the guest's face"),
        render_kw=PHOTO_ATTRS,
        description=_l("A clear, front-facing photo. On a phone this opens the camera."),
    )
    # One-time token: the same form sent twice registers one visit (see services.submissions).
    form_nonce = HiddenField()


class GuestPhotoForm(FlaskForm):
    photo = FileField(
        _l("Photo of the guest's face"),
        render_kw=PHOTO_ATTRS,
        description=_l("If you have it, add it yourself: the guest's link then stops working."),
    )


class RetryForm(FlaskForm):
    photo = FileField(
        _l("New photo (optional)"),
        render_kw=PHOTO_ATTRS,
        description=_l("Leave empty to retry with the same photo."),
    )


def default_window(now_local):
    """Today's working hours, or from now (rounded up to 15 minutes) when that is later."""
    start = now_local.replace(hour=WORKDAY[0], minute=0, second=0, microsecond=0)
    end = now_local.replace(hour=WORKDAY[1], minute=0, second=0, microsecond=0)
    rounded = now_local.replace(second=0, microsecond=0)
    rounded += timedelta(minutes=(-rounded.minute) % 15)
    if rounded > start:
        start = rounded
    if end <= start + timedelta(hours=1):
        end = start + timedelta(hours=2)
    return _naive(start), _naive(end)


def _naive(value: datetime):
    return value.replace(tzinfo=None)
