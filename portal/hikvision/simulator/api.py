"""The simulated OpenAPI endpoints: each handler takes the simulator and the JSON body and
returns the envelope's ``data`` or raises ``ApiError``."""

import time
from datetime import UTC, datetime, timedelta

from portal.hikvision.simulator import strict
from portal.hikvision.simulator.state import (
    DIRECTIONS,
    PASSAGE_EVENT_TYPE,
    DoorEvent,
    Person,
    default_validity,
)
from portal.hikvision.simulator.validation import (
    bad,
    decode_face,
    missing,
    page,
    paging,
    parse_time,
    require_int,
    require_str,
)

PREFIX = "/artemis/api"
MAX_EVENT_SPAN = timedelta(days=31)
MAX_DOORS_PER_SEARCH = 10
PRODUCT = {"produceName": "HikCentral Professional", "softVersion": "V2.5.1 build20240315"}
# Paths a real HCP answers with code 8 (not in this version), per the integration notes.
NOT_SUPPORTED = frozenset(
    PREFIX + p
    for p in (
        "/resource/v2/person/personList",
        "/resource/v1/person/search",
        "/resource/v1/person/photo",
        "/resource/v1/person/picture/upload",
        "/common/v1/picture/upload",
        "/acs/v1/person/picture/upload",
        "/visitor/v1/picture/upload",
    )
)

HANDLERS = {}


def endpoint(path):
    def register(func):
        HANDLERS[PREFIX + path] = func
        return func

    return register


def _paged(sim, body, listed):
    """The page ``body`` asks for of what ``listed(state)`` answers (read under the lock)."""
    page_no, page_size = paging(body)
    with sim.state.lock:
        items = listed(sim.state)
    return page(items, page_no, page_size)


@endpoint("/common/v1/version")
def version(sim, body):
    return dict(PRODUCT)


@endpoint("/resource/v1/org/orgList")
def org_list(sim, body):
    return _paged(sim, body, lambda state: [dict(org) for org in state.orgs.values()])


# --- persons ---------------------------------------------------------------------------------


def _stored(items, body, key, what):
    """``items[body[key]]``; code 128 "<what> does not exist" when there is none."""
    found = items.get(require_str(body, key))
    if found is None:
        raise missing(f"{what} does not exist")
    return found


def _person(state, body):
    return _stored(state.persons, body, "personId", "person")


def _names(body, *, optional):
    family = require_str(body, "personFamilyName", optional=optional)
    given = require_str(body, "personGivenName", optional=optional)
    return family, given


def _optional_text(body, name):
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise bad(f"{name} must be a string")
    return value


def _validity(body, begin_default=None, end_default=None):
    """The (begin, end) strings after checking format and order."""
    begin = parse_time(body, "beginTime", optional=True)
    end = parse_time(body, "endTime", optional=True)
    begin_text = body["beginTime"] if begin else begin_default
    end_text = body["endTime"] if end else end_default
    if begin_text and end_text:
        if datetime.fromisoformat(begin_text) >= datetime.fromisoformat(end_text):
            raise bad("beginTime must be earlier than endTime")
    return begin_text, end_text


def _face(body):
    faces = body.get("faces")
    if faces is None or faces == []:
        return None
    if not isinstance(faces, list) or not all(isinstance(f, dict) for f in faces):
        raise bad("faces must be a list of {faceData}")
    if len(faces) > 1:
        raise bad("only one face per person is supported")
    return decode_face(faces[0].get("faceData"), "faces[0].faceData")


@endpoint("/resource/v1/person/single/add")
def person_add(sim, body):
    strict.check_person_body(sim, body, adding=True)
    code = require_str(body, "personCode")
    family, given = _names(body, optional=False)
    org = require_str(body, "orgIndexCode")
    gender = require_int(body, "gender", optional=True, choices=(0, 1, 2)) or 0
    texts = {name: _optional_text(body, name) or "" for name in ("phoneNo", "email", "remark")}
    begin, end = _validity(
        body, *default_validity(datetime.now(UTC), sim.knobs.config.site_timezone)
    )
    face = _face(body)
    with sim.state.lock:
        state = sim.state
        if org not in state.orgs:
            raise bad("orgIndexCode does not exist")
        if code in state.codes:
            raise strict.duplicate_code(sim)
        person = Person(
            person_id=state.next_person_id(),
            person_code=code,
            family_name=family,
            given_name=given,
            org_code=org,
            begin_time=begin,
            end_time=end,
            gender=gender,
            phone=texts["phoneNo"],
            email=texts["email"],
            remark=texts["remark"],
            face=face,
            face_version=1 if face else 0,
        )
        state.persons[person.person_id] = person
        state.codes[code] = person.person_id
        return person.person_id


