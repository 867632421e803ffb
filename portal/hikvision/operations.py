"""HikCentral operations in batch-first form, each answering one result per item in input order.

Every function takes a ``HikCentralClient`` and returns typed values; a failure of one item never
stops the others, and every error sentence is written for a host (no raw server text, no secrets).
Server answers are read defensively: missing lists, ``data: ""``, numeric ids, odd key casing.
"""

import base64
import logging
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from portal.hikvision import answers, identifiers
from portal.hikvision.answers import as_int, field, text
from portal.hikvision.errors import (
    AuthenticationError,
    BadRequestError,
    HikvisionError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RateLimitTimeout,
    UnavailableError,
    UnsupportedError,
)
from portal.i18n import N_

log = logging.getLogger(__name__)

API = "/artemis/api"
VERSION = f"{API}/common/v1/version"
PRIVILEGE_GROUPS = f"{API}/acs/v1/privilege/group"
DOORS = f"{API}/resource/v1/acsDoor/acsDoorList"
PERSON_ADD = f"{API}/resource/v1/person/single/add"
PERSON_UPDATE = f"{API}/resource/v1/person/single/update"
PERSON_DELETE = f"{API}/resource/v1/person/single/delete"
PERSON_BY_CODE = f"{API}/resource/v1/person/personCode/personInfo"
PERSON_BY_ID = f"{API}/resource/v1/person/personId/personInfo"
FACE_UPDATE = f"{API}/resource/v1/person/face/update"
ADD_PERSONS = f"{API}/acs/v1/privilege/group/single/addPersons"
DELETE_PERSONS = f"{API}/acs/v1/privilege/group/single/deletePersons"
REAPPLY = f"{API}/visitor/v1/auth/reapplication"
DELIVERY = f"{API}/visitor/v1/person/ID/elementDownloadDetail"
DOOR_EVENTS = f"{API}/acs/v1/door/events"

MAX_PERSONS_PER_GRANT = 1000  # no documented cap; keep request bodies reasonable
MAX_PERSONS_PER_REAPPLY = 500
MAX_DOORS_PER_QUERY = 10  # documented cap of doorIndexCodes
MAX_EVENT_WINDOW = timedelta(days=31)
EVENT_FACE_GRANTED = 196893
PERSON_TYPE = 1  # persons (not visitor records) are granted with type 1
ADD_ATTEMPTS = 4  # for failures that certainly did not reach HikCentral
ADD_BACKOFF = 0.5
_sleep = time.sleep  # tests replace it


@dataclass(frozen=True)
class PersonSpec:
    """What HikCentral should hold for one guest."""

    person_code: str
    given_name: str
    family_name: str
    begin: datetime
    end: datetime
    face: bytes | None = None
    phone: str | None = None
    email: str | None = None
    # Look the code up before adding (a retried job: an earlier run may have added it).
    look_first: bool = False
    # An older code this guest may be stored under (adopted when found; else person_code).
    legacy_code: str | None = None

    def __post_init__(self):
        for name in ("begin", "end"):
            if getattr(self, name).utcoffset() is None:
                raise ValueError(f"PersonSpec.{name} must be a timezone-aware datetime")
        if self.end <= self.begin:
            raise ValueError("PersonSpec.end must be after PersonSpec.begin")
        if not self.person_code:
            raise ValueError("PersonSpec.person_code must not be empty")


@dataclass
class ItemResult:
    """The outcome for one item of a batch."""

    key: str
    ok: bool
    person_id: str | None = None
    action: str | None = None
    error: str | None = None
    transient: bool = False
    # The code HikCentral holds the person under (a legacy code when one was adopted).
    person_code: str | None = None
    # False when HikCentral kept another validity window than the one sent.
    window_applied: bool = True


@dataclass(frozen=True)
class AccessLevelInfo:
    hik_id: str
    name: str
    description: str | None


@dataclass(frozen=True)
class DoorInfo:
    hik_id: str
    name: str


