"""RQ entry points that keep HikCentral and the queue true to the database (scheduler)."""

from flask import current_app

from jobs import job
from portal.hikvision import client_for
from portal.services import drift, recovery


@job
def reconcile():
    """Find dead workers' jobs and lost jobs, enqueue visits left waiting (every minute)."""
    return recovery.reconcile(client_for(current_app))


@job
def repair_drift():
    """Compare enrolled visits with HikCentral within the call budget and repair differences."""
    return drift.repair_drift(client_for(current_app))