@endpoint("/resource/v1/person/single/update")
def person_update(sim, body):
    strict.check_person_body(sim, body, adding=False)
    code = require_str(body, "personCode", optional=True)
    family, given = _names(body, optional=True)
    org = require_str(body, "orgIndexCode", optional=True)
    gender = require_int(body, "gender", optional=True, choices=(0, 1, 2))
    texts = {name: _optional_text(body, name) for name in ("phoneNo", "email", "remark")}
    with sim.state.lock:
        state = sim.state
        person = _person(state, body)
        begin, end = _validity(body, person.begin_time, person.end_time)
        if org is not None and org not in state.orgs:
            raise bad("orgIndexCode does not exist")
        if code is not None and code != person.person_code and code in state.codes:
            raise strict.duplicate_code(sim)
        if (begin, end) != (person.begin_time, person.end_time) and strict.keeps_old_window(
            sim, person
        ):
            begin, end = person.begin_time, person.end_time
        # personPhoto / faces on update answer Success and store nothing, as HCP does.
        family, given = family or person.family_name, given or person.given_name
        before = (person.family_name, person.given_name, person.begin_time, person.end_time)
        changed = (family, given, begin, end) != before
        if code is not None and code != person.person_code:
            del state.codes[person.person_code]
            state.codes[code] = person.person_id
            person.person_code = code
        person.family_name, person.given_name = family, given
        person.begin_time, person.end_time = begin, end
        person.org_code = org or person.org_code
        person.gender = person.gender if gender is None else gender
        person.phone = person.phone if texts["phoneNo"] is None else texts["phoneNo"]
        person.email = person.email if texts["email"] is None else texts["email"]
        person.remark = person.remark if texts["remark"] is None else texts["remark"]
        if changed:
            person.changed = True
    return ""


@endpoint("/resource/v1/person/single/delete")
def person_delete(sim, body):
    with sim.state.lock:
        sim.state.delete_person(_person(sim.state, body))
    return ""


@endpoint("/resource/v1/person/personId/personInfo")
def person_by_id(sim, body):
    with sim.state.lock:
        return _person(sim.state, body).as_api()


@endpoint("/resource/v1/person/personCode/personInfo")
def person_by_code(sim, body):
    code = require_str(body, "personCode")
    with sim.state.lock:
        person = sim.state.person_by_ref(person_code=code)
        if person is None:
            raise strict.unknown_person(sim, "person does not exist")
        return person.as_api()


@endpoint("/resource/v1/person/personList")
def person_list(sim, body):
    return _paged(sim, body, lambda state: [p.as_api() for p in state.persons.values()])


@endpoint("/resource/v1/person/advance/personList")
def person_search(sim, body):
    """Filters are case-insensitive "contains" matches, as HCP's fuzzy search is."""
    code = (require_str(body, "personCode", optional=True) or "").lower()
    name = (require_str(body, "personName", optional=True) or "").lower()
    org = require_str(body, "orgIndexCode", optional=True)

    def found(state):
        return [
            p.as_api()
            for p in state.persons.values()
            if code in p.person_code.lower()
            and name in p.name.lower()
            and (org is None or p.org_code == org)
        ]

    return _paged(sim, body, found)


@endpoint("/resource/v1/person/face/update")
def face_update(sim, body):
    if "personId" in body and "personCode" in body:
        raise bad("personId and personCode can only have one")
    face = decode_face(body.get("faceData"))
    with sim.state.lock:
        person = _person(sim.state, body)
        person.face = face
        person.face_version += 1
        person.changed = True
    return ""


# --- access levels ---------------------------------------------------------------------------


