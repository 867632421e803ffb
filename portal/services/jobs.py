"""Job history: what job pages and the API show, who may see and retry a job."""

from flask import url_for
from sqlalchemy import or_, select

from portal.extensions import db
from portal.i18n import N_
from portal.models import AuditAction, JobRecord, JobState, Role, Visit
from portal.queue import enqueue_again
from portal.services import audit
from portal.services import visits as visit_rules

# Why a job stopped or waits for a retry when HikCentral did not answer (workers, enrollment).
HIKCENTRAL_DOWN = N_("HikCentral did not answer; try again later.")

# A job's subject type -> the endpoint of the page that shows it, and that page's id argument.
SUBJECT_PAGES = {
    "visit": ("visits.show", "visit_id"),
    "import": ("events.show_import", "import_id"),
    "event": ("events.show", "event_id"),
}


class JobFailure(Exception):
    """A permanent failure of a job; the message is one sentence for the person who started it.

    Jobs raise it (after recording what they could) to stop without retries; ``result`` is kept
    on the JobRecord next to the message.
    """

    transient = False

    def __init__(self, message, *, result=None):
        super().__init__(message)
        self.message = message
        self.result = result


def _iso(value):
    return value.isoformat() if value is not None else None


def subject_url(record):
    """The page of the job's subject (a visit, an import...), or None."""
    page = SUBJECT_PAGES.get(record.subject_type or "")
    if page is None or record.subject_id is None:
        return None
    endpoint, argument = page
    return url_for(endpoint, **{argument: record.subject_id})


def job_to_dict(record):
    """The JSON form of a job, shared by /jobs/<id>.json and /api/v1/jobs/<id>."""
    return {
        "id": record.id,
        "kind": record.kind,
        "state": record.state,
        "progress": {
            "done": record.progress_done,
            "failed": record.progress_failed,
            "total": record.progress_total,
        },
        "result": record.result,
        "error": record.error,
        "url": url_for("jobs_ui.detail", job_id=record.id),
        "subject": {
            "type": record.subject_type,
            "id": record.subject_id,
            "url": subject_url(record),
        }
        if record.subject_type
        else None,
        "created_at": _iso(record.created_at),
        "started_at": _iso(record.started_at),
        "ended_at": _iso(record.ended_at),
    }


def sees_all_jobs(user):
    return user.can(Role.SECURITY)


def _about_own_visit(user):
    """A condition: the job is about one of ``user``'s visits."""
    own_visits = select(Visit.id).where(Visit.host_id == user.id)
    return (JobRecord.subject_type == "visit") & JobRecord.subject_id.in_(own_visits)


def visible_jobs(user, state=None):
    """Jobs ``user`` may see, newest first: all for security/admin, else as ``can_view``."""
    # A host follows every job about their visits, e.g. an admin's cancel of one.
    query = select(JobRecord).order_by(JobRecord.created_at.desc(), JobRecord.id.desc())
    if not sees_all_jobs(user):
        query = query.where(or_(JobRecord.created_by_id == user.id, _about_own_visit(user)))
    if state:
        query = query.where(JobRecord.state == state)
    return query


def can_view(user, record):
    """Security and admin see every job; others the jobs they started or about visits they see."""
    if sees_all_jobs(user) or record.created_by_id == user.id:
        return True
    if record.subject_type != "visit" or record.subject_id is None:
        return False
    visit = db.session.get(Visit, record.subject_id)
    return visit is not None and visit_rules.can_view(user, visit)


def can_retry(user, record):
    """Failed jobs may be retried by whoever started them, and by admins."""
    if record.state != JobState.FAILED or not (record.call or {}).get("func"):
        return False
    return user.can(Role.ADMIN) or record.created_by_id == user.id


def retry_job(record, *, by):
    """Enqueue the failed job's function and arguments again as a new job."""
    if not can_retry(by, record):
        raise PermissionError("this job cannot be retried by this user")
    audit.record(AuditAction.JOB_RETRIED, record, by=by, details=record.kind)
    return enqueue_again(record, created_by=by)  # commits the entry with the new job record


def duration_seconds(record, now):
    """How long the job ran (or has been running), in seconds; None before it started."""
    if record.started_at is None:
        return None
    return max(0.0, ((record.ended_at or now) - record.started_at).total_seconds())
