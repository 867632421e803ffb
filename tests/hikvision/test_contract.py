"""Every operation against the simulator over a real socket, through the real client."""

import io
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from portal.hikvision import operations as ops
from portal.hikvision.client import HikCentralClient
from portal.hikvision.ratelimit import SharedRateLimiter
from tests.fixtures.factories import face_jpeg

SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
LATER = SOON + timedelta(hours=8)
FACE = face_jpeg()


def make_client(server, redis_conn, **options):
    limiter = SharedRateLimiter(redis_conn, f"test-contract:{uuid.uuid4().hex}", 1000, 1)
    options.setdefault("face_max_side", 500)
    client = HikCentralClient(
        server.url, server.app_key, server.app_secret, limiter=limiter, **options
    )
    return client, limiter


@pytest.fixture(params=["friendly", "strict"], autouse=True)
def profile(request, sim):
    """Every contract test runs against both simulator profiles."""
    sim.configure(profile=request.param)
    return request.param


@pytest.fixture
def client(simulator_server, sim, redis_conn):
    client, limiter = make_client(simulator_server, redis_conn)
    yield client
    client.close()
    limiter.delete()


def spec(code, face=FACE, begin=SOON, end=LATER, **fields):
    return ops.PersonSpec(code, "Ada", f"Guest {code}", begin, end, face=face, **fields)


def add_calls(sim):
    return sim.stats()["calls"].get("/artemis/api/resource/v1/person/single/add", 0)


def enroll(client, *codes):
    results = ops.ensure_persons(client, [spec(c) for c in codes])
    assert all(r.ok for r in results), results
    return [r.person_id for r in results]


def test_version(client):
    info = ops.version(client)
    assert info["product"] and info["version"]


def test_access_levels_and_doors_match_the_seed(client, sim):
    state = sim.state()
    levels = ops.list_access_levels(client)
    assert {lv.hik_id for lv in levels} == {lv["privilegeGroupId"] for lv in state["access_levels"]}
    assert all(lv.name for lv in levels)
    doors = ops.list_doors(client)
    assert {d.hik_id for d in doors} == {d["doorIndexCode"] for d in state["doors"]}


def test_ensure_persons_creates_with_one_call_each(client, sim):
    specs = [spec("C-1", phone="+79000000000", email="a@example.test"), spec("C-2"), spec("C-3")]
    results = ops.ensure_persons(client, specs)
    assert [(r.key, r.ok, r.action) for r in results] == [
        ("C-1", True, "created"),
        ("C-2", True, "created"),
        ("C-3", True, "created"),
    ]
    assert add_calls(sim) == 3 and sum(sim.stats()["calls"].values()) == 3
    stored = sim.person("C-1")
    assert stored["person_id"] == results[0].person_id
    assert stored["has_face"] and stored["remark"] == ops.face_marker(FACE)
    assert datetime.fromisoformat(stored["begin_time"]) == SOON
    assert datetime.fromisoformat(stored["end_time"]) == LATER


def test_ensure_persons_again_changes_only_what_differs(client, sim):
    enroll(client, "R-1", "R-2")
    again = ops.ensure_persons(client, [spec("R-1"), spec("R-2")])
    assert [r.action for r in again] == ["unchanged", "unchanged"]

    other_face = face_jpeg(color=(10, 200, 30))
    changed = ops.ensure_persons(
        client, [spec("R-1", end=LATER + timedelta(days=1)), spec("R-2", face=other_face)]
    )
    assert [(r.ok, r.action) for r in changed] == [(True, "updated"), (True, "updated")]
    assert datetime.fromisoformat(sim.person("R-1")["end_time"]) == LATER + timedelta(days=1)
    assert sim.person("R-2")["remark"] == ops.face_marker(other_face)

    third = ops.ensure_persons(
        client, [spec("R-1", end=LATER + timedelta(days=1)), spec("R-2", face=other_face)]
    )
    assert [r.action for r in third] == ["unchanged", "unchanged"]
    assert len(sim.state()["persons"]) == 2


