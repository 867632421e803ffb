"""Forms of the events blueprint."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, StringField, SubmitField
from wtforms.validators import InputRequired, Length, Optional

from portal.bounds import db_int

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class EventForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=200)])
    location = StringField(_l("Location"), validators=[Optional(), Length(max=200)])
    starts_at = DateTimeLocalField(_l("Starts"), format=LOCAL_FORMAT, validators=[InputRequired()])
    ends_at = DateTimeLocalField(_l("Ends"), format=LOCAL_FORMAT, validators=[InputRequired()])
    # An unknown or out-of-range id becomes 0, which the view explains as "choose a level".
    access_level = SelectField(
        _l("Access level"), coerce=lambda value: db_int(value) or 0, validate_choice=False
    )
    submit = SubmitField(_l("Save event"))
