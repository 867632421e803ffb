"""The HikCentral simulator's OpenAPI endpoints, driven over a real socket with signed requests."""

import base64
import io
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from PIL import Image

from portal.hikvision.signing import compute_signature, sign_headers, string_to_sign

P = "/artemis/api"
ADD = P + "/resource/v1/person/single/add"
UPDATE = P + "/resource/v1/person/single/update"
DELETE = P + "/resource/v1/person/single/delete"
BY_CODE = P + "/resource/v1/person/personCode/personInfo"
BY_ID = P + "/resource/v1/person/personId/personInfo"
LIST = P + "/resource/v1/person/personList"
SEARCH = P + "/resource/v1/person/advance/personList"
FACE = P + "/resource/v1/person/face/update"
LEVELS = P + "/acs/v1/privilege/group"
ADD_PERSONS = P + "/acs/v1/privilege/group/single/addPersons"
DELETE_PERSONS = P + "/acs/v1/privilege/group/single/deletePersons"
MEMBERS = P + "/acs/v1/privilege/group/single/personList"
REAPPLY = P + "/visitor/v1/auth/reapplication"
DETAIL = P + "/visitor/v1/person/ID/elementDownloadDetail"
DOORS = P + "/resource/v1/acsDoor/acsDoorList"
EVENTS = P + "/acs/v1/door/events"


def jpeg(width=240, height=320, noise=False, fmt="JPEG"):
    """Base64 of a picture; ``noise`` makes it incompressible (large)."""
    if noise:
        image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), (200, 170, 150))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": 98} if fmt == "JPEG" else {}))
    return base64.b64encode(buffer.getvalue()).decode()


def person_body(code="V-1", **fields):
    body = {
        "personCode": code,
        "personFamilyName": "Doe",
        "personGivenName": "Jane",
        "orgIndexCode": "1",
        "beginTime": "2030-05-01T09:00:00+03:00",
        "endTime": "2030-05-01T18:00:00+03:00",
    }
    body.update(fields)
    return body


def add_person(api, code="V-1", **fields):
    answer = api.call(ADD, person_body(code, **fields))
    assert answer["code"] == "0", answer
    return answer["data"]


def admitted_person(api, code="V-1", level="2", **fields):
    """A person the simulated doors let in: a face, a validity, an access level (all doors)."""
    person_id = add_person(api, code, faces=[{"faceData": jpeg()}], **fields)
    answer = api.call(
        ADD_PERSONS, {"privilegeGroupId": level, "type": 1, "list": [{"id": person_id}]}
    )
    assert answer["code"] == "0", answer
    return person_id


def iso(moment):
    return moment.replace(microsecond=0).isoformat()


# --- transport and signature -------------------------------------------------------------------


def test_version_answers_success_envelope(sim_api):
    answer = sim_api.call(P + "/common/v1/version")
    assert answer["code"] == "0" and answer["msg"] == "Success"
    assert answer["data"]["produceName"] == "HikCentral Professional"
    assert answer["data"]["softVersion"]


def test_wrong_secret_is_code_64(sim_api, sim):
    response = sim_api.post(P + "/common/v1/version", app_secret="not-the-secret")
    assert response.status_code == 200
    assert response.json() == {"code": "64", "msg": "User authentication failed", "data": ""}
    assert response.headers["X-Sim-Auth-Reason"] == "signature incorrect"
    assert sim.stats()["auth_failures"] == 1


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"x-ca-key": "99999999"}, "no partner for this AppKey"),
        ({"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}, "body does not match Content-MD5"),
        ({"x-ca-signature": ""}, "signature is empty"),
    ],
)
def test_refused_signatures_are_code_64(sim_api, headers, reason):
    response = sim_api.post(P + "/common/v1/version", headers=headers)
    assert response.json()["code"] == "64"
    assert response.headers["X-Sim-Auth-Reason"] == reason