@pytest.mark.slow
def test_an_add_that_timed_out_but_landed_is_adopted(simulator_server, sim, redis_conn):
    class LongestBackoff:
        def uniform(self, low, high):
            return high

    # The add and the first look-up answer after 0.6 s (too late for a 0.3 s read timeout)
    # but are carried out; the look-up is retried 1 s later and finds the person.
    sim.configure(fault_script=["slow", "slow"], slow_seconds=0.6)
    client, limiter = make_client(
        simulator_server, redis_conn, timeout=(2.0, 0.3), backoff_base=1.0, rng=LongestBackoff()
    )
    try:
        [result] = ops.ensure_persons(client, [spec("A-1")])
    finally:
        client.close()
        limiter.delete()
    assert (result.ok, result.action) == (True, "adopted")
    assert add_calls(sim) == 1
    persons = [p for p in sim.state()["persons"] if p["person_code"] == "A-1"]
    assert len(persons) == 1 and persons[0]["person_id"] == result.person_id


def test_a_dropped_add_is_sent_again_without_making_a_duplicate(client, sim):
    sim.configure(fault_script=["drop"])
    [result] = ops.ensure_persons(client, [spec("D-1")])
    assert (result.ok, result.action) == (True, "created")
    assert add_calls(sim) == 2
    assert [p["person_code"] for p in sim.state()["persons"]] == ["D-1"]


def test_a_refused_face_fails_only_that_guest(client, sim):
    buf = io.BytesIO()
    Image.new("RGB", (60, 60), (90, 90, 90)).save(buf, "JPEG")
    results = ops.ensure_persons(client, [spec("F-1"), spec("F-2", face=buf.getvalue())])
    assert [r.ok for r in results] == [True, False]
    assert results[1].error == "HikCentral refused the photo: it is too small."
    assert not results[1].transient
    assert sim.person("F-2") is None


def test_update_validity(client, sim):
    [person_id] = enroll(client, "V-1")
    new_end = LATER + timedelta(days=2)
    [result] = ops.update_validity(client, [(person_id, "V-1", SOON, new_end)])
    assert result.ok
    assert datetime.fromisoformat(sim.person("V-1")["end_time"]) == new_end
    [gone] = ops.update_validity(client, [("999999", "nobody", SOON, new_end)])
    assert not gone.ok and gone.error


def test_set_face(client, sim):
    person_id = ops.ensure_persons(client, [spec("S-1", face=None)])[0].person_id
    assert not sim.person("S-1")["has_face"]
    result = ops.set_face(client, person_id, FACE, person_code="S-1")
    assert result.ok
    assert sim.person("S-1")["has_face"]
    assert sim.person("S-1")["remark"] == ops.face_marker(FACE)


def test_grant_in_one_call_and_revoke(client, sim):
    ids = enroll(client, "G-1", "G-2", "G-3")
    before = sim.stats()["calls"]
    results = ops.grant(client, "2", ids + ["999999"])
    assert [r.ok for r in results] == [True, True, True, False]
    path = "/artemis/api/acs/v1/privilege/group/single/addPersons"
    assert sim.stats()["calls"][path] - before.get(path, 0) == 2  # the batch, then without 999999
    level = next(lv for lv in sim.state()["access_levels"] if lv["privilegeGroupId"] == "2")
    assert set(level["members"]) == set(ids)

    revoked = ops.revoke(client, "2", [ids[0], "999999"])
    assert [(r.ok, r.action) for r in revoked] == [(True, "revoked"), (True, "revoked")]
    level = next(lv for lv in sim.state()["access_levels"] if lv["privilegeGroupId"] == "2")
    assert set(level["members"]) == set(ids[1:])


def test_grant_to_an_unknown_access_level_fails_every_guest(client):
    ids = enroll(client, "U-1")
    [result] = ops.grant(client, "999", ids)
    assert not result.ok and result.error == "HikCentral does not know this access level."