@dataclass(frozen=True)
class DoorEvent:
    event_id: str
    person_id: str | None
    door_id: str | None
    direction: str  # what the reader said: in | out | unknown
    occurred_at: datetime
    event_type: int
    person_name: str | None = None
    odd_direction: bool = False  # inAndOutType had a value the notes do not list

    @property
    def kind(self):
        """``granted``, ``refused`` or None (see event_kind)."""
        return event_kind(self.event_type)


# --- reading what the server sent ------------------------------------------------------------


def iso(moment):
    """ISO 8601 with the datetime's own offset, to the second (what HikCentral expects)."""
    if moment.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")
    return moment.replace(microsecond=0).isoformat()


def parse_time(value):
    """An aware datetime from ISO 8601 with offset, or None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None


# --- sentences for hosts ---------------------------------------------------------------------

PHOTO_WORDS = ("face", "photo", "picture", "image", "pic")
PHOTO_REASONS = (
    (("no face", "not detect", "no human", "face not found"), N_("no face could be found")),
    (("too small", "small", "resolution too low", "low resolution"), N_("it is too small")),
    (("too large", "too big", "larger", "exceed", " kb", "size"), N_("it is too large")),
    (("format", "decode", "invalid", "not a jpeg", "base64"), N_("it is not a readable JPEG")),
    (("quality", "blur", "dark"), N_("its quality is too low")),
)


def _bad_request_sentence(detail):
    if any(word in detail for word in PHOTO_WORDS):
        reasons = [reason for words, reason in PHOTO_REASONS if any(w in detail for w in words)]
        if reasons:
            return N_("HikCentral refused the photo: %(reason)s.") % {"reason": reasons[0]}
        return N_("HikCentral refused the photo.")
    if "time" in detail:
        return N_("HikCentral refused the visit's start or end time.")
    if "org" in detail:
        return N_("HikCentral does not know the organization configured for guests.")
    if "not exist" in detail and "group" not in detail:
        return N_("HikCentral does not know this guest (any more).")
    if "privilegegroup" in detail or "group" in detail:
        return N_("HikCentral does not know this access level.")
    if "phone" in detail:
        return N_("HikCentral refused the guest's phone number.")
    if "email" in detail or "mail" in detail:
        return N_("HikCentral refused the guest's e-mail address.")
    if "name" in detail:
        return N_("HikCentral refused the guest's name.")
    if "personcode" in detail or "code" in detail:
        return N_("HikCentral refused the guest's person code.")
    return N_("HikCentral refused the request as invalid.")


def describe(exc):
    """One sentence a host understands for a HikCentral failure (never the raw server text)."""
    if isinstance(exc, BadRequestError):
        return _bad_request_sentence(exc.said())
    if isinstance(exc, NotFoundError):
        if "group" in exc.said():
            return N_("HikCentral does not know this access level.")
        if "person" in exc.said():
            return N_("HikCentral does not know this guest (any more).")
        return N_("HikCentral no longer knows this guest or access level.")
    if isinstance(exc, AuthenticationError):
        return N_(
            "Gatehouse could not sign in to HikCentral; an administrator must check the keys."
        )
    if isinstance(exc, UnsupportedError):
        return N_("This HikCentral version does not support this operation.")
    if isinstance(exc, RateLimitedError | RateLimitTimeout):
        return N_("HikCentral is busy right now; this will be tried again.")
    if isinstance(exc, UnavailableError):
        return N_("HikCentral could not be reached or did not answer in time; it will be retried.")
    if isinstance(exc, ProtocolError):
        return N_("HikCentral gave an answer Gatehouse could not read.")
    return N_("HikCentral refused the request.")


def _failure(key, exc, person_id=None):
    return ItemResult(
        key=key, ok=False, person_id=person_id, error=describe(exc), transient=exc.transient
    )


def _each(func: Callable, items: list, max_workers: int) -> list:
    """``func`` over ``items`` concurrently (the client's shared limiter paces the calls)."""
    if not items:
        return []
    if max_workers <= 1 or len(items) == 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
        return list(pool.map(func, items))


# --- reads -----------------------------------------------------------------------------------


def version(client):
    """The HikCentral product name and version."""
    data = client.call(VERSION, {})
    if not isinstance(data, dict):
        raise ProtocolError("the version answer carries no data", path=VERSION)
    product = text(field(data, "produceName", "productName")) or "HikCentral"
    return {"product": product, "version": text(field(data, "softVersion", "version")) or ""}


def list_access_levels(client):
    """Every access-control privilege group (type 1: the kind persons can be granted)."""
    levels, seen = [], set()
    for item in answers.items(client, PRIVILEGE_GROUPS, {"type": PERSON_TYPE}):
        hik_id = text(field(item, "privilegeGroupId", "id"))
        if hik_id is None or hik_id in seen:
            log.warning("privilege group without an id skipped")
            continue
        seen.add(hik_id)
        name = text(field(item, "privilegeGroupName", "name")) or f"Access level {hik_id}"
        levels.append(AccessLevelInfo(hik_id, name, text(field(item, "description"))))
    return levels


def list_doors(client):
    """Every access-control door."""
    doors, seen = [], set()
    for item in answers.items(client, DOORS, {}):
        hik_id = text(field(item, "doorIndexCode", "indexCode"))
        if hik_id is None or hik_id in seen:
            log.warning("door without an index code skipped")
            continue
        seen.add(hik_id)
        doors.append(DoorInfo(hik_id, text(field(item, "doorName", "name")) or f"Door {hik_id}"))
    return doors


# --- persons ---------------------------------------------------------------------------------

face_marker = identifiers.face_marker


def _face_data(client, face):
    max_side = getattr(client, "face_max_side", 0)
    return base64.b64encode(identifiers.face_for_hikcentral(face, max_side)).decode("ascii")


def _add_body(client, spec, org_code):
    body = {
        "personCode": spec.person_code,
        "personFamilyName": identifiers.clean_text(spec.family_name),
        "personGivenName": identifiers.clean_text(spec.given_name),
        "orgIndexCode": org_code,
        "beginTime": iso(spec.begin),
        "endTime": iso(spec.end),
    }
    if spec.face:
        body["faces"] = [{"faceData": _face_data(client, spec.face)}]
        body["remark"] = face_marker(spec.face)
    if spec.phone:
        body["phoneNo"] = spec.phone
    if spec.email:
        body["email"] = spec.email
    return body


def _certainly_unsent(exc):
    """A transient failure after which HikCentral surely did not carry out the request.

    A rate-limit timeout already waited its full allowance; it is left to a later run.
    """
    return exc.transient and not exc.ambiguous and not isinstance(exc, RateLimitTimeout)


def _create(client, body):
    """Send the add; returns (person_id or None, "created"|"refused"|"unknown", refusal).

    A create is never repeated blindly: it is retried only after failures that surely never
    reached HikCentral. After a refusal (code 2, whatever its text: live servers answer a
    repeated personCode with "personCode parameter error") or an ambiguous failure the caller
    looks the person up before deciding anything.
    """
    for attempt in range(ADD_ATTEMPTS):
        try:
            data = client.call(PERSON_ADD, body, retry=False)
        except BadRequestError as exc:
            return None, "refused", exc
        except HikvisionError as exc:
            if exc.ambiguous:
                return None, "unknown", None
            if not _certainly_unsent(exc) or attempt == ADD_ATTEMPTS - 1:
                raise
            wait = getattr(exc, "retry_after", None) or ADD_BACKOFF * 2**attempt
            _sleep(min(wait, 10.0))
            continue
        person_id = text(field(data, "personId")) if isinstance(data, dict) else text(data)
        return person_id, "created" if person_id else "unknown", None
    raise AssertionError("unreachable")


def _lookup(client, person_code):
    """The person object stored under ``person_code``, or None when there is none.

    A transient failure propagates (the job is retried; the guest is not failed).
    """
    try:
        data = client.call(PERSON_BY_CODE, {"personCode": person_code})
    except NotFoundError:
        return None
    if not isinstance(data, dict) or text(field(data, "personId")) is None:
        return None
    return data


def _lookup_after_refusal(client, person_code):
    """The lookup that must follow a refused add; a lookup refused outright is "not found"."""
    try:
        return _lookup(client, person_code)
    except HikvisionError as exc:
        if exc.transient:
            raise
        log.warning("lookup after a refused add failed: %s", type(exc).__name__)
        return None


def _read_person(client, person_id):
    """The person object of ``person_id`` (raises NotFoundError when it is gone)."""
    data = client.call(PERSON_BY_ID, {"personId": person_id})
    if not isinstance(data, dict):
        raise ProtocolError("the person answer carries no data", path=PERSON_BY_ID)
    return data


def _stored_face_uri(person):
    photo = field(person, "personPhoto")
    if isinstance(photo, list):
        photo = photo[0] if photo else None
    return text(field(photo, "picUri")) if isinstance(photo, dict) else None


def _same_instant(stored, wanted):
    moment = parse_time(stored) if isinstance(stored, str) else None
    return moment is not None and moment == wanted.replace(microsecond=0)


def _window_matches(person, begin, end):
    return _same_instant(field(person, "beginTime"), begin) and _same_instant(
        field(person, "endTime"), end
    )


def _validity_body(person_id, person_code, begin, end, remark=None):
    body = {
        "personId": person_id,
        "personCode": person_code,
        "beginTime": iso(begin),
        "endTime": iso(end),
    }
    if remark is not None:
        body["remark"] = remark
    return body


def _full_body(person, begin, end, remark=None):
    """The whole person as read back, with the wanted window (some servers need every field)."""
    body = {
        "personId": text(field(person, "personId")),
        "personCode": text(field(person, "personCode")),
        "personFamilyName": identifiers.clean_text(text(field(person, "personFamilyName"))),
        "personGivenName": identifiers.clean_text(text(field(person, "personGivenName"))),
        "beginTime": iso(begin),
        "endTime": iso(end),
    }
    for name in ("orgIndexCode", "phoneNo", "email"):
        value = text(field(person, name))
        if value:
            body[name] = value
    gender = as_int(field(person, "gender"))
    if gender in (0, 1, 2):
        body["gender"] = gender
    remark = remark if remark is not None else text(field(person, "remark"))
    if remark and not identifiers.has_forbidden(remark):
        body["remark"] = remark
    return body


def _set_window(client, person_id, person_code, begin, end, remark=None):
    """Change a window and read it back: 1 or 2 (the try that took), or 0 when none did.

    Live servers were seen answering Success to a validity update and keeping the old window:
    the change is retried once with the full person body before it is reported as not applied.
    """
    client.call(PERSON_UPDATE, _validity_body(person_id, person_code, begin, end, remark))
    person = _read_person(client, person_id)
    if _window_matches(person, begin, end):
        return 1
    log.warning("HikCentral kept the old window of person %s; sending the whole person", person_id)
    client.call(PERSON_UPDATE, _full_body(person, begin, end, remark))
    return 2 if _window_matches(_read_person(client, person_id), begin, end) else 0


def _align(client, spec, person, code):
    """Bring an existing person in line with ``spec``: (anything changed, window applied)."""
    person_id = text(field(person, "personId"))
    stored_marker = identifiers.stored_face_marker(text(field(person, "remark")))
    face_changed = bool(spec.face) and (
        stored_marker != face_marker(spec.face) or not _stored_face_uri(person)
    )
    validity_changed = not _window_matches(person, spec.begin, spec.end)
    if face_changed:
        client.call(FACE_UPDATE, {"personId": person_id, "faceData": _face_data(client, spec.face)})
    applied = True
    if validity_changed:
        marker = face_marker(spec.face) if face_changed else None
        applied = _set_window(client, person_id, code, spec.begin, spec.end, marker)
    elif face_changed:
        body = {"personId": person_id, "personCode": code, "remark": face_marker(spec.face)}
        client.call(PERSON_UPDATE, body)
    return face_changed or validity_changed, bool(applied)


def _adopt(client, spec, person, action, code=None):
    """An ItemResult for an existing person brought in line with ``spec``."""
    code = code or spec.person_code
    changed, applied = _align(client, spec, person, code)
    if action is None:
        action = "updated" if changed else "unchanged"
    return ItemResult(
        spec.person_code,
        True,
        text(field(person, "personId")),
        action,
        person_code=code,
        window_applied=applied,
    )


def _existing(client, spec):
    """A person stored earlier for ``spec`` (under its older code first), with that code."""
    if spec.legacy_code:
        person = _lookup(client, spec.legacy_code)
        if person is not None:
            return person, spec.legacy_code
    if spec.look_first or spec.legacy_code:
        person = _lookup(client, spec.person_code)
        if person is not None:
            return person, spec.person_code
    return None, None


def _ensure_one(client, spec, org_code):
    key = spec.person_code
    try:
        person, code = _existing(client, spec)
        if person is not None:
            return _adopt(client, spec, person, None, code)
        body = _add_body(client, spec, org_code)
        person_id, outcome, refusal = _create(client, body)
        if outcome == "created":
            return ItemResult(key, True, person_id, "created", person_code=key)
        if outcome == "refused":
            # Never declare a guest refused before looking: the person may exist already.
            person = _lookup_after_refusal(client, key)
            if person is None:
                return _failure(key, refusal)
            return _adopt(client, spec, person, None)
        person = _lookup(client, key)
        if person is None:
            # The ambiguous add did not land: sending it again cannot make a duplicate.
            person_id, outcome, refusal = _create(client, body)
            if outcome == "created":
                return ItemResult(key, True, person_id, "created", person_code=key)
            person = _lookup(client, key)
            if person is None and refusal is not None:
                return _failure(key, refusal)
        if person is None:
            return ItemResult(
                key, False, error=N_("HikCentral did not confirm the new guest."), transient=True
            )
        return _adopt(client, spec, person, "adopted")
    except HikvisionError as exc:
        log.warning("ensuring person %s failed: %s", key, type(exc).__name__)
        return _failure(key, exc)


def ensure_persons(client, specs, *, org_code="1", max_workers=10):
    """Create or bring in line one HikCentral person per spec (one call per new person).

    Actions: ``created`` (new), ``adopted`` (an ambiguous create had landed after all),
    ``updated`` / ``unchanged`` (the person code already existed). ``person_code`` is the code
    HikCentral holds the person under; ``window_applied`` is False when a window change did
    not take.
    """
    return _each(lambda spec: _ensure_one(client, spec, org_code), list(specs), max_workers)


def update_validity(client, items, *, max_workers=10):
    """Set and read back each window; items are (person_id, person_code, begin, end).

    The action is ``updated``, ``updated_on_second_try`` (the whole person had to be sent), or
    ``window_not_applied`` when HikCentral kept another window.
    """

    def one(item):
        person_id, person_code, begin, end = item
        try:
            applied = _set_window(client, person_id, person_code, begin, end)
        except HikvisionError as exc:
            return _failure(person_id, exc, person_id)
        action = WINDOW_ACTIONS[applied]
        return ItemResult(person_id, True, person_id, action, window_applied=bool(applied))

    return _each(one, list(items), max_workers)


UPDATED_ON_SECOND_TRY = "updated_on_second_try"
WINDOW_ACTIONS = {1: "updated", 2: UPDATED_ON_SECOND_TRY, 0: "window_not_applied"}


def set_face(client, person_id, face, *, person_code=None):
    """Replace a person's face; with ``person_code`` also record the face marker."""
    try:
        client.call(FACE_UPDATE, {"personId": person_id, "faceData": _face_data(client, face)})
        if person_code:
            body = {"personId": person_id, "personCode": person_code, "remark": face_marker(face)}
            client.call(PERSON_UPDATE, body)
    except HikvisionError as exc:
        return _failure(person_id, exc, person_id)
    return ItemResult(person_id, True, person_id, "face_set")


def delete_persons(client, person_ids, *, max_workers=10):
    """Delete persons; one HikCentral no longer knows counts as already gone."""

    def one(person_id):
        try:
            client.call(PERSON_DELETE, {"personId": person_id})
        except NotFoundError:
            return ItemResult(person_id, True, person_id, "already_gone")
        except HikvisionError as exc:
            return _failure(person_id, exc, person_id)
        return ItemResult(person_id, True, person_id, "deleted")

    return _each(one, list(person_ids), max_workers)


# --- access levels ---------------------------------------------------------------------------


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values))


