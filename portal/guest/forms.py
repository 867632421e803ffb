"""The guest's own form on their invitation page."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField


class GuestPageForm(FlaskForm):
    photo = FileField(
        _l("Photo of your face"),
        render_kw={"accept": "image/*", "capture": "user"},
        description=_l("Look straight at the camera, in good light, alone in the picture."),
    )
    full_name = StringField(_l("Your full name"))
    company = StringField(_l("Company"))
    consent = BooleanField(
        _l("I have read the privacy notice and agree that my photo is used as it says.")
    )
