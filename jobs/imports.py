"""RQ entry points for an event's guest list: load the import by id, call its service."""

from flask import current_app
from rq import get_current_job

from jobs import job, public_error, report_progress
from portal.hikvision import client_for
from portal.hikvision.errors import HikvisionError
from portal.models import ImportState
from portal.services import enrollment, import_enrollment, imports
from portal.services.jobs import JobFailure


def _staging_stopped(import_id, *, error):
    """The last attempt failed unexpectedly: the import ends failed with the job's sentence."""
    if isinstance(error, JobFailure):
        return  # the service recorded it on the import
    guest_import = imports.load_import(import_id)
    if guest_import.state == ImportState.STAGING:
        imports.fail_staging(guest_import, public_error(error))


@job(on_give_up=_staging_stopped)
def stage_import(import_id):
    """Read and check the uploaded guest sheet and photos of the import."""
    return imports.stage_import(imports.load_import(import_id))


def _give_up(import_id, *, error):
    """The last attempt failed: guests still waiting end failed and can be retried."""
    if isinstance(error, JobFailure):
        return
    guest_import = imports.load_import(import_id)
    transient = isinstance(error, HikvisionError) and error.transient
    import_enrollment.give_up(
        guest_import, enrollment.HIKCENTRAL_DOWN if transient else enrollment.UNEXPECTED
    )


@job(on_give_up=_give_up)
def enroll_import(import_id):
    """Enroll every guest of the confirmed import on HikCentral."""
    guest_import = imports.load_import(import_id)
    rq_job = get_current_job()
    return import_enrollment.enroll_import(
        guest_import,
        client_for(current_app),
        report=report_progress,
        job_id=rq_job.id if rq_job is not None else None,
    )