def test_stale_timestamp_is_refused(sim_api):
    response = sim_api.post(P + "/common/v1/version", now=time.time() - 3600)
    assert response.json()["code"] == "64"
    assert "clock skew" in response.headers["X-Sim-Auth-Reason"]


def test_missing_app_key_is_code_64(sim_api):
    response = requests.post(sim_api.url + P + "/common/v1/version", json={}, timeout=5)
    assert response.json()["code"] == "64"
    assert response.headers["X-Sim-Auth-Reason"] == "AppKey is empty"


def test_minimal_variant_without_signed_custom_headers_is_accepted(sim_api):
    # The notes' variant A: only Accept and Content-Type in the string, no x-ca-* signed.
    path = P + "/common/v1/version"
    text = string_to_sign("POST", path, {"Accept": "*/*", "Content-Type": "application/json"}, [])
    minimal = {
        "Accept": "*/*",
        "Content-Type": "application/json",
        "X-Ca-Key": sim_api.app_key,
        "X-Ca-Signature": compute_signature(sim_api.app_secret, text),
    }
    response = requests.post(sim_api.url + path, data=b"{}", headers=minimal, timeout=5)
    assert response.json()["code"] == "0"


def test_unknown_artemis_path_is_http_404(sim_api, sim):
    response = sim_api.post(P + "/resource/v9/nothing/here")
    assert response.status_code == 404


def test_paths_missing_in_this_version_answer_code_8(sim_api, sim):
    answer = sim_api.call(P + "/resource/v2/person/personList", {"pageNo": 1, "pageSize": 10})
    assert answer == {"code": "8", "msg": "This product version is not supported", "data": ""}
    sim.configure(unsupported_paths=[DETAIL])
    assert sim_api.call(DETAIL, {"id": "1"})["code"] == "8"


def test_body_that_is_not_a_json_object_is_code_2(sim_api):
    path = P + "/resource/v1/org/orgList"
    raw = b"[1, 2]"
    headers = sign_headers(
        "POST",
        path,
        raw,
        sim_api.app_key,
        sim_api.app_secret,
        accept="application/json",
        content_type="application/json",
    )
    answer = requests.post(sim_api.url + path, data=raw, headers=headers, timeout=5).json()
    assert answer["code"] == "2"
    assert answer["msg"] == "Incorrect request parameter. [request body must be a JSON object]"


# --- paging --------------------------------------------------------------------------------------


def test_org_list_has_the_seed_organization(sim_api):
    data = sim_api.call(P + "/resource/v1/org/orgList", {"pageNo": 1, "pageSize": 10})["data"]
    assert data["total"] == 1 and data["list"][0]["orgIndexCode"] == "1"


@pytest.mark.parametrize(
    ("paging", "detail"),
    [
        ({"pageNo": 0, "pageSize": 10}, "pageNo must be at least 1"),
        ({"pageNo": 1, "pageSize": 0}, "pageSize must be between 1 and 500"),
        ({"pageNo": 1, "pageSize": 501}, "pageSize must be between 1 and 500"),
        ({"pageSize": 10}, "pageNo is required"),
        ({"pageNo": "1", "pageSize": 10}, "pageNo must be an integer"),
    ],
)
def test_paging_limits_are_code_2(sim_api, paging, detail):
    answer = sim_api.call(LIST, paging)
    assert answer["code"] == "2"
    assert answer["msg"] == f"Incorrect request parameter. [{detail}]"


def test_empty_page_omits_list_and_pages_split(sim_api):
    data = sim_api.call(LIST, {"pageNo": 1, "pageSize": 500})["data"]
    assert data == {"total": 0, "pageNo": 1, "pageSize": 500}
    for n in range(5):
        add_person(sim_api, f"P-{n}")
    second = sim_api.call(LIST, {"pageNo": 2, "pageSize": 2})["data"]
    assert second["total"] == 5 and [p["personCode"] for p in second["list"]] == ["P-2", "P-3"]
    past_end = sim_api.call(LIST, {"pageNo": 4, "pageSize": 2})["data"]
    assert past_end["total"] == 5 and past_end["list"] == []


