"""API endpoints for events and their guest list imports (see the README), on the api blueprint."""

from flask import jsonify, request, url_for

from portal.api.auth import api_user, require_role
from portal.api.errors import ApiError
from portal.api.schemas import iso, job_link, parse_window, text_field
from portal.api.views import bp, invalid, json_body, service_errors
from portal.bounds import db_int
from portal.extensions import db
from portal.i18n import N_, shown
from portal.models import AccessLevel, Event, GuestImport, Role
from portal.queue import QUEUE_DOWN_MESSAGE, QueueUnavailable
from portal.services import events as event_service
from portal.services import import_enrollment
from portal.services import imports as import_service

FAILED_LISTED = 200


def event_to_dict(event):
    """An event as the API shows it."""
    return {
        "id": event.id,
        "name": event.name,
        "location": event.location,
        "starts_at": iso(event.starts_at),
        "ends_at": iso(event.ends_at),
        "access_level": event.access_level_id,
        "organizer": event.organizer_id,
        "cancelled_at": iso(event.cancelled_at),
    }


def _guest_row(row):
    return {
        "row": row.row_number,
        "full_name": row.full_name,
        "email": row.email,
        "phone": row.phone,
        "company": row.company,
        "photo": row.photo_name,
        "starts_at": iso(row.starts_at),
        "ends_at": iso(row.ends_at),
    }


def _job(record):
    if record is None:
        return None
    link = job_link(record)
    progress = {
        "done": record.progress_done,
        "failed": record.progress_failed,
        "total": record.progress_total,
    }
    return {**link, "state": record.state, "progress": progress, "error": record.error}


def import_to_dict(guest_import):
    """An import as the API shows it: counts, row errors, preview, job and guests' states."""
    failed = db.session.scalars(
        import_enrollment.failed_visits(guest_import).limit(FAILED_LISTED)
    ).all()
    return {
        "id": guest_import.id,
        "event": guest_import.event_id,
        "filename": guest_import.filename,
        "state": guest_import.state,
        "reason": guest_import.state_reason,
        "rows_total": guest_import.rows_total,
        "rows_valid": guest_import.rows_valid,
        "rows_invalid": guest_import.rows_invalid,
        "rows": guest_import.errors or [],
        "warnings": guest_import.warnings or [],
        "preview": [_guest_row(row) for row in import_service.preview_rows(guest_import)],
        "job": _job(import_enrollment.import_job(guest_import)),
        "visits": import_enrollment.state_counts(guest_import),
        "failed": [
            {"visit": v.id, "full_name": v.guest.full_name, "reason": v.state_reason}
            for v in failed
        ],
        "created_at": iso(guest_import.created_at),
        "url": url_for("events.show_import", import_id=guest_import.id),
    }


def managed_event(event_id):
    require_role(Role.ORGANIZER)
    event = db.session.get(Event, event_id)
    if event is None or not event_service.can_manage(api_user(), event):
        raise ApiError(404, N_("No such event."))
    return event


def managed_import(import_id):
    require_role(Role.ORGANIZER)
    guest_import = db.session.get(GuestImport, import_id)
    if guest_import is None or not event_service.can_manage(api_user(), guest_import.event):
        raise ApiError(404, N_("No such import."))
    return guest_import


EVENT_FIELDS = ("name", "location", "starts_at", "ends_at", "access_level")


def _access_level(value, fields, errors):
    if db_int(value) is None or isinstance(value, str):
        errors["access_level"] = N_("Must be the id (an integer) of an access level.")
    else:
        # Unknown or inactive: the service says so, as the page does.
        fields["access_level"] = db.session.get(AccessLevel, value)


def _event_fields(data):
    """``(fields, errors)`` of a new event's body."""
    fields, errors = {}, {}
    for name in ("name", "location"):
        fields[name], error = text_field(data.get(name))
        if error:
            errors[name] = error
    parse_window(data, fields, errors)
    if data.get("access_level") is None:
        errors["access_level"] = N_("This field is required.")
    else:
        _access_level(data["access_level"], fields, errors)
    return fields, errors


