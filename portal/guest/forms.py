"""The guest's own form on their invitation page."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField


class GuestPageForm(FlaskForm):
    photo = FileField(
        "Photo of your face",
        render_kw={"accept": "image/*", "capture": "user"},
        description="Look straight at the camera, in good light, alone in the picture.",
    )
    full_name = StringField("Your full name")
    company = StringField("Company")
    consent = BooleanField(
        "I have read the privacy notice and agree that my photo is used as it says."
    )