# --- persons ---------------------------------------------------------------------------------


def test_add_returns_string_id_and_lookups_return_the_person(sim_api):
    person_id = add_person(
        sim_api, remark="visit:42", phoneNo="+7 900", faces=[{"faceData": jpeg()}]
    )
    assert isinstance(person_id, str) and person_id.isdigit()
    by_code = sim_api.call(BY_CODE, {"personCode": "V-1"})["data"]
    by_id = sim_api.call(BY_ID, {"personId": person_id})["data"]
    assert by_code == by_id
    assert by_id["personId"] == person_id and by_id["personName"] == "Jane Doe"
    assert by_id["remark"] == "visit:42" and by_id["phoneNo"] == "+7 900"
    assert by_id["beginTime"] == "2030-05-01T09:00:00+03:00"
    assert by_id["personPhoto"]["picUri"]


def test_person_without_face_has_empty_pic_uri(sim_api):
    add_person(sim_api)
    person = sim_api.call(BY_CODE, {"personCode": "V-1"})["data"]
    assert person["personPhoto"]["picUri"] == ""


def test_duplicate_person_code_is_code_2(sim_api):
    add_person(sim_api)
    answer = sim_api.call(ADD, person_body())
    assert answer == {
        "code": "2",
        "msg": "Incorrect request parameter. [personCode already exists]",
        "data": "",
    }


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"personCode": None}, "personCode is required"),
        ({"personGivenName": " "}, "personGivenName must not be empty"),
        ({"personFamilyName": ""}, "personFamilyName must not be empty"),
        ({"orgIndexCode": "77"}, "orgIndexCode does not exist"),
        ({"orgIndexCode": 1}, "orgIndexCode must be a string"),
        ({"endTime": "2030-05-01T08:00:00+03:00"}, "beginTime must be earlier than endTime"),
        ({"beginTime": "2030-05-01T09:00:00"}, "beginTime must be ISO 8601 with offset"),
        ({"beginTime": "2030-05-01T09:00:00+0300"}, "beginTime must be ISO 8601 with offset"),
        ({"endTime": "2030-05-01T18:00:00.123+03:00"}, "endTime must be ISO 8601 with offset"),
    ],
)
def test_add_refuses_bad_fields(sim_api, fields, detail):
    body = {k: v for k, v in person_body(**fields).items() if v is not None}
    answer = sim_api.call(ADD, body)
    assert answer["code"] == "2"
    assert answer["msg"].startswith(f"Incorrect request parameter. [{detail}")


@pytest.mark.parametrize(
    ("face", "detail"),
    [
        (lambda: jpeg(fmt="PNG"), "faces[0].faceData is not a JPEG picture"),
        (lambda: jpeg(80, 300), "faces[0].faceData picture is 80x300 px, smaller than 100 px"),
        (lambda: jpeg(700, 700, noise=True), "larger than 200 KB"),
        (lambda: "not base64!", "faces[0].faceData is not valid Base64"),
        (
            lambda: base64.b64encode(b"\xff\xd8garbage").decode(),
            "faces[0].faceData is not a JPEG picture (it cannot be decoded)",
        ),
    ],
)
def test_add_refuses_bad_faces(sim_api, sim, face, detail):
    answer = sim_api.call(ADD, person_body(faces=[{"faceData": face()}]))
    assert answer["code"] == "2"
    assert detail in answer["msg"]
    assert sim.state()["persons"] == []


def test_update_changes_validity_and_keeps_other_fields(sim_api):
    person_id = add_person(sim_api, remark="keep me")
    answer = sim_api.call(
        UPDATE,
        {
            "personId": person_id,
            "personCode": "V-1",
            "beginTime": "2030-05-02T09:00:00+03:00",
            "endTime": "2030-05-03T09:00:00+03:00",
        },
    )
    assert answer == {"code": "0", "msg": "Success", "data": ""}
    person = sim_api.call(BY_ID, {"personId": person_id})["data"]
    assert person["endTime"] == "2030-05-03T09:00:00+03:00"
    assert person["remark"] == "keep me" and person["personGivenName"] == "Jane"