def _chunks(values, size):
    return [values[i : i + size] for i in range(0, len(values), size)]


def _about_persons(exc):
    """Whether a refusal is about some persons (worth splitting) rather than the whole call."""
    detail = exc.said()
    return "person" in detail and "group" not in detail


def _named(exc, ids):
    """The ids of ``ids`` that the refusal's detail names."""
    detail = exc.said()
    return [i for i in ids if re.search(rf"(?<![\w-]){re.escape(i.lower())}(?![\w-])", detail)]


def _person_gone(exc):
    """The refusal says the person does not exist (nothing left to revoke)."""
    detail = exc.said()
    return (
        isinstance(exc, BadRequestError | NotFoundError)
        and "exist" in detail
        and "group" not in detail
        and ("person" in detail or isinstance(exc, NotFoundError))
    )


def _membership(client, path, group_id, ids, action, *, gone_is_ok):
    """One call for ``ids``; when it refuses some persons, retry without them or bisect."""
    body = {"privilegeGroupId": group_id, "type": PERSON_TYPE, "list": [{"id": i} for i in ids]}
    try:
        client.call(path, body)
    except (BadRequestError, NotFoundError) as exc:
        if gone_is_ok and len(ids) == 1 and _person_gone(exc):
            return {ids[0]: ItemResult(ids[0], True, ids[0], action)}
        if len(ids) == 1 or not _about_persons(exc):
            return {i: _failure(i, exc, i) for i in ids}
        named = _named(exc, ids)
        if named and len(named) < len(ids):
            rest = [i for i in ids if i not in named]
            gone = gone_is_ok and _person_gone(exc)
            done = {
                i: ItemResult(i, True, i, action) if gone else _failure(i, exc, i) for i in named
            }
            done.update(_membership(client, path, group_id, rest, action, gone_is_ok=gone_is_ok))
            return done
        half = len(ids) // 2
        left = _membership(client, path, group_id, ids[:half], action, gone_is_ok=gone_is_ok)
        right = _membership(client, path, group_id, ids[half:], action, gone_is_ok=gone_is_ok)
        return {**left, **right}
    except HikvisionError as exc:
        return {i: _failure(i, exc, i) for i in ids}
    return {i: ItemResult(i, True, i, action) for i in ids}


