"""Helpers for the passage tests: synced doors, enrolled visits on the simulator, a fake client."""

from datetime import UTC, datetime, timedelta

from portal.extensions import db
from portal.hikvision import operations as ops
from portal.hikvision.errors import HikvisionError
from portal.models import AccessLevel, Door, VisitState, utcnow
from portal.services import enrollment, sync
from tests.fixtures.factories import make_visit

DOOR_EVENTS = "/artemis/api/acs/v1/door/events"


def sync_site(client):
    """Copy the simulator's access levels and doors; returns {hik_id: Door}."""
    sync.sync_access_levels_and_doors(client)
    return {door.hik_id: door for door in db.session.scalars(db.select(Door))}


def level(hik_id="2"):
    """A synced access level ("2" covers all four doors of the simulator, "1" doors 1 and 2)."""
    return db.session.scalar(db.select(AccessLevel).where(AccessLevel.hik_id == hik_id))


def enrolled_visit(
    client,
    host,
    access_level,
    *,
    starts_in=timedelta(hours=-1),
    length=timedelta(hours=4),
    **fields,
):
    """A visit whose guest is enrolled on the simulator (face, validity, access level)."""
    visit = make_visit(host, access_level, starts_in=starts_in, length=length, **fields)
    [added] = ops.ensure_persons(client, [enrollment.person_spec(visit)])
    assert added.ok, added
    [granted] = ops.grant(client, access_level.hik_id, [added.person_id])
    assert granted.ok, granted
    visit.hik_person_id = added.person_id
    visit.state = VisitState.ENROLLED.value
    db.session.commit()
    return visit


def door_event_calls(sim):
    return sim.stats()["calls"].get(DOOR_EVENTS, 0)


def event(event_id, *, person="55", door="1", in_out=1, at=None, event_type=196893, **fields):
    """One door/events item as HikCentral lists it."""
    at = at or utcnow()
    item = {
        "eventId": str(event_id),
        "eventTime": at.astimezone(UTC).replace(microsecond=0).isoformat(),
        "eventType": event_type,
        "personId": person,
        "doorIndexCode": door,
        "inAndOutType": in_out,
    }
    item.update(fields)
    return {k: v for k, v in item.items() if v is not None}


class FakeClient:
    """Answers door/events from a script: {(event_type, page_no): items}, or raises.

    ``fail_on`` maps a call number (1-based) to an exception to raise on that call; ``on_call``
    runs before each answer (to steal the lock, say). Every call body is kept in ``calls``.
    """

    def __init__(self, pages=None, *, totals=None, fail_on=None, on_call=None):
        self.pages = pages or {}
        self.totals = totals or {}
        self.fail_on = fail_on or {}
        self.on_call = on_call
        self.calls = []

    def call(self, path, body=None, *, retry=True):
        assert path == DOOR_EVENTS, path
        self.calls.append(body)
        if self.on_call is not None:
            self.on_call(len(self.calls), body)
        failure = self.fail_on.get(len(self.calls))
        if isinstance(failure, HikvisionError):
            raise failure
        key = (body["eventType"], body["pageNo"])
        items = self.pages.get(key, [])
        total = self.totals.get(body["eventType"], len(items))
        data = {"total": total, "pageNo": body["pageNo"], "pageSize": body["pageSize"]}
        if items:
            data["list"] = items
        return data


def aware(*args):
    return datetime(*args, tzinfo=UTC)