def test_update_refuses_end_before_stored_begin_and_unknown_person(sim_api):
    person_id = add_person(sim_api)
    early = sim_api.call(UPDATE, {"personId": person_id, "endTime": "2030-01-01T00:00:00+00:00"})
    assert early["code"] == "2" and "beginTime must be earlier than endTime" in early["msg"]
    gone = sim_api.call(UPDATE, {"personId": "999999", "remark": "x"})
    assert gone["code"] == "128"
    assert gone["msg"] == "The request resource does not exist. [person does not exist]"


def test_update_with_person_photo_succeeds_but_stores_nothing(sim_api):
    person_id = add_person(sim_api)
    answer = sim_api.call(UPDATE, {"personId": person_id, "personPhoto": {"picData": jpeg()}})
    assert answer["code"] == "0"
    assert sim_api.call(BY_ID, {"personId": person_id})["data"]["personPhoto"]["picUri"] == ""


def test_unknown_person_code_is_code_128(sim_api):
    answer = sim_api.call(BY_CODE, {"personCode": "nobody"})
    assert answer["code"] == "128"
    assert answer["msg"] == "The request resource does not exist. [person does not exist]"


def test_delete_removes_person_and_memberships(sim_api, sim):
    person_id = add_person(sim_api)
    sim_api.call(ADD_PERSONS, {"privilegeGroupId": "1", "type": 1, "list": [{"id": person_id}]})
    assert sim_api.call(DELETE, {"personId": person_id})["code"] == "0"
    assert sim_api.call(BY_ID, {"personId": person_id})["code"] == "128"
    assert sim_api.call(DELETE, {"personId": person_id})["code"] == "128"
    assert sim.state()["access_levels"][0]["members"] == []


def test_advance_search_filters_by_code_and_name(sim_api):
    add_person(sim_api, "EV-1", personGivenName="Anna", personFamilyName="Berg")
    add_person(sim_api, "EV-2", personGivenName="Boris", personFamilyName="Chen")
    add_person(sim_api, "X-3", personGivenName="Anna", personFamilyName="Chen")
    by_code = sim_api.call(SEARCH, {"pageNo": 1, "pageSize": 10, "personCode": "EV-"})["data"]
    assert [p["personCode"] for p in by_code["list"]] == ["EV-1", "EV-2"]
    by_name = sim_api.call(SEARCH, {"pageNo": 1, "pageSize": 10, "personName": "anna"})["data"]
    assert {p["personCode"] for p in by_name["list"]} == {"EV-1", "X-3"}
    nothing = sim_api.call(SEARCH, {"pageNo": 1, "pageSize": 10, "personName": "zed"})["data"]
    assert nothing == {"total": 0, "pageNo": 1, "pageSize": 10}


def test_face_update_sets_face_and_refuses_bad_payloads(sim_api, sim):
    person_id = add_person(sim_api)
    assert sim_api.call(FACE, {"personId": person_id, "faceData": jpeg()})["code"] == "0"
    assert sim.person("V-1")["has_face"] is True
    both = sim_api.call(FACE, {"personId": person_id, "personCode": "V-1", "faceData": jpeg()})
    assert both["code"] == "2"
    assert both["msg"] == "Incorrect request parameter. [personId and personCode can only have one]"
    small = sim_api.call(FACE, {"personId": person_id, "faceData": jpeg(99, 99)})
    assert small["code"] == "2" and "smaller than 100 px" in small["msg"]
    assert sim_api.call(FACE, {"personId": "424242", "faceData": jpeg()})["code"] == "128"


# --- access levels ---------------------------------------------------------------------------