def _change_membership(client, path, group_id, person_ids, action, gone_is_ok):
    unique = _unique(person_ids)
    results = {}
    for chunk in _chunks(unique, MAX_PERSONS_PER_GRANT):
        results.update(
            _membership(client, path, str(group_id), chunk, action, gone_is_ok=gone_is_ok)
        )
    return [results[str(person_id)] for person_id in person_ids]


def grant(client, access_level_hik_id, person_ids):
    """Add persons to an access level in one call (chunked only above the per-call cap)."""
    return _change_membership(
        client, ADD_PERSONS, access_level_hik_id, person_ids, "granted", False
    )


def revoke(client, access_level_hik_id, person_ids):
    """Remove persons from an access level in one call; unknown persons count as revoked."""
    return _change_membership(
        client, DELETE_PERSONS, access_level_hik_id, person_ids, "revoked", True
    )


def reapply(client, person_ids):
    """Ask HikCentral to push these persons' access to the devices (one call per 500)."""
    for chunk in _chunks(_unique(person_ids), MAX_PERSONS_PER_REAPPLY):
        client.call(REAPPLY, {"personIds": ",".join(chunk), "ImmediateDownload": 0})


# --- delivery to devices ---------------------------------------------------------------------


def _as_list(value):
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict) else []


def _certificate_statuses(detail):
    """Per-credential statuses of one ElementDetail (a list, or a dict holding one)."""
    found = field(detail, "CertificateStatusList")
    if isinstance(found, dict) and isinstance(field(found, "CertificateStatus"), list | dict):
        found = field(found, "CertificateStatus")
    return [
        as_int(field(item, "certificateStatus", "status", "elementStatus"))
        for item in _as_list(found)
    ]


