"""The simulator's state in a JSON file, so a demo under ``make run`` survives a restart.

Persons (faces included), access level members and door events are kept; the seed site
(organization, access levels, doors) comes from the code each time. Only ``make run`` uses this:
tests and benchmarks start from the seed site.
"""

import base64
import dataclasses
import itertools
import json
import logging
import os
from datetime import datetime

from portal.hikvision.simulator.state import DoorEvent, Person

log = logging.getLogger(__name__)

VERSION = 1


class StoredStateError(ValueError):
    """The state file cannot be read back (damaged, or written by another version)."""


def dump(state):
    """A JSON-ready document of what the simulator holds beyond the seed site."""
    with state.lock:
        return {
            "version": VERSION,
            "persons": [_person_doc(person) for person in state.persons.values()],
            "members": {lv.level_id: sorted(lv.members) for lv in state.levels.values()},
            "events": [_event_doc(event) for event in state.events],
        }


def load(state, document):
    """Replace ``state``'s persons, members and events with those of ``document``."""
    if not isinstance(document, dict) or document.get("version") != VERSION:
        raise StoredStateError("not a simulator state file of this version")
    try:
        persons = [_person(doc) for doc in document["persons"]]
        with state.lock:
            state.reset()
            events = [_event(doc, state.doors) for doc in document["events"]]
            state.persons = {person.person_id: person for person in persons}
            state.codes = {person.person_code: person.person_id for person in persons}
            for level_id, members in document["members"].items():
                if level_id in state.levels:
                    state.levels[level_id].members = set(members) & set(state.persons)
            state.events = events
            _continue_counters(state)
    except (KeyError, TypeError, ValueError) as exc:
        problem = type(exc).__name__
        raise StoredStateError(f"the simulator state file is damaged ({problem})") from exc


def save(state, path):
    """Write ``state`` to ``path`` (through a temporary file: never half a file)."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(dump(state), handle)
    os.replace(temporary, path)


def restore(state, path):
    """Load ``path`` into ``state`` when it exists; returns how many persons came back."""
    if not os.path.exists(path):
        return 0
    try:
        with open(path, encoding="utf-8") as handle:
            load(state, json.load(handle))
    except (OSError, json.JSONDecodeError, StoredStateError) as exc:
        log.warning("simulator state %s not restored (%s); starting from the seed site", path, exc)
        return 0
    return len(state.persons)


def _person_doc(person):
    doc = dataclasses.asdict(person)
    doc["face"] = base64.b64encode(person.face).decode() if person.face else None
    return doc


def _person(doc):
    face = base64.b64decode(doc["face"]) if doc.get("face") else None
    return Person(**{**doc, "face": face})


def _event_doc(event):
    return {
        "event_id": event.event_id,
        "event_time": event.event_time.isoformat(),
        "receive_time": event.receive_time.isoformat(),
        "event_type": event.event_type,
        "person_id": event.person_id,
        "person_name": event.person_name,
        "door": event.door.door_id,
        "in_out": event.in_out,
    }


def _event(doc, doors):
    return DoorEvent(
        **{
            **doc,
            "event_time": datetime.fromisoformat(doc["event_time"]),
            "receive_time": datetime.fromisoformat(doc["receive_time"]),
            "door": doors[doc["door"]],
        }
    )


def _continue_counters(state):
    """New ids follow the restored ones, so an id never names two persons or events."""
    last_person = max((int(pid) for pid in state.persons if pid.isdigit()), default=1000)
    last_event = max((int(e.event_id) for e in state.events if e.event_id.isdigit()), default=0)
    state._person_ids = itertools.count(last_person + 1)
    state._event_ids = itertools.count(max(last_event + 1, 500001))