def test_access_levels_are_seeded(sim_api):
    for kind in (1, 2):
        data = sim_api.call(LEVELS, {"pageNo": 1, "pageSize": 100, "type": kind})["data"]
        assert data["total"] == 3
        names = [lv["privilegeGroupName"] for lv in data["list"]]
        assert names == ["Visitors – Lobby", "Visitors – Offices", "Event Hall"]
        assert all(isinstance(lv["privilegeGroupId"], str) for lv in data["list"])
    assert sim_api.call(LEVELS, {"pageNo": 1, "pageSize": 100, "type": 3})["code"] == "2"


def test_add_and_delete_persons_are_idempotent(sim_api, sim):
    ids = [add_person(sim_api, f"V-{n}") for n in range(3)]
    body = {"privilegeGroupId": "2", "type": 1, "list": [{"id": i} for i in ids]}
    assert sim_api.call(ADD_PERSONS, body)["code"] == "0"
    assert sim_api.call(ADD_PERSONS, body)["code"] == "0"
    members = sim_api.call(
        MEMBERS, {"privilegeGroupId": "2", "type": 1, "pageNo": 1, "pageSize": 10}
    )
    assert [m["id"] for m in members["data"]["list"]] == ids
    remove = {"privilegeGroupId": "2", "type": 1, "list": [{"id": ids[0]}]}
    assert sim_api.call(DELETE_PERSONS, remove)["code"] == "0"
    assert sim_api.call(DELETE_PERSONS, remove)["code"] == "0"
    assert sim.person("V-0")["access_levels"] == []
    assert sim.person("V-1")["access_levels"] == ["2"]


def test_add_persons_refuses_unknown_group_and_names_unknown_persons(sim_api, sim):
    known = add_person(sim_api)
    group = sim_api.call(
        ADD_PERSONS, {"privilegeGroupId": "99", "type": 1, "list": [{"id": known}]}
    )
    assert group["code"] == "128"
    assert group["msg"] == "The request resource does not exist. [privilege group does not exist]"
    body = {"privilegeGroupId": "1", "type": 1, "list": [{"id": known}, {"id": "7"}, {"id": "8"}]}
    answer = sim_api.call(ADD_PERSONS, body)
    assert answer["code"] == "2"
    assert answer["msg"] == "Incorrect request parameter. [person does not exist: 7,8]"
    assert sim.person("V-1")["access_levels"] == []  # all or nothing


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"privilegeGroupId": "1", "list": [{"id": "1"}]}, "type is required"),
        ({"privilegeGroupId": "1", "type": 1, "list": []}, "list must be a non-empty list"),
        ({"privilegeGroupId": "1", "type": 1, "list": [{"id": 5}]}, "every list entry needs"),
        ({"privilegeGroupId": 1, "type": 1, "list": [{"id": "1"}]}, "privilegeGroupId must be"),
    ],
)
def test_add_persons_refuses_malformed_bodies(sim_api, body, detail):
    answer = sim_api.call(ADD_PERSONS, body)
    assert answer["code"] == "2" and detail in answer["msg"]


# --- delivery -----------------------------------------------------------------------------------


def statuses(api, person_id):
    data = api.call(DETAIL, {"id": person_id})["data"]
    return {
        detail["doorIndexCode"]: [e["elementStatus"] for e in detail["ElementStatus"]]
        for detail in data["ElementDetailList"]["ElementDetail"]
    }