def element_statuses(data):
    """Every elementStatus and certificate status in an elementDownloadDetail answer."""
    details = field(field(data, "ElementDetailList"), "ElementDetail")
    statuses = []
    for detail in _as_list(details):
        for status in _as_list(field(detail, "ElementStatus")):
            statuses.append(as_int(field(status, "elementStatus")))
        statuses.extend(_certificate_statuses(detail))
    return statuses


def summarize_delivery(statuses):
    """``failed`` when any status is 2 or 3, ``applied`` when all are 0, ``not_reported`` when
    there is none at all, else ``pending``."""
    if any(s in (2, 3) for s in statuses):
        return "failed"
    if not statuses:
        return "not_reported"
    if all(s == 0 for s in statuses):
        return "applied"
    return "pending"


def _not_known(exc):
    """HikCentral says it has no delivery record of this person (live servers do for type 1)."""
    return isinstance(exc, NotFoundError) or (
        isinstance(exc, BadRequestError) and "exist" in exc.said()
    )


def delivery_status(client, person_ids, *, max_workers=10):
    """Per person: applied | pending | failed | not_reported, or unknown (ask again later).

    ``not_reported``: HikCentral has no answer for the person (not found, an empty answer, or a
    version without the call, code 8). ``unknown``: the call failed for now. A refused sign-in
    raises.
    """
    unsupported = False

    def one(person_id):
        nonlocal unsupported
        if unsupported:
            return "not_reported"
        try:
            data = client.call(DELIVERY, {"id": str(person_id)})
        except UnsupportedError:
            unsupported = True
            return "not_reported"
        except AuthenticationError:
            raise
        except HikvisionError as exc:
            if _not_known(exc):
                return "not_reported"
            log.warning("delivery status of %s unknown: %s", person_id, type(exc).__name__)
            return "unknown"
        return summarize_delivery(element_statuses(data))

    ids = _unique(person_ids)
    return dict(zip(ids, _each(one, ids, max_workers), strict=True))


