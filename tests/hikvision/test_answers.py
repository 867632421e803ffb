"""Reading HikCentral's answers: odd values, and paged reads against odd servers (``responses``)
and against the simulator over a real socket."""

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import responses

from portal.hikvision import answers
from portal.hikvision import operations as ops
from portal.hikvision.client import HikCentralClient
from portal.hikvision.errors import ProtocolError
from portal.hikvision.ratelimit import SharedRateLimiter
from tests.hikvision.support import API, body_of, ok

PERSONS = "/artemis/api/resource/v1/person/personList"
LEVELS = "/artemis/api/acs/v1/privilege/group"


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (12, 12),
        ("12", 12),
        (" 12 ", 12),
        (12.0, 12),
        (12.5, None),
        ("12.5", None),
        (True, None),
        (None, None),
        ("", None),
        ("twelve", None),
        ({"n": 1}, None),
    ],
)
def test_as_int_reads_whole_numbers_only(value, number):
    assert answers.as_int(value) == number


def test_field_matches_keys_in_any_case():
    assert answers.field({"PersonId": "7"}, "personId") == "7"
    assert answers.field({"id": 3, "personId": "7"}, "personId", "id") == "7"
    assert answers.field("not a mapping", "personId") is None


@pytest.mark.parametrize(
    ("value", "shown"),
    [(1150, "1150"), (1150.0, "1150"), (" a ", "a"), ("  ", None), (False, None)],
)
def test_text_reads_ids_as_strings(value, shown):
    assert answers.text(value) == shown


# --- paged reads against odd servers -----------------------------------------------------------


def answer(items=None, total=None, **data):
    """A paged answer; ``items`` None leaves the list out, ``total`` None leaves it out."""
    if items is not None:
        data["list"] = items
    if total is not None:
        data["total"] = total
    return ok(data)


def serve(mocked, *pages):
    for page in pages:
        mocked.post(f"{API}/resource/v1/person/personList", json=page)


def ids(client, page_size=2, body=None):
    return [item["id"] for item in answers.items(client, PERSONS, body, page_size=page_size)]


def asked(mocked):
    return [(body_of(c)["pageNo"], body_of(c)["pageSize"]) for c in mocked.calls]


def test_a_read_walks_pages_until_total_with_the_body_on_each(client, mocked):
    serve(mocked, answer([{"id": 1}, {"id": 2}], 5), answer([{"id": 3}, {"id": 4}], 5))
    serve(mocked, answer([{"id": 5}], 5))
    assert ids(client, body={"orgCode": "1"}) == [1, 2, 3, 4, 5]
    bodies = [body_of(c) for c in mocked.calls]
    assert bodies == [{"orgCode": "1", "pageNo": n, "pageSize": 2} for n in (1, 2, 3)]


def test_a_full_page_that_reaches_total_is_the_last(client, mocked):
    serve(mocked, answer([{"id": 1}, {"id": 2}], 2))
    assert ids(client) == [1, 2]
    assert len(mocked.calls) == 1


def test_without_total_a_short_page_is_the_last(client, mocked):
    serve(mocked, answer([{"id": 1}, {"id": 2}]), answer([{"id": 3}]))
    assert ids(client) == [1, 2, 3]
    assert asked(mocked) == [(1, 2), (2, 2)]


def test_total_as_a_string_is_read(client, mocked):
    serve(mocked, answer([{"id": 1}, {"id": 2}], "3"), answer([{"id": 3}], "3"))
    assert ids(client) == [1, 2, 3]


def test_the_default_page_size_is_the_documented_500(client, mocked):
    serve(mocked, answer(total=0))
    assert list(answers.items(client, PERSONS)) == []
    assert asked(mocked) == [(1, 500)]


@pytest.mark.parametrize(
    "page",
    [
        {"code": "0", "msg": "Success", "data": ""},
        {"code": "0", "msg": "Success"},
        answer(total=7, pageNo=1),
        ok({"total": 0, "list": None}),
        answer([], 3),
    ],
)
def test_an_answer_without_items_ends_the_read(client, mocked, page):
    serve(mocked, page)
    assert ids(client) == []
    assert len(mocked.calls) == 1


@pytest.mark.parametrize("data", [["a", "b"], "text", {"list": "nope"}, {"List": {"id": 1}}])
def test_an_unreadable_page_is_a_protocol_error_not_an_empty_list(client, mocked, data):
    # Read as "nothing there", a sync would deactivate every access level.
    serve(mocked, ok(data))
    with pytest.raises(ProtocolError):
        ids(client)


def test_a_capped_page_size_is_read_on_while_total_says_more(client, mocked):
    """Asked for 500 a page, the server sends 2 (and says it used 500)."""
    serve(mocked, answer([{"id": 1}, {"id": 2}], 5, pageSize=500))
    serve(mocked, answer([{"id": 3}, {"id": 4}], 5, pageSize=500), answer([{"id": 5}], 5))
    assert ids(client, page_size=500) == [1, 2, 3, 4, 5]
    assert asked(mocked) == [(1, 500), (2, 500), (3, 500)]