def test_delivery_is_pending_until_reapplied_then_applied_after_delay(sim_api, sim):
    sim.configure(delivery_delay=0.3)
    person_id = add_person(sim_api, faces=[{"faceData": jpeg()}])
    sim_api.call(ADD_PERSONS, {"privilegeGroupId": "1", "type": 1, "list": [{"id": person_id}]})
    assert statuses(sim_api, person_id) == {"1": [1, 1], "2": [1, 1]}
    time.sleep(0.4)
    assert statuses(sim_api, person_id) == {"1": [1, 1], "2": [1, 1]}  # nothing re-applied
    assert sim_api.call(REAPPLY, {"personIds": person_id, "ImmediateDownload": 0})["code"] == "0"
    assert sim.person("V-1")["delivery"] == "pending"
    deadline = time.monotonic() + 5
    while statuses(sim_api, person_id) != {"1": [0, 0], "2": [0, 0]}:
        assert time.monotonic() < deadline, "delivery never applied"
        time.sleep(0.1)
    assert sim.person("V-1")["delivery"] == "applied"
    # A later change waits for the next re-application again.
    sim_api.call(UPDATE, {"personId": person_id, "endTime": "2030-05-09T18:00:00+03:00"})
    assert statuses(sim_api, person_id)["1"] == [1, 1]


def test_offices_level_reaches_four_devices_and_no_face_means_one_element(sim_api):
    person_id = add_person(sim_api)
    sim_api.call(ADD_PERSONS, {"privilegeGroupId": "2", "type": 1, "list": [{"id": person_id}]})
    assert statuses(sim_api, person_id) == {"1": [1], "2": [1], "3": [1], "4": [1]}


def test_configured_delivery_failures_report_status_2(sim_api, sim):
    sim.configure(delivery_delay=0, delivery_failures=["V-bad"])
    bad_id = add_person(sim_api, "V-bad")
    good_id = add_person(sim_api, "V-good")
    body = {"privilegeGroupId": "1", "type": 2, "list": [{"id": bad_id}, {"id": good_id}]}
    sim_api.call(ADD_PERSONS, body)
    sim_api.call(REAPPLY, {})  # no personIds: every changed person
    assert set(sum(statuses(sim_api, bad_id).values(), [])) == {2}
    assert set(sum(statuses(sim_api, good_id).values(), [])) == {0}
    assert sim.person("V-bad")["delivery"] == "failed"


def test_reapplication_needs_a_string_and_skips_unknown_ids(sim_api):
    person_id = add_person(sim_api)
    wrong = sim_api.call(REAPPLY, {"personIds": [person_id]})
    assert wrong["code"] == "2" and "comma-separated string" in wrong["msg"]
    assert sim_api.call(REAPPLY, {"personIds": f"{person_id},555555"})["code"] == "0"
    assert sim_api.call(DETAIL, {"id": "555555"})["code"] == "128"


# --- doors and events -------------------------------------------------------------------------


def test_doors_are_seeded_with_in_and_out_readers(sim_api):
    data = sim_api.call(DOORS, {"pageNo": 1, "pageSize": 10})["data"]
    names = [d["doorName"] for d in data["list"]]
    assert data["total"] == 4
    assert sum("(in)" in n for n in names) == 2 and sum("(out)" in n for n in names) == 2


def events_body(start, end, **fields):
    body = {
        "startTime": iso(start),
        "endTime": iso(end),
        "eventType": 196893,
        "doorIndexCodes": ["1", "2", "3", "4"],
    }
    body.update({"pageNo": 1, "pageSize": 100}, **fields)
    return body


def test_passages_become_door_events_with_direction(sim_api, sim):
    person_id = admitted_person(sim_api)
    base = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
    sim.passage(person_code="V-1", door="1", direction="in", time=base)
    sim.passage(
        person_id=person_id,
        door="Main entrance (out)",
        direction="out",
        time=base + timedelta(hours=2),
    )
    data = sim_api.call(EVENTS, events_body(base - timedelta(hours=1), base + timedelta(hours=3)))
    events = data["data"]["list"]
    assert data["data"]["total"] == 2
    # Newest first, as HCP answers by default.
    assert [e["inAndOutType"] for e in events] == [0, 1]
    first = events[1]
    assert first["eventType"] == 196893 and first["personId"] == person_id
    assert first["eventTime"] == "2030-05-01T09:00:00+00:00"
    assert first["doorIndexCode"] == "1" and first["doorName"] == "Main entrance (in)"
    assert first["personName"] == "Jane Doe" and first["receiveTime"]
    assert isinstance(first["eventId"], str)
    ascending = sim_api.call(EVENTS, events_body(base, base + timedelta(hours=3), orderType=0))[
        "data"
    ]["list"]
    assert [e["inAndOutType"] for e in ascending] == [1, 0]


