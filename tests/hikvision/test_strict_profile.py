"""The simulator's strict profile answers as live servers were seen to (signed calls, socket)."""

import pytest
import requests

from portal.hikvision.simulator.server import SimulatorServer
from tests.hikvision.test_simulator import (
    ADD,
    ADD_PERSONS,
    BY_CODE,
    BY_ID,
    DETAIL,
    EVENTS,
    REAPPLY,
    UPDATE,
    add_person,
    jpeg,
    person_body,
)

PARAMETER_ERROR = {"code": "2", "msg": "personCode parameter error", "data": ""}


@pytest.fixture
def strict(sim):
    sim.configure(profile="strict")
    return sim


def test_a_repeated_person_code_is_a_bare_parameter_error(sim_api, strict):
    add_person(sim_api, "S1")
    assert sim_api.call(ADD, person_body("S1")) == PARAMETER_ERROR
    assert len(strict.state()["persons"]) == 1


def test_a_person_code_longer_than_10_characters_is_refused(sim_api, strict):
    assert sim_api.call(ADD, person_body("ABCDEFGHIJK")) == PARAMETER_ERROR
    add_person(sim_api, "ABCDEFGHIJ")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("personFamilyName", "O'Brien"),
        ("personGivenName", "A/B"),
        ("remark", "gatehouse:face=0123456789abcdef"),
        ("remark", 'say "hi"'),
    ],
)
def test_forbidden_characters_are_refused_field_by_field(sim_api, strict, field, value):
    answer = sim_api.call(ADD, person_body("S2", **{field: value}))
    assert answer == {"code": "2", "msg": f"{field} parameter error", "data": ""}
    assert strict.state()["persons"] == []


def test_the_friendly_profile_accepts_what_strict_refuses(sim_api, sim):
    add_person(sim_api, "LONG-CODE-12345", personFamilyName="O'Brien", remark="a:b")
    answer = sim_api.call(ADD, person_body("LONG-CODE-12345"))
    assert answer["msg"] == "Incorrect request parameter. [personCode already exists]"


def test_faces_above_500_px_are_refused(sim_api, strict):
    answer = sim_api.call(ADD, person_body("S3", faces=[{"faceData": jpeg(640, 480)}]))
    assert answer == {"code": "2", "msg": "faceData parameter error", "data": ""}
    add_person(sim_api, "S3", faces=[{"faceData": jpeg(400, 500)}])


def stored_end(api, person_id):
    return api.call(BY_ID, {"personId": person_id})["data"]["endTime"]


def test_the_first_validity_change_is_answered_success_and_ignored(sim_api, strict):
    person_id = add_person(sim_api, "S4")
    change = {"personId": person_id, "personCode": "S4", "endTime": "2030-05-02T18:00:00+03:00"}
    assert sim_api.call(UPDATE, change)["code"] == "0"
    assert stored_end(sim_api, person_id) == "2030-05-01T18:00:00+03:00"
    assert sim_api.call(UPDATE, change)["code"] == "0"
    assert stored_end(sim_api, person_id) == "2030-05-02T18:00:00+03:00"


def test_validity_ignored_keeps_the_window_for_ever(sim_api, sim):
    person_id = add_person(sim_api, "S5")
    sim.configure(validity_ignored=["S5"])
    change = {"personId": person_id, "endTime": "2030-05-02T18:00:00+03:00"}
    for _ in range(3):
        assert sim_api.call(UPDATE, change)["code"] == "0"
    assert stored_end(sim_api, person_id) == "2030-05-01T18:00:00+03:00"


def test_reapplication_answers_code_1_once_after_a_good_grant(sim_api, sim):
    person_id = add_person(sim_api, "S6")
    sim.configure(reapply_unknown_error=["S6"])
    grant = {"privilegeGroupId": "1", "type": 1, "list": [{"id": person_id}]}
    assert sim_api.call(ADD_PERSONS, grant)["code"] == "0"
    first = sim_api.call(REAPPLY, {"personIds": person_id, "ImmediateDownload": 0})
    assert first == {"code": "1", "msg": "Unknow Error(0, 3651)", "data": ""}
    assert sim.person("S6")["access_levels"] == ["1"]  # the grant stands
    second = sim_api.call(REAPPLY, {"personIds": person_id, "ImmediateDownload": 0})
    assert second["code"] == "0"


def test_element_download_detail_does_not_know_persons(sim_api, strict):
    person_id = add_person(sim_api, "S7")
    answer = sim_api.call(DETAIL, {"id": person_id})
    assert answer == {"code": "128", "msg": "The request resource does not exist", "data": ""}


def test_door_events_without_door_index_codes_are_refused(sim_api, strict):
    body = {
        "startTime": "2030-05-01T09:00:00+03:00",
        "endTime": "2030-05-01T18:00:00+03:00",
        "eventType": 196893,
        "pageNo": 1,
        "pageSize": 100,
    }
    answer = sim_api.call(EVENTS, body)
    assert answer == {"code": "2", "msg": "doorIndexCodes parameter error", "data": ""}
    assert sim_api.call(EVENTS, {**body, "doorIndexCodes": ["1"]})["code"] == "0"


def test_an_unknown_person_code_is_a_bare_code_128(sim_api, strict):
    answer = sim_api.call(BY_CODE, {"personCode": "NOPE"})
    assert answer == {"code": "128", "msg": "The request resource does not exist", "data": ""}


def test_reset_keeps_the_start_profile():
    with SimulatorServer(profile="strict") as server:
        control = server.control()
        control.configure(profile="friendly")
        control.reset()
        assert control.state()["config"]["profile"] == "strict"
        control.close()


def test_an_unknown_profile_is_refused(sim):
    with pytest.raises(Exception, match="profile must be one of friendly, strict"):
        sim.configure(profile="grumpy")


def test_a_lost_answer_was_carried_out_and_faults_can_aim_at_one_path(sim_api, sim):
    sim.configure(fault_script=["lost"], fault_paths=[ADD])
    assert sim_api.call(BY_CODE, {"personCode": "S8"})["code"] == "128"  # not aimed at
    with pytest.raises(requests.ConnectionError):
        sim_api.post(ADD, person_body("S8"))
    assert sim.person("S8") is not None  # done, though nobody heard the answer
    assert sim.stats()["faults_by_kind"] == {"lost": 1}