@endpoint("/acs/v1/privilege/group")
def access_levels(sim, body):
    require_int(body, "type", optional=True, choices=(1, 2))
    return _paged(sim, body, lambda state: [lv.as_api() for lv in state.levels.values()])


def _level(state, body):
    return _stored(state.levels, body, "privilegeGroupId", "privilege group")


def _member_ids(sim, body):
    require_int(body, "type", choices=(1, 2))
    items = body.get("list")
    if not isinstance(items, list) or not items:
        raise bad("list must be a non-empty list of {id}")
    if len(items) > sim.knobs.config.max_batch:
        raise bad(f"list has more than {sim.knobs.config.max_batch} entries")
    ids = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise bad("every list entry needs an id string")
        ids.append(item["id"])
    return ids


def _change_members(sim, body, add):
    ids = _member_ids(sim, body)
    with sim.state.lock:
        state = sim.state
        level = _level(state, body)
        unknown = [i for i in dict.fromkeys(ids) if i not in state.persons]
        if unknown:
            raise bad(f"person does not exist: {','.join(unknown)}")
        for person_id in ids:
            present = person_id in level.members
            if add and not present:
                level.members.add(person_id)
                state.persons[person_id].changed = True
            elif not add and present:
                level.members.discard(person_id)
                state.persons[person_id].changed = True
    return ""


@endpoint("/acs/v1/privilege/group/single/addPersons")
def add_persons(sim, body):
    return _change_members(sim, body, add=True)


@endpoint("/acs/v1/privilege/group/single/deletePersons")
def delete_persons(sim, body):
    return _change_members(sim, body, add=False)


@endpoint("/acs/v1/privilege/group/single/personList")
def level_members(sim, body):
    require_int(body, "type", optional=True, choices=(1, 2))

    def members(state):
        return [
            {
                "id": pid,
                "personId": pid,
                "personCode": state.persons[pid].person_code,
                "personName": state.persons[pid].name,
            }
            for pid in sorted(_level(state, body).members, key=int)
        ]

    return _paged(sim, body, members)


# --- applying to devices -----------------------------------------------------------------------


@endpoint("/visitor/v1/auth/reapplication")
def reapply(sim, body):
    """Queue delivery of the named persons (all changed persons when none is named).

    Unknown ids are skipped, like an asynchronous trigger would."""
    raw = body.get("personIds")
    if raw is not None and not isinstance(raw, str):
        raise bad("personIds must be a comma-separated string")
    require_int(body, "ImmediateDownload", optional=True, choices=(0, 1))
    ids = [i.strip() for i in (raw or "").split(",") if i.strip()]
    delay = sim.knobs.config.delivery_delay
    now = time.time()
    with sim.state.lock:
        state = sim.state
        targets = (
            [state.persons[i] for i in ids if i in state.persons]
            if ids
            else [p for p in state.persons.values() if p.changed]
        )
        refusal = strict.reapply_refusal(sim, targets)
        if refusal is not None:
            raise refusal
        for person in targets:
            person.changed = False
            person.reapplied_at = now
            person.due_at = now + delay
    return ""


@endpoint("/visitor/v1/person/ID/elementDownloadDetail")
def element_download_detail(sim, body):
    person_id = require_str(body, "id")
    strict.check_delivery_known(sim)
    now = time.time()
    failing = sim.knobs.config.delivery_failures
    with sim.state.lock:
        state = sim.state
        person = state.persons.get(person_id)
        if person is None:
            raise missing("person does not exist")
        status = state.delivery_status(person, now, failing)
        elements = [{"elementType": "personInfo", "elementStatus": status}]
        if person.face is not None:
            elements.append({"elementType": "face", "elementStatus": status})
        details = [
            {
                "deviceIndexCode": door.device_id,
                "deviceName": f"{door.name} terminal",
                "doorIndexCode": door.door_id,
                "ElementStatus": [dict(e) for e in elements],
            }
            for door in state.devices_of(person_id)
        ]
    return {"ElementDetailList": {"ElementDetail": details}}


# --- doors and events --------------------------------------------------------------------------


@endpoint("/resource/v1/acsDoor/acsDoorList")
def door_list(sim, body):
    return _paged(sim, body, lambda state: [d.as_api() for d in state.doors.values()])


