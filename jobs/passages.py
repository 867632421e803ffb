"""RQ entry point of passage monitoring (architecture.md, flow 6), run by the scheduler."""

from flask import current_app

from jobs import job
from portal.hikvision import client_for
from portal.queue import redis_connection
from portal.services import passages


@job
def monitor_passages():
    """One lock-protected poll of HikCentral's door events for every visitor at once."""
    return passages.monitor(client_for(current_app), redis_connection())