# --- drift repair reads ----------------------------------------------------------------------

LEVEL_MEMBERS = f"{API}/acs/v1/privilege/group/single/personList"


def person_by_code(client, person_code):
    """The person HikCentral holds under ``person_code`` (personId, beginTime, endTime...), or
    None when it has none."""
    return _lookup(client, person_code)


def access_level_members(client, access_level_hik_id):
    """The person ids in an access level (a paged read, 500 per call)."""
    body = {"privilegeGroupId": str(access_level_hik_id), "type": PERSON_TYPE}
    members = set()
    for item in answers.items(client, LEVEL_MEMBERS, body):
        person_id = text(field(item, "personId", "id"))
        if person_id is not None:
            members.add(person_id)
    return members


def same_window(person, begin, end):
    """Whether the person's stored validity is [begin, end] (compared as instants)."""
    return _same_instant(field(person, "beginTime"), begin) and _same_instant(
        field(person, "endTime"), end
    )


def person_id_of(person):
    """The personId of a person object HikCentral answered."""
    return text(field(person, "personId"))


# --- door events -----------------------------------------------------------------------------

# Access-control event types (integration notes §3.5): the "passed" codes let a person through,
# the "failed" ones are refused attempts (a refusal never checks anyone in).
GRANTED_EVENT_TYPES = frozenset(
    {196893, 198914, 196883, 196885, 196886, 196887, 196888, 196889, 196890, 196891, 196892}
    | {196897, 198915}
)
REFUSED_EVENT_TYPES = frozenset(
    {197151, 197160, 197161, 197163, 197128, 197377, 197383, 197633, 197634, 197635, 197889}
)
EVENT_FACE_REFUSED = 197151
# inAndOutType: 1 in, 0 out, -1 unknown (depends on the reader's setting).
DIRECTIONS = {1: "in", 0: "out", -1: "unknown"}