@endpoint("/acs/v1/door/events")
def door_events(sim, body):
    start = parse_time(body, "startTime")
    end = parse_time(body, "endTime")
    if start > end:
        raise bad("startTime must not be later than endTime")
    if end - start > MAX_EVENT_SPAN:
        raise bad("the time span between startTime and endTime cannot exceed 31 days")
    event_type = require_int(body, "eventType")
    strict.check_door_events_body(sim, body)
    door_ids = body.get("doorIndexCodes")
    # The API reference marks doorIndexCodes required; a call without it is refused.
    if door_ids is None:
        raise bad("doorIndexCodes is required")
    if not isinstance(door_ids, list) or not all(isinstance(d, str) for d in door_ids):
        raise bad("doorIndexCodes must be a list of strings")
    if len(door_ids) > MAX_DOORS_PER_SEARCH:
        raise bad("doorIndexCodes can hold at most 10 doors")
    name = require_str(body, "personName", optional=True)
    order = require_int(body, "orderType", optional=True, choices=(0, 1))
    page_no, page_size = paging(body)
    with sim.state.lock:
        found = [
            e
            for e in sim.state.events
            if e.event_type == event_type
            and start <= e.event_time <= end
            and (not door_ids or e.door.door_id in door_ids)
            and (not name or name.lower() in e.person_name.lower())
        ]
    # HCP sorts newest first unless orderType is 0.
    found.sort(key=lambda e: (e.event_time, int(e.event_id)), reverse=order != 0)
    tz = sim.knobs.config.site_timezone
    # Only the asked page is written out (a busy site holds many thousands of events).
    start = (page_no - 1) * page_size
    data = page(found, page_no, page_size)
    if "list" in data:
        data["list"] = [e.as_api(tz) for e in found[start : start + page_size]]
    return data


REFUSED_EVENT_TYPE = 197151  # face authentication failed
REFUSAL_TYPES = frozenset({197151, 197160, 197161, 197163, 197128, 197377, 197383, 197889})


def passage_decision(state, person, door, moment):
    """What a face terminal would decide: None when it lets the person in, else the reason."""
    if person.face is None:
        return "no face enrolled"
    try:
        begin = datetime.fromisoformat(person.begin_time)
        end = datetime.fromisoformat(person.end_time)
    except (TypeError, ValueError):
        return "no validity"
    if not begin <= moment <= end:
        return "outside the validity period"
    if not any(door.door_id in level.door_ids for level in state.levels_of(person.person_id)):
        return "no access level covers this door"
    return None


def record_passage(
    sim,
    *,
    person_id=None,
    person_code=None,
    door,
    direction,
    moment=None,
    event_type=PASSAGE_EVENT_TYPE,
):
    """Append a door event as a device would decide it (control API).

    A person without a face, outside their validity or without an access level covering the
    door gets a refused event (197151) instead of the granted ``event_type``; a refusal type
    given explicitly is recorded as it is. Returns the event as door/events lists it, with
    ``granted`` and ``reason``; raises LookupError naming what was not found.
    """
    now = datetime.now(UTC)
    moment = (moment or now).replace(microsecond=0)  # devices stamp whole seconds
    with sim.state.lock:
        state = sim.state
        person = state.person_by_ref(person_id=person_id, person_code=person_code)
        if person is None:
            raise LookupError("no such person")
        found = state.doors.get(door) or next(
            (d for d in state.doors.values() if d.name == door), None
        )
        if found is None:
            raise LookupError("no such door")
        reason = (
            "refusal requested"
            if event_type in REFUSAL_TYPES
            else passage_decision(state, person, found, moment)
        )
        if reason is not None and event_type not in REFUSAL_TYPES:
            event_type = REFUSED_EVENT_TYPE
        event = DoorEvent(
            event_id=state.next_event_id(),
            event_time=moment,
            receive_time=now,
            event_type=event_type,
            person_id=person.person_id,
            person_name=person.name,
            door=found,
            in_out=DIRECTIONS[direction],
        )
        state.events.append(event)
        answer = event.as_api(sim.knobs.config.site_timezone)
    return {**answer, "granted": reason is None, "reason": reason}
