"""RQ entry points that sweep access for many visits at once."""

from flask import current_app

from jobs import job
from portal.hikvision import client_for
from portal.services import expiry


@job
def expire_visits():
    """Take access away from every visit whose window ended (run every minute)."""
    return expiry.expire_visits(client_for(current_app))