def test_the_simulated_device_decides_like_a_face_terminal(sim_api, sim):
    """No face, outside the validity, no access level covering the door: refused (197151)."""
    inside = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)  # the window is 06:00-15:00 UTC
    admitted_person(sim_api, "OK", level="1")  # "Visitors – Lobby": doors 1 and 2 only
    add_person(sim_api, "NOFACE")
    cases = [
        ("OK", "1", inside, True, None),
        ("OK", "2", inside, True, None),
        ("OK", "3", inside, False, "no access level covers this door"),
        ("OK", "1", inside + timedelta(hours=8), False, "outside the validity period"),
        ("NOFACE", "1", inside, False, "no face enrolled"),
    ]
    for code, door, moment, granted, reason in cases:
        answer = sim.passage(person_code=code, door=door, direction="in", time=moment)
        assert (answer["granted"], answer["reason"]) == (granted, reason), (code, door)
        assert answer["eventType"] == (196893 if granted else 197151)
        assert answer["inAndOutType"] == 1
    out = sim.passage(person_code="OK", door="2", direction="out", time=inside)
    assert out["inAndOutType"] == 0 and out["granted"] is True
    refused = sim_api.call(
        EVENTS,
        events_body(inside - timedelta(hours=1), inside + timedelta(hours=9), eventType=197151),
    )["data"]
    assert refused["total"] == 3


def test_event_filters_doors_name_type_and_window(sim_api, sim):
    admitted_person(sim_api, "A", personGivenName="Anna")
    admitted_person(sim_api, "B", personGivenName="Boris")
    base = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
    sim.passage(person_code="A", door="1", time=base)
    sim.passage(person_code="B", door="3", time=base)
    sim.passage(person_code="B", door="3", time=base, event_type=197151)
    sim.passage(person_code="A", door="1", time=base + timedelta(days=2))
    window = (base - timedelta(minutes=1), base + timedelta(minutes=1))

    def total(**fields):
        return sim_api.call(EVENTS, events_body(*window, **fields))["data"]["total"]

    assert total() == 2
    assert total(doorIndexCodes=["3"]) == 1
    assert total(personName="anna") == 1
    assert total(eventType=197151) == 1


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"endTime": "2030-06-02T00:00:01+00:00"}, "cannot exceed 31 days"),
        ({"startTime": "2030-05-01 00:00:00"}, "startTime must be ISO 8601 with offset"),
        ({"eventType": None}, "eventType is required"),
        ({"doorIndexCodes": None}, "doorIndexCodes is required"),
        ({"eventType": [196893]}, "eventType must be an integer"),
        ({"doorIndexCodes": [str(n) for n in range(11)]}, "at most 10 doors"),
        ({"endTime": "2030-04-30T00:00:00+00:00"}, "startTime must not be later than endTime"),
    ],
)
def test_event_search_refusals(sim_api, fields, detail):
    body = {
        "startTime": "2030-05-01T00:00:00+00:00",
        "endTime": "2030-06-01T00:00:00+00:00",
        "eventType": 196893,
        "pageNo": 1,
        "pageSize": 100,
    }
    body.update(fields)
    body = {k: v for k, v in body.items() if v is not None}
    answer = sim_api.call(EVENTS, body)
    assert answer["code"] == "2" and detail in answer["msg"]


def test_exactly_31_days_is_allowed(sim_api):
    body = events_body(datetime(2030, 5, 1, tzinfo=UTC), datetime(2030, 6, 1, tzinfo=UTC))
    assert sim_api.call(EVENTS, body)["data"] == {"total": 0, "pageNo": 1, "pageSize": 100}
