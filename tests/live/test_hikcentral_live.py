"""What the portal reads from HikCentral, checked against a real server (read-only)."""

from datetime import UTC, datetime, timedelta

import pytest

from portal.hikvision import identifiers
from portal.hikvision import operations as ops
from portal.hikvision.errors import NotFoundError

pytestmark = pytest.mark.live


def test_version_names_the_product(live_client):
    info = ops.version(live_client)
    assert info["product"]


def test_access_levels_have_ids_and_names(live_client):
    levels = ops.list_access_levels(live_client)
    assert all(level.hik_id and level.name for level in levels)
    assert len({level.hik_id for level in levels}) == len(levels)


def test_doors_have_index_codes(live_client):
    doors = ops.list_doors(live_client)
    assert all(door.hik_id and door.name for door in doors)


def test_door_events_of_the_last_hour_read_with_door_index_codes(live_client):
    door_ids = [door.hik_id for door in ops.list_doors(live_client)]
    now = datetime.now(UTC).replace(microsecond=0)
    events = list(ops.door_events(live_client, now - timedelta(hours=1), now, door_ids=door_ids))
    assert all(e.event_id and e.occurred_at.utcoffset() is not None for e in events)
    assert all(e.direction in ("in", "out", "unknown") for e in events)


def test_an_unknown_person_code_is_not_found(live_client):
    code = identifiers.new_person_code("ZZ", 10)  # random: no site holds it
    with pytest.raises(NotFoundError):
        live_client.call(ops.PERSON_BY_CODE, {"personCode": code})