def event_kind(event_type):
    """``granted`` or ``refused`` for an access event type, None for any other event."""
    if event_type in GRANTED_EVENT_TYPES:
        return "granted"
    if event_type in REFUSED_EVENT_TYPES:
        return "refused"
    return None


@dataclass(frozen=True)
class EventPage:
    """One page of door/events: the usable events and how many items could not be used."""

    events: list
    skipped: int = 0


def event_windows(start, end, max_span=MAX_EVENT_WINDOW):
    """Consecutive windows of at most ``max_span`` covering [start, end]."""
    if start.utcoffset() is None or end.utcoffset() is None:
        raise ValueError("door event windows need timezone-aware datetimes")
    windows = []
    while start < end:
        stop = min(start + max_span, end)
        windows.append((start, stop))
        start = stop
    return windows


def normalize_event(item, event_type=EVENT_FACE_GRANTED):
    """A DoorEvent from one door/events item, or None (logged) when it cannot be used.

    A direction value the notes do not list (not 1, 0 or -1) is read as ``unknown`` and marked
    ``odd_direction``; an event without an id or a readable time with offset is skipped.
    """
    event_id = text(field(item, "eventId"))
    occurred_at = parse_time(field(item, "eventTime", "happenTime"))
    if event_id is None or occurred_at is None:
        log.warning("door event skipped: missing event id or unreadable time")
        return None
    raw = field(item, "inAndOutType")
    in_out = as_int(raw)
    return DoorEvent(
        event_id=event_id,
        person_id=text(field(item, "personId")),
        door_id=text(field(item, "doorIndexCode", "srcIndex")),
        direction=DIRECTIONS.get(in_out, "unknown"),
        occurred_at=occurred_at,
        event_type=as_int(field(item, "eventType")) or event_type,
        person_name=text(field(item, "personName")),
        odd_direction=raw is not None and in_out not in DIRECTIONS,
    )


