"""The simulator's in-memory HikCentral: organization, persons, access levels, doors, events.

One ``SimState`` holds everything behind one lock; callers hold ``state.lock`` around every read
or change and never sleep while holding it.
"""

import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

ORG = {"orgIndexCode": "1", "orgName": "Head Office", "parentOrgIndexCode": ""}

# (doorIndexCode, doorName, doorNo, direction the reader is installed for)
SEED_DOORS = (
    ("1", "Main entrance (in)", 1, "in"),
    ("2", "Main entrance (out)", 2, "out"),
    ("3", "Office wing (in)", 3, "in"),
    ("4", "Office wing (out)", 4, "out"),
)
# (privilegeGroupId, name, description, door ids)
SEED_ACCESS_LEVELS = (
    ("1", "Visitors – Lobby", "Main entrance only", ("1", "2")),
    ("2", "Visitors – Offices", "Main entrance and office wing", ("1", "2", "3", "4")),
    ("3", "Event Hall", "Main entrance for event guests", ("1", "2")),
)
PASSAGE_EVENT_TYPE = 196893
EVENT_TYPE_NAMES = {
    196893: "Access Granted by Face",
    198914: "Access Granted by Card",
    197151: "Face Authentication Failed",
    197377: "No Permission",
}
DIRECTIONS = {"in": 1, "out": 0, "unknown": -1}
# Element statuses in elementDownloadDetail.
APPLIED, PENDING, FAILED = 0, 1, 2


@dataclass
class Door:
    door_id: str
    name: str
    door_no: int
    direction: str

    @property
    def device_id(self):
        """Each reader is its own face terminal in the seed site."""
        return f"10{self.door_id}"

    def as_api(self):
        return {
            "doorIndexCode": self.door_id,
            "doorName": self.name,
            "doorNo": self.door_no,
            "regionIndexCode": "1",
            "acsDevIndexCode": self.device_id,
        }


@dataclass
class AccessLevel:
    level_id: str
    name: str
    description: str
    door_ids: tuple
    members: set = field(default_factory=set)  # person ids

    def as_api(self):
        return {
            "privilegeGroupId": self.level_id,
            "privilegeGroupName": self.name,
            "description": self.description,
            "timeSchedule": {"name": "All-Day Template", "indexCode": "1"},
        }


@dataclass
class Person:
    person_id: str
    person_code: str
    family_name: str
    given_name: str
    org_code: str
    begin_time: str
    end_time: str
    gender: int = 0
    phone: str = ""
    email: str = ""
    remark: str = ""
    face: bytes | None = None
    face_version: int = 0
    # Delivery to the devices: changes wait for a re-application, which lands at ``due_at``.
    changed: bool = True
    reapplied_at: float | None = None
    due_at: float | None = None
    # Strict-profile memory: the first validity change was ignored, a reapplication refused.
    window_update_seen: bool = False
    reapply_refused: bool = False

    @property
    def name(self):
        return f"{self.given_name} {self.family_name}".strip()

    def as_api(self):
        pic = f"/pic?personId={self.person_id}&v={self.face_version}" if self.face else ""
        return {
            "personId": self.person_id,
            "personCode": self.person_code,
            "personName": self.name,
            "personFamilyName": self.family_name,
            "personGivenName": self.given_name,
            "gender": self.gender,
            "orgIndexCode": self.org_code,
            "personPhoto": {"picUri": pic, "picBigUri": pic},
            "phoneNo": self.phone,
            "email": self.email,
            "remark": self.remark,
            "beginTime": self.begin_time,
            "endTime": self.end_time,
        }