def test_reapply_and_delivery_status(client, sim, profile):
    sim.configure(delivery_delay=0.2, delivery_failures=["P-3"])
    ids = enroll(client, "P-1", "P-2", "P-3")
    assert all(r.ok for r in ops.grant(client, "1", ids))
    if profile == "strict":
        # Live servers do not report the delivery of ordinary persons: "not reported", never
        # "pending" for ever.
        ops.reapply(client, ids)
        assert set(ops.delivery_status(client, ids).values()) == {"not_reported"}
        return
    assert set(ops.delivery_status(client, ids).values()) == {"pending"}
    ops.reapply(client, ids)
    deadline = time.monotonic() + 10
    status = {}
    while time.monotonic() < deadline:
        status = ops.delivery_status(client, ids)
        if "pending" not in status.values():
            break
        time.sleep(0.1)
    assert status == {ids[0]: "applied", ids[1]: "applied", ids[2]: "failed"}
    # A person the call does not know is not reported, never pending for ever.
    assert ops.delivery_status(client, ["999999"]) == {"999999": "not_reported"}


def test_delivery_status_without_the_call_is_not_reported(client, sim):
    ids = enroll(client, "N-1", "N-2")
    sim.configure(unsupported_paths=["/artemis/api/visitor/v1/person/ID/elementDownloadDetail"])
    assert ops.delivery_status(client, ids) == {ids[0]: "not_reported", ids[1]: "not_reported"}


def test_delete_persons(client, sim):
    ids = enroll(client, "X-1", "X-2")
    results = ops.delete_persons(client, ids)
    assert [r.action for r in results] == ["deleted", "deleted"]
    assert sim.state()["persons"] == []
    again = ops.delete_persons(client, ids[:1])
    assert (again[0].ok, again[0].action) == (True, "already_gone")


def test_door_events(client, sim):
    now = datetime.now(UTC).replace(microsecond=0)
    [person_id] = [
        r.person_id
        for r in ops.ensure_persons(client, [spec("E-1", begin=now - timedelta(days=50))])
    ]
    ops.grant(client, "2", [person_id])  # "Visitors – Offices": all four doors
    sim.passage(person_code="E-1", door="1", direction="in", time=now - timedelta(days=40))
    sim.passage(person_code="E-1", door="2", direction="out", time=now - timedelta(days=2))
    sim.passage(person_code="E-1", door="3", direction="unknown", time=now - timedelta(hours=1))
    doors = ["1", "2", "3", "4"]

    events = list(ops.door_events(client, now - timedelta(days=45), now, door_ids=doors))
    assert sorted((e.door_id, e.direction) for e in events) == [
        ("1", "in"),
        ("2", "out"),
        ("3", "unknown"),
    ]
    assert all(e.person_id == person_id and e.event_type == 196893 for e in events)
    assert all(e.kind == "granted" for e in events)
    first = next(e for e in events if e.door_id == "1")
    assert first.occurred_at == now - timedelta(days=40)

    only_exit = list(ops.door_events(client, now - timedelta(days=45), now, door_ids=["2", "4"]))
    assert [e.door_id for e in only_exit] == ["2"]


def test_door_events_refused_by_the_device(client, sim):
    """Outside the validity the simulated terminal refuses: event 197151, kind refused."""
    now = datetime.now(UTC).replace(microsecond=0)
    [person_id] = enroll(client, "E-2")  # valid from SOON: not yet
    ops.grant(client, "2", [person_id])
    answer = sim.passage(person_code="E-2", door="1", direction="in", time=now)
    assert answer["granted"] is False and answer["reason"] == "outside the validity period"
    window = (now - timedelta(minutes=1), now + timedelta(minutes=1))
    granted = list(ops.door_events(client, *window, door_ids=["1"]))
    refused = list(ops.door_events(client, *window, event_type=197151, door_ids=["1"]))
    assert granted == []
    assert [(e.person_id, e.kind, e.direction) for e in refused] == [(person_id, "refused", "in")]
