"""API endpoints of the security desk: passages and who is on site now.

``GET /api/v1/passages?since=&until=&visit=&door=&direction=&kind=`` (newest first, paged) and
``GET /api/v1/onsite``; both need the security role, as their pages do.
"""

from flask import request, url_for
from sqlalchemy import select

from portal.api.auth import require_role
from portal.api.errors import ApiError
from portal.api.paging import page_args
from portal.api.schemas import iso, parse_datetime
from portal.api.views import bp
from portal.bounds import db_int
from portal.extensions import db
from portal.i18n import N_
from portal.models import Door, PassageKind, Role, utcnow
from portal.services import passages as passage_service

DIRECTIONS = ("in", "out", "unknown")
KINDS = tuple(kind.value for kind in PassageKind)


def passage_to_dict(passage):
    door = passage.door
    visit = passage.visit
    return {
        "id": passage.id,
        "hik_event_id": passage.hik_event_id,
        "visit_id": passage.visit_id,
        "person_id": passage.person_id,
        "door": passage.door_hik_id or (door.hik_id if door else None),
        "door_name": door.name if door else None,
        "direction": passage.direction,
        "kind": passage.kind,
        "event_type": passage.event_type,
        "manual": passage.manual,
        "note": passage.note,
        "guest": visit.guest.full_name if visit is not None else None,
        "occurred_at": iso(passage.occurred_at),
        "received_at": iso(passage.received_at),
    }


def _time_arg(name, problems):
    raw = request.args.get(name)
    if not raw:
        return None
    value, error = parse_datetime(raw)
    if error:
        problems[name] = error
    return value


def _choice_arg(name, choices, problems):
    raw = request.args.get(name)
    if not raw:
        return None
    if raw not in choices:
        problems[name] = "Must be one of " + ", ".join(choices) + "."
    return raw


def _id_arg(name, problems):
    raw = request.args.get(name)
    if not raw:
        return None
    value = db_int(raw)
    if value is None:
        problems[name] = N_("Must be an integer id.")
    return value


def _door_arg(problems):
    """The door by HikCentral index code (as items show it), else by the portal's id."""
    raw = request.args.get("door")
    if not raw:
        return None
    door = db.session.scalar(select(Door).where(Door.hik_id == raw))
    if door is None and db_int(raw) is not None:
        door = db.session.get(Door, db_int(raw))
    if door is None:
        problems["door"] = N_("No such door.")
        return None
    return door.id


def filters_from_args():
    problems = {}
    filters = passage_service.PassageFilters(
        since=_time_arg("since", problems),
        until=_time_arg("until", problems),
        visit_id=_id_arg("visit", problems),
        door_id=_door_arg(problems),
        direction=_choice_arg("direction", DIRECTIONS, problems),
        kind=_choice_arg("kind", KINDS, problems),
    )
    if problems:
        raise ApiError(400, N_("Some parameters are not valid."), problems)
    return filters


def _next_url(page, per_page, has_next):
    if not has_next:
        return None
    args = request.args.to_dict()
    args.update(page=page + 1, per_page=per_page)
    return url_for(request.endpoint, **args)


@bp.get("/passages")
def list_passages():
    require_role(Role.SECURITY)
    filters = filters_from_args()
    page, per_page = page_args()
    rows, has_next = passage_service.page_of(passage_service.passage_query(filters), page, per_page)
    return {
        "items": [passage_to_dict(p) for p in rows],
        "next": _next_url(page, per_page, has_next),
    }


def onsite_to_dict(visit, now):
    return {
        "visit_id": visit.id,
        "guest": visit.guest.full_name,
        "company": visit.guest.company,
        "host": visit.host.name,
        "event": visit.event.name if visit.event else None,
        "checked_in_at": iso(visit.checked_in_at),
        "starts_at": iso(visit.starts_at),
        "ends_at": iso(visit.ends_at),
        "overstay": passage_service.is_overstay(visit, now),
        "url": url_for("api.get_visit", visit_id=visit.id),
    }


@bp.get("/onsite")
def list_onsite():
    require_role(Role.SECURITY)
    now = utcnow()
    visits = passage_service.on_site(now)
    page, per_page = page_args()
    chunk = visits[(page - 1) * per_page : page * per_page]
    has_next = len(visits) > page * per_page
    return {
        "items": [onsite_to_dict(v, now) for v in chunk],
        "count": len(visits),
        "overstays": sum(passage_service.is_overstay(v, now) for v in visits),
        "next": _next_url(page, per_page, has_next),
    }
