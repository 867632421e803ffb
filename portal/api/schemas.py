"""Parsing of API request bodies and serialization of domain objects to JSON.

Parsers check shape and types and answer ``(fields, errors)``; the domain rules (the visit
window, the photo, a guest's e-mail) stay in the services, whose errors name the same fields.
"""

import base64
import binascii
from datetime import UTC, datetime

from flask import url_for

from portal.bounds import db_int
from portal.i18n import N_
from portal.services.invitations import current_invitation

GUEST_FIELDS = ("full_name", "email", "phone", "company", "language")
# The services name guest fields without their "guest." prefix.
SERVICE_FIELD_NAMES = {name: f"guest.{name}" for name in GUEST_FIELDS}


def iso(value):
    """An aware datetime as ISO 8601 in UTC with its offset, or None."""
    return value.astimezone(UTC).isoformat() if value is not None else None


def parse_datetime(value):
    """``(aware UTC datetime, None)`` from ISO 8601 with an offset, else ``(None, message)``."""
    if not isinstance(value, str):
        return None, N_("Must be an ISO 8601 date-time string, e.g. 2030-01-31T09:00:00+03:00.")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None, N_("Is not an ISO 8601 date-time, e.g. 2030-01-31T09:00:00+03:00.")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None, N_("Must include a UTC offset, e.g. +03:00 or Z.")
    return parsed.astimezone(UTC), None


def text_field(value):
    """``(value, error)``: text fields take a string or null (the service cleans and checks it)."""
    if value is None or isinstance(value, str):
        return value, None
    return None, N_("Must be a string.")


def _parse_guest(guest, fields, errors):
    if guest is None:
        errors["guest"] = N_("This field is required.")
        return
    if not isinstance(guest, dict):
        errors["guest"] = N_("Must be an object with full_name, email, phone and company.")
        return
    for name in GUEST_FIELDS:
        fields[name], error = text_field(guest.get(name))
        if error:
            errors[f"guest.{name}"] = error


def _parse_access_level(value, fields, errors):
    """The id as an int; whether such an active level exists is the service's question."""
    if value is None:
        errors["access_level"] = N_("This field is required.")
        return
    value = db_int(value)  # multipart fields are strings; ids beyond the database's are none
    if value is None:
        errors["access_level"] = N_("Must be the id (an integer) of an access level.")
        return
    fields["access_level"] = value


def parse_window(data, fields, errors, *, required=True):
    """Parse ``starts_at``/``ends_at`` of ``data`` into ``fields``, problems into ``errors``."""
    for name in ("starts_at", "ends_at"):
        if data.get(name) is None:
            if required:
                errors[name] = N_("This field is required.")
            continue
        fields[name], error = parse_datetime(data[name])
        if error:
            errors[name] = error


def decode_photo(value):
    """``(bytes or None, error)`` from a base64 string (a data: URL prefix is accepted)."""
    if value is None or value == "":
        return None, None
    if not isinstance(value, str):
        return None, N_("Must be a base64-encoded image string.")
    if value.startswith("data:") and "," in value:
        value = value.split(",", 1)[1]
    try:
        return base64.b64decode("".join(value.split()), validate=True), None
    except (binascii.Error, ValueError):
        return None, N_("Is not valid base64.")


def parse_visit_payload(data, photo=None):
    """``(fields, errors)`` for a new visit from a JSON object (``photo`` overrides its base64)."""
    if not isinstance(data, dict):
        return {}, {"body": N_("Must be a JSON object.")}
    fields, errors = {}, {}
    _parse_guest(data.get("guest"), fields, errors)
    parse_window(data, fields, errors)
    fields["purpose"], error = text_field(data.get("purpose"))
    if error:
        errors["purpose"] = error
    _parse_access_level(data.get("access_level"), fields, errors)
    if photo is None:
        photo, error = decode_photo(data.get("photo"))
        if error:
            errors["photo"] = error
    fields["photo"] = photo
    fields["invite"], error = parse_flag(data.get("invite"))
    if error:
        errors["invite"] = error
    return fields, errors


def parse_flag(value):
    """``(bool, error)`` of an optional boolean (JSON true/false, or "true"/"false" in a form)."""
    if value is None or isinstance(value, bool):
        return bool(value), None
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "false", "0", ""}:
        return value.strip().lower() in {"true", "1"}, None
    return False, "Must be true or false."


def form_to_payload(form):
    """The JSON shape of a multipart visit form: guest fields as ``guest.x`` or plain ``x``."""
    guest = {name: form.get(f"guest.{name}", form.get(name)) for name in GUEST_FIELDS}
    payload = {"guest": guest}
    for name in ("starts_at", "ends_at", "purpose", "access_level", "invite"):
        payload[name] = form.get(name)
    return payload


def parse_window_payload(data):
    """``(fields, errors)`` for a change of a visit's window: starts_at and/or ends_at."""
    if not isinstance(data, dict):
        return {}, {"body": N_("Must be a JSON object.")}
    fields, errors = {}, {}
    unknown = sorted(set(data) - {"starts_at", "ends_at"})
    for name in unknown:
        errors[name] = N_("Cannot be changed; only starts_at and ends_at can.")
    parse_window(data, fields, errors, required=False)
    if not fields and not errors:
        errors["body"] = N_("Give starts_at, ends_at or both.")
    return fields, errors


def service_fields(errors):
    """The API names of the fields in a service's validation errors."""
    return {SERVICE_FIELD_NAMES.get(name, name): message for name, message in errors.items()}


def job_link(job):
    """``{"id", "url"}`` of a JobRecord, or None."""
    if job is None:
        return None
    return {"id": job.id, "url": url_for("api.get_job", job_id=job.id)}


def visit_to_dict(visit, job=None):
    """A visit as the API shows it; ``job`` is its latest JobRecord (or None)."""
    guest = visit.guest
    return {
        "id": visit.id,
        "state": visit.state,
        "state_reason": visit.state_reason,
        "guest": {name: getattr(guest, name) for name in GUEST_FIELDS},
        "starts_at": iso(visit.starts_at),
        "ends_at": iso(visit.ends_at),
        "purpose": visit.purpose,
        "access_level": visit.access_level_id,
        "person_code": visit.person_code,
        "hik_person_id": visit.hik_person_id,
        # HikCentral kept another window than the visit's (read back after a change).
        "window_not_applied": bool(visit.window_not_applied),
        "checked_in_at": iso(visit.checked_in_at),
        "checked_out_at": iso(visit.checked_out_at),
        "job": job_link(job),
        "invitation": invitation_to_dict(current_invitation(visit)),
    }


def invitation_to_dict(invitation):
    """The latest invitation of a visit as the API shows it (never its link), or None."""
    if invitation is None:
        return None
    return {
        "state": invitation.state,
        "mail": invitation.mail_state,
        "mail_error": invitation.mail_error,
        "sent_at": iso(invitation.sent_at),
        "expires_at": iso(invitation.expires_at),
        "used_at": iso(invitation.used_at),
    }


def access_level_to_dict(level):
    """An access level as the API shows it."""
    return {"id": level.id, "hik_id": level.hik_id, "name": level.name}
