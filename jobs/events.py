"""RQ entry points for an event's guests: load the event by id, call the event_guests service."""

from flask import current_app

from jobs import job, report_progress
from portal.extensions import db
from portal.hikvision import client_for
from portal.i18n import N_
from portal.models import Event
from portal.services import event_guests
from portal.services.jobs import JobFailure


def _load_event(event_id):
    event = db.session.get(Event, event_id)
    if event is None:
        raise JobFailure(N_("Event %(id)d no longer exists.") % {"id": event_id})
    return event


@job
def update_event_guests(event_id, window=True, level_change=None):
    """Give HikCentral the event's window and access level for the guests who follow them."""
    event = _load_event(event_id)
    client = client_for(current_app)
    return event_guests.update_guests(
        event, client, report=report_progress, window=window, level_change=level_change
    )


@job
def revoke_event_guests(event_id, visit_ids):
    """Remove the guests cancelled with the event from HikCentral."""
    event = _load_event(event_id)
    client = client_for(current_app)
    return event_guests.revoke_guests(event, visit_ids, client, report=report_progress)
