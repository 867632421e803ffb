"""RQ entry point that follows delivery to the doors: deferred, batched checks and re-applies."""

from flask import current_app

from jobs import job
from portal.hikvision import client_for
from portal.services import delivery


@job
def follow_deliveries():
    """Run every delivery check and re-application that is due, in batches."""
    return delivery.follow_deliveries(client_for(current_app))
