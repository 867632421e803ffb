"""RQ entry points for one visit: load it by id, call the enrollment service (flows 2 and 4)."""

from flask import current_app
from rq import get_current_job

from jobs import job
from portal.hikvision import client_for
from portal.hikvision.errors import HikvisionError
from portal.services import enrollment
from portal.services.jobs import JobFailure


def _give_up(visit_id, *, error):
    """The last attempt failed: a visit still being enrolled ends failed and says why."""
    if isinstance(error, JobFailure):
        return  # the service already failed the visit with its own sentence
    visit = enrollment.load_visit(visit_id)
    transient = isinstance(error, HikvisionError) and error.transient
    sentence = enrollment.HIKCENTRAL_DOWN if transient else enrollment.UNEXPECTED
    enrollment.give_up(visit, sentence, job_id=_job_id())


def _job_id():
    rq_job = get_current_job()
    return rq_job.id if rq_job is not None else None


@job(on_give_up=_give_up)
def enroll_visit(visit_id):
    """Enroll the visit on HikCentral, with every other visit waiting now."""
    visit = enrollment.load_visit(visit_id)
    return enrollment.enroll_visit(visit, client_for(current_app), job_id=_job_id())


@job
def update_validity(visit_id):
    """Give HikCentral the visit's changed window."""
    visit = enrollment.load_visit(visit_id)
    return enrollment.update_validity(visit, client_for(current_app))


@job
def revoke_visit(visit_id):
    """Remove a cancelled, expired or finished visit from HikCentral."""
    visit = enrollment.load_visit(visit_id)
    return enrollment.revoke_visit(visit, client_for(current_app))


@job
def reapply_visit(visit_id):
    """Push the visit's access to the devices again."""
    visit = enrollment.load_visit(visit_id)
    return enrollment.reapply_visit(visit, client_for(current_app))
