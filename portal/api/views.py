"""Views of the api blueprint: the JSON API under /api/v1 (see the README), Bearer tokens only."""

from contextlib import contextmanager

from flask import Blueprint, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.api import errors
from portal.api.auth import api_user, authenticate
from portal.api.errors import ApiError
from portal.api.paging import paged
from portal.api.schemas import (
    access_level_to_dict,
    form_to_payload,
    parse_visit_payload,
    parse_window_payload,
    service_fields,
    visit_to_dict,
)
from portal.extensions import csrf, db
from portal.i18n import N_
from portal.models import AccessLevel, JobRecord, Visit, VisitState
from portal.queue import QUEUE_DOWN_MESSAGE, QueueUnavailable
from portal.services import events as event_service
from portal.services import invitations
from portal.services import jobs as job_service
from portal.services import visits as visit_service

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Tokens, not cookies, authenticate here, so there is nothing for a forged request to ride on.
csrf.exempt(bp)
bp.before_request(authenticate)
errors.register(bp)

VISIT_STATES = [state.value for state in VisitState]


def json_body():
    """The request's JSON object; 400 naming the body when it does not parse or is not one."""
    # force: a client that forgot the Content-Type still gets its JSON read, or a clear 400.
    data = request.get_json(force=True, silent=True)
    if data is None:
        raise ApiError(400, N_("The body is not valid JSON."), {"body": N_("Is not valid JSON.")})
    if not isinstance(data, dict):
        raise ApiError(
            400, N_("The body must be a JSON object."), {"body": N_("Must be a JSON object.")}
        )
    return data


def invalid(fields):
    return ApiError(400, N_("Some fields are not valid."), fields)


@contextmanager
def service_errors():
    """Turn the services' typed errors into API answers (their messages are for people)."""
    try:
        yield
    except (visit_service.VisitValidationError, event_service.EventValidationError) as error:
        raise invalid(service_fields(error.fields)) from None
    except (visit_service.VisitStateError, event_service.EventStateError) as error:
        raise ApiError(409, error.message) from None
    except QueueUnavailable:
        raise ApiError(503, QUEUE_DOWN_MESSAGE) from None


def visible_visit(visit_id):
    """The visit if the token's user may see it; 404 otherwise (even when it exists)."""
    visit = db.session.get(Visit, visit_id)
    if visit is None or not visit_service.can_view(api_user(), visit):
        raise ApiError(404, N_("No such visit."))
    return visit


def changeable_visit(visit_id):
    visit = visible_visit(visit_id)
    if not visit_service.can_change(api_user(), visit):
        raise ApiError(403, N_("You may not change this visit."))
    return visit


def visit_response(visit, job=None, status=200):
    body = visit_to_dict(visit, job if job is not None else visit_service.latest_job(visit))
    return body, status


@bp.get("/access-levels")
def list_access_levels():
    statement = (
        select(AccessLevel)
        .where(AccessLevel.active.is_(True))
        .order_by(AccessLevel.name, AccessLevel.id)
    )
    return paged(statement, lambda levels: [access_level_to_dict(level) for level in levels])


@bp.get("/visits")
def list_visits():
    statement = visit_service.visible_visits(api_user())
    state = request.args.get("state")
    if state:
        if state not in VISIT_STATES:
            raise ApiError(
                400,
                N_("The state parameter is not valid."),
                {"state": N_("Must be one of %(states)s.") % {"states": ", ".join(VISIT_STATES)}},
            )
        statement = statement.where(Visit.state == state)
    statement = statement.options(selectinload(Visit.guest)).order_by(Visit.id.desc())
    return paged(statement, visits_to_items)


def visits_to_items(visits):
    """A page of visits with their latest jobs, loaded in one query rather than one per visit."""
    ids = [visit.id for visit in visits]
    jobs = {}
    if ids:
        records = db.session.scalars(
            select(JobRecord)
            .where(JobRecord.subject_type == "visit", JobRecord.subject_id.in_(ids))
            .order_by(JobRecord.created_at, JobRecord.id)
        )
        for record in records:
            jobs[record.subject_id] = record  # the newest one wins, as in latest_job
    return [visit_to_dict(visit, jobs.get(visit.id)) for visit in visits]


def visit_payload():
    """``(fields, errors)`` from a JSON body or a multipart form with a ``photo`` file part."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("photo")
        photo = upload.read() if upload is not None and upload.filename else None
        return parse_visit_payload(form_to_payload(request.form), photo=photo)
    return parse_visit_payload(json_body())


@bp.post("/visits")
def create_visit():
    fields, problems = visit_payload()
    if problems:
        raise invalid(problems)
    with service_errors():
        visit = visit_service.register_visit(api_user(), **fields)
    body, status = visit_response(visit, status=201)
    return body, status, {"Location": url_for("api.get_visit", visit_id=visit.id)}


@bp.get("/visits/<int:visit_id>")
def get_visit(visit_id):
    return visit_response(visible_visit(visit_id))


@bp.patch("/visits/<int:visit_id>")
def change_visit(visit_id):
    visit = changeable_visit(visit_id)
    fields, problems = parse_window_payload(json_body())
    if problems:
        raise invalid(problems)
    with service_errors():
        job = visit_service.change_window(
            visit,
            fields.get("starts_at", visit.starts_at),
            fields.get("ends_at", visit.ends_at),
            by=api_user(),
        )
    return visit_response(visit, job)


@bp.delete("/visits/<int:visit_id>")
def cancel_visit(visit_id):
    visit = changeable_visit(visit_id)
    with service_errors():
        job = visit_service.cancel_visit(visit, by=api_user())
    return visit_response(visit, job)


@bp.post("/visits/<int:visit_id>/invite")
def invite_guest(visit_id):
    visit = changeable_visit(visit_id)
    with service_errors():
        invitations.invite(visit, by=api_user())
    return visit_response(visit, status=202)


@bp.get("/jobs/<int:job_id>")
def get_job(job_id):
    record = db.session.get(JobRecord, job_id)
    if record is None or not job_service.can_view(api_user(), record):
        raise ApiError(404, N_("No such job."))
    return job_service.job_to_dict(record)


# The event, import, passage and on-site endpoints register themselves on bp.
from portal.api import events, passages  # noqa: E402,F401