@dataclass
class DoorEvent:
    event_id: str
    event_time: datetime
    receive_time: datetime
    event_type: int
    person_id: str
    person_name: str
    door: Door
    in_out: int

    def as_api(self, tz=UTC):
        return {
            "eventId": self.event_id,
            "eventTime": format_time(self.event_time.astimezone(tz)),
            "eventType": self.event_type,
            "eventTypeName": EVENT_TYPE_NAMES.get(self.event_type, "Access Control Event"),
            "personId": self.person_id,
            "personName": self.person_name,
            "cardNo": "",
            "doorIndexCode": self.door.door_id,
            "doorName": self.door.name,
            "inAndOutType": self.in_out,
            "receiveTime": format_time(self.receive_time.astimezone(tz)),
        }


def format_time(moment):
    """ISO 8601 with offset, seconds precision (``2024-05-01T09:00:00+03:00``)."""
    return moment.replace(microsecond=0).isoformat()


class SimState:
    """Everything the simulated HikCentral knows; guard every use with ``lock``."""

    def __init__(self):
        self.lock = threading.RLock()
        # Ids keep counting across resets so a stale id from before a reset never matches.
        self._person_ids = itertools.count(1001)
        self._event_ids = itertools.count(500001)
        self.reset()

    def reset(self):
        """Back to the seed site: one organization, three access levels, four doors."""
        with self.lock:
            self.orgs = {ORG["orgIndexCode"]: dict(ORG)}
            self.doors = {d[0]: Door(*d) for d in SEED_DOORS}
            self.levels = {lv[0]: AccessLevel(*lv) for lv in SEED_ACCESS_LEVELS}
            self.persons = {}  # person id -> Person
            self.codes = {}  # person code -> person id
            self.events = []  # DoorEvent, in insertion order

    def next_person_id(self):
        return str(next(self._person_ids))

    def next_event_id(self):
        return str(next(self._event_ids))

    def person_by_ref(self, person_id=None, person_code=None):
        """The person with this id or code, or None."""
        if person_id is not None:
            return self.persons.get(person_id)
        return self.persons.get(self.codes.get(person_code))

    def levels_of(self, person_id):
        return [lv for lv in self.levels.values() if person_id in lv.members]

    def devices_of(self, person_id):
        """The doors (one device each) of every access level the person holds, in id order."""
        door_ids = sorted(
            {d for lv in self.levels_of(person_id) for d in lv.door_ids}, key=lambda d: int(d)
        )
        return [self.doors[d] for d in door_ids]

    def delete_person(self, person):
        for level in self.levels.values():
            level.members.discard(person.person_id)
        del self.persons[person.person_id]
        self.codes.pop(person.person_code, None)

    def delivery_status(self, person, now, failing):
        """APPLIED, PENDING or FAILED for the person's latest changes on the devices."""
        if person.changed or person.due_at is None or now < person.due_at:
            return PENDING
        if person.person_id in failing or person.person_code in failing:
            return FAILED
        return APPLIED

    def snapshot(self, now, failing):
        """The ``GET /sim/state`` document (documented in the README)."""
        labels = {APPLIED: "applied", PENDING: "pending", FAILED: "failed"}
        persons = []
        for person in self.persons.values():
            status = self.delivery_status(person, now, failing)
            persons.append(
                {
                    "person_id": person.person_id,
                    "person_code": person.person_code,
                    "name": person.name,
                    "begin_time": person.begin_time,
                    "end_time": person.end_time,
                    "has_face": person.face is not None,
                    "access_levels": [lv.level_id for lv in self.levels_of(person.person_id)],
                    "remark": person.remark,
                    "delivery": labels[status],
                }
            )
        return {
            "persons": persons,
            "access_levels": [
                {**lv.as_api(), "doors": list(lv.door_ids), "members": sorted(lv.members)}
                for lv in self.levels.values()
            ],
            "doors": [{**d.as_api(), "direction": d.direction} for d in self.doors.values()],
            "events": len(self.events),
        }


def default_validity(now, tz=UTC):
    """HCP gives a person without validity a long window starting now."""
    begin = now.astimezone(tz).replace(microsecond=0)
    return format_time(begin), format_time(begin + timedelta(days=3650))