def door_event_pages(client, start, end, *, event_type, door_ids):
    """Every page of door events of ``event_type`` at ``door_ids`` in [start, end].

    ``doorIndexCodes`` is always sent (the reference marks it required), at most 10 doors per
    call; the window must not exceed 31 days (the caller slices longer gaps). Yields EventPage.
    """
    doors = _unique(door_ids or [])
    if not doors:
        raise ValueError("door/events needs at least one door index code")
    if end - start > MAX_EVENT_WINDOW:
        raise ValueError("a door/events window spans at most 31 days")
    for chunk in _chunks(doors, MAX_DOORS_PER_QUERY):
        body = {
            "startTime": iso(start),
            "endTime": iso(end),
            "eventType": int(event_type),
            "doorIndexCodes": chunk,
        }
        for items in answers.pages(client, DOOR_EVENTS, body):
            events = [normalize_event(item, event_type) for item in items]
            usable = [e for e in events if e is not None]
            yield EventPage(usable, len(events) - len(usable))


def door_events(client, start, end, *, event_type=EVENT_FACE_GRANTED, door_ids):
    """Every door event of ``event_type`` at ``door_ids`` in [start, end] (31-day windows)."""
    seen = set()
    for window_start, window_end in event_windows(start, end):
        for page in door_event_pages(
            client, window_start, window_end, event_type=event_type, door_ids=door_ids
        ):
            for event in page.events:
                if event.event_id not in seen:
                    seen.add(event.event_id)
                    yield event


__all__ = [
    "AccessLevelInfo",
    "DoorEvent",
    "DoorInfo",
    "EventPage",
    "ItemResult",
    "PersonSpec",
    "delete_persons",
    "delivery_status",
    "door_event_pages",
    "door_events",
    "event_kind",
    "ensure_persons",
    "grant",
    "list_access_levels",
    "list_doors",
    "reapply",
    "revoke",
    "set_face",
    "update_validity",
    "version",
]