def _event_changes(data):
    """``(fields, errors)`` of a partial change: only the fields given (null clears location)."""
    fields, errors = {}, {}
    for name in sorted(set(data) - set(EVENT_FIELDS)):
        errors[name] = N_("Cannot be changed; only %(fields)s can.") % {
            "fields": ", ".join(EVENT_FIELDS)
        }
    for name in ("name", "location"):
        if name in data:
            fields[name], error = text_field(data[name])
            if error:
                errors[name] = error
    parse_window(data, fields, errors, required=False)
    for name in ("starts_at", "ends_at", "access_level"):
        if name in data and data[name] is None:
            fields[name] = None  # the service names what is missing, as on the page
    if data.get("access_level") is not None:
        _access_level(data["access_level"], fields, errors)
    if not data:
        errors["body"] = N_("Give at least one of %(fields)s.") % {
            "fields": ", ".join(EVENT_FIELDS)
        }
    return fields, errors


@bp.post("/events")
def create_event():
    require_role(Role.ORGANIZER)
    fields, errors = _event_fields(json_body())
    if errors:
        raise invalid(errors)
    with service_errors():
        event = event_service.create_event(api_user(), **fields)
    return event_to_dict(event), 201


def change_response(change, **counts):
    """An event change: the event, its guests' counts and the job; 202 when a job started."""
    body = {**event_to_dict(change.event), **counts, "job": _job(change.job)}
    return body, 202 if change.job else 200


@bp.patch("/events/<int:event_id>")
def change_event(event_id):
    event = managed_event(event_id)
    fields, errors = _event_changes(json_body())
    if errors:
        raise invalid(errors)
    current = {name: getattr(event, name) for name in EVENT_FIELDS}
    with service_errors():
        change = event_service.update_event(event, **{**current, **fields}, by=api_user())
    return change_response(change, moved=change.guests, relevelled=change.relevelled)


@bp.post("/events/<int:event_id>/cancel")
def cancel_event(event_id):
    event = managed_event(event_id)
    with service_errors():
        change = event_service.cancel_event(event, by=api_user())
    return change_response(change, cancelled=change.guests)


def _sheet_error(message, field, rows=()):
    message = shown(message)
    response = jsonify(error=message, fields={field: message}, rows=list(rows))
    response.status_code = 400
    return response


@bp.post("/events/<int:event_id>/imports")
def upload_import(event_id):
    event = managed_event(event_id)
    if request.mimetype != "multipart/form-data":
        return _sheet_error(
            N_("Send the guest sheet as multipart/form-data with a file part named file."), "file"
        )
    try:
        guest_import = import_service.upload_import(
            event, api_user(), request.files.get("file"), request.files.get("photos")
        )
    except import_service.ImportFileError as error:
        return _sheet_error(error.message, error.field, error.rows)
    except QueueUnavailable:
        raise ApiError(503, QUEUE_DOWN_MESSAGE) from None
    # Accepted: its job checks the files; GET the Location until "state" leaves "staging".
    location = url_for("api.get_import", import_id=guest_import.id)
    return import_to_dict(guest_import), 202, {"Location": location}


@bp.get("/imports/<int:import_id>")
def get_import(import_id):
    return import_to_dict(managed_import(import_id))


def _act(action, guest_import):
    try:
        action(guest_import, api_user())
    except import_service.ImportStateError as error:
        raise ApiError(409, error.message) from None
    except QueueUnavailable:
        raise ApiError(503, QUEUE_DOWN_MESSAGE) from None
    db.session.expire_all()
    return import_to_dict(db.session.get(GuestImport, guest_import.id))


@bp.post("/imports/<int:import_id>/confirm")
def confirm_import(import_id):
    return _act(import_service.confirm_import, managed_import(import_id))


@bp.post("/imports/<int:import_id>/retry")
def retry_import(import_id):
    return _act(import_service.retry_failed, managed_import(import_id))
