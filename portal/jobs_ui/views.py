"""Views of the jobs_ui blueprint: the job list, one job with live progress, its JSON twin."""

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.auth.roles import role_required
from portal.extensions import db
from portal.models import JobRecord, JobState, Role, utcnow
from portal.page_errors import service_errors
from portal.services import jobs as job_service

bp = Blueprint("jobs_ui", __name__)

PER_PAGE = 25


def load_job(job_id):
    """The job if the current user may see it; 404 otherwise (existence is not revealed)."""
    record = db.get_or_404(JobRecord, job_id)
    if not job_service.can_view(current_user, record):
        abort(404)
    return record


@bp.get("/jobs")
@role_required(Role.HOST)
def index():
    state = request.args.get("state") or None
    if state not in set(JobState):
        state = None
    page = db.paginate(
        job_service.visible_jobs(current_user, state=state), per_page=PER_PAGE, error_out=False
    )
    return render_template(
        "jobs_ui/index.html",
        page=page,
        state=state,
        states=list(JobState),
        now=utcnow(),
        duration=job_service.duration_seconds,
        subject_url=job_service.subject_url,
        sees_all=job_service.sees_all_jobs(current_user),
    )


@bp.get("/jobs/<int:job_id>")
@role_required(Role.HOST)
def detail(job_id):
    record = load_job(job_id)
    return render_template(
        "jobs_ui/show.html",
        job=record,
        now=utcnow(),
        duration=job_service.duration_seconds(record, utcnow()),
        subject_url=job_service.subject_url(record),
        can_retry=job_service.can_retry(current_user, record),
        items=(record.result or {}).get("items") if isinstance(record.result, dict) else None,
    )


@bp.get("/jobs/<int:job_id>.json")
@role_required(Role.HOST)
def job_json(job_id):
    response = jsonify(job_service.job_to_dict(load_job(job_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/jobs/<int:job_id>/retry")
@role_required(Role.HOST)
def retry(job_id):
    record = load_job(job_id)
    if not job_service.can_retry(current_user, record):
        abort(403)
    with service_errors() as refusal:
        new = job_service.retry_job(record, by=current_user)
        flash(_("The job was queued again."), "success")
    return redirect(url_for(".detail", job_id=record.id if refusal.error else new.id))
