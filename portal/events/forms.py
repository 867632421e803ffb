"""Forms of the events blueprint."""

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, Optional

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class EventForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    location = StringField("Location", validators=[Optional(), Length(max=200)])
    starts_at = DateTimeLocalField("Starts", format=LOCAL_FORMAT, validators=[InputRequired()])
    ends_at = DateTimeLocalField("Ends", format=LOCAL_FORMAT, validators=[InputRequired()])
    access_level = SelectField("Access level", coerce=int, validate_choice=False)
    submit = SubmitField("Save event")