def test_a_capped_page_size_the_server_answers_is_read_on_without_total(client, mocked):
    serve(mocked, answer([{"id": 1}, {"id": 2}], pageSize=2))
    serve(mocked, answer([{"id": 3}, {"id": 4}], pageSize=2), answer([], pageSize=2))
    assert ids(client, page_size=500) == [1, 2, 3, 4]
    assert len(mocked.calls) == 3


def test_a_total_above_what_there_is_ends_on_the_empty_page_past_the_end(client, mocked):
    serve(mocked, answer([{"id": 1}], 10), answer(total=10))
    assert ids(client) == [1]
    assert len(mocked.calls) == 2


def test_a_total_below_what_was_received_is_ignored(client, mocked):
    serve(mocked, answer([{"id": 1}, {"id": 2}], 1), answer([{"id": 3}], 1))
    assert ids(client) == [1, 2, 3]
    assert len(mocked.calls) == 2


def test_a_page_past_the_end_that_repeats_the_last_ends_the_read(client, mocked, caplog):
    serve(mocked, answer([{"id": 1}, {"id": 2}]), answer([{"id": 3}, {"id": 4}]))
    serve(mocked, answer([{"id": 3}, {"id": 4}]))
    with caplog.at_level(logging.WARNING, logger="portal.hikvision.answers"):
        assert ids(client) == [1, 2, 3, 4]
    assert len(mocked.calls) == 3
    assert "page 3 repeats the one before" in caplog.text


def test_a_server_that_ignores_page_no_before_total_is_a_protocol_error(client, mocked):
    serve(mocked, answer([{"id": 1}, {"id": 2}], 6))
    with pytest.raises(ProtocolError, match="pageNo ignored"):
        ids(client)
    assert len(mocked.calls) == 2


def test_items_that_are_not_objects_are_dropped_but_fill_the_page(client, mocked):
    serve(mocked, answer(["junk", {"id": 1}]), answer([{"id": 2}]))
    assert ids(client) == [1, 2]
    assert len(mocked.calls) == 2


def test_pages_come_one_list_per_answer(client, mocked):
    serve(mocked, answer([{"id": 1}, {"id": 2}], 3), answer([{"id": 3}], 3))
    pages = list(answers.pages(client, PERSONS, page_size=2))
    assert pages == [[{"id": 1}, {"id": 2}], [{"id": 3}]]


def test_a_read_that_never_ends_stops_at_the_page_limit(client, mocked, monkeypatch):
    monkeypatch.setattr(answers, "MAX_PAGES", 3)

    def new_full_page(request):
        page_no = json.loads(request.body)["pageNo"]
        return 200, {}, json.dumps(answer([{"id": page_no * 2}, {"id": page_no * 2 + 1}]))

    mocked.add_callback(responses.POST, f"{API}/resource/v1/person/personList", new_full_page)
    with pytest.raises(ProtocolError, match="more than 3 pages"):
        ids(client)
    assert len(mocked.calls) == 3


# --- against the simulator over a real socket ----------------------------------------------------


@pytest.fixture
def sim_client(simulator_server, sim, redis_conn):
    limiter = SharedRateLimiter(redis_conn, f"test-answers:{uuid.uuid4().hex}", 1000, 1)
    client = HikCentralClient(
        simulator_server.url, simulator_server.app_key, simulator_server.app_secret, limiter=limiter
    )
    yield client
    client.close()
    limiter.delete()


def calls_to_sim(sim, path):
    return sim.stats()["calls"].get(path, 0)


def test_the_simulator_pages_access_levels_two_at_a_time(sim_client, sim):
    every = list(answers.items(sim_client, LEVELS, {"type": 1}))
    paged = list(answers.pages(sim_client, LEVELS, {"type": 1}, page_size=2))
    assert [len(page) for page in paged] == [2, 1]
    assert [item for page in paged for item in page] == every
    assert len(every) == 3
    assert calls_to_sim(sim, LEVELS) == 3


def test_a_page_size_that_divides_the_total_asks_no_page_past_the_end(sim_client, sim):
    paged = list(answers.pages(sim_client, ops.DOORS, page_size=2))
    assert [len(page) for page in paged] == [2, 2]
    assert calls_to_sim(sim, ops.DOORS) == 2


def test_door_events_are_read_page_by_page_from_the_simulator(sim_client, sim):
    now = datetime.now(UTC).replace(microsecond=0)
    guest = ops.PersonSpec(
        "P-1", "Ada", "Lovelace", now - timedelta(days=1), now + timedelta(days=1)
    )
    assert ops.ensure_persons(sim_client, [guest])[0].ok
    for minutes in range(5):
        # No access level covers the door: each passage is a refused event (197151).
        sim.passage(person_code="P-1", door="1", time=now - timedelta(minutes=minutes + 1))
    pages = list(
        answers.pages(
            sim_client,
            ops.DOOR_EVENTS,
            {
                "startTime": ops.iso(now - timedelta(hours=1)),
                "endTime": ops.iso(now),
                "eventType": 197151,
                "doorIndexCodes": ["1"],
            },
            page_size=2,
        )
    )
    assert [len(page) for page in pages] == [2, 2, 1]
    assert len({item["eventId"] for page in pages for item in page}) == 5
