"""What live HikCentral servers were seen to answer (notes §8), one test each (``responses``)."""

import base64
import io
import json
from datetime import timedelta

import pytest
import requests
import responses
from PIL import Image

from portal.hikvision import identifiers
from portal.hikvision import operations as ops
from tests.hikvision.support import (
    ADD,
    BEGIN,
    BY_CODE,
    BY_ID,
    END,
    FACE,
    FACE_UPDATE,
    MARK,
    UPDATE,
    body_of,
    calls_to,
    ok,
    spec,
    stored,
)

# §8.1 and §8.8: the bare answers live servers gave.
PARAMETER_ERROR = {"code": "2", "msg": "personCode parameter error", "data": ""}
UNKNOWN = {"code": "128", "msg": "The request resource does not exist", "data": ""}


pytestmark = pytest.mark.usefixtures("no_sleep")


# --- §8.1 a repeated personCode ----------------------------------------------------------------


def test_a_bare_parameter_error_is_followed_by_a_lookup_and_the_person_adopted(client, mocked):
    mocked.post(ADD, json=PARAMETER_ERROR)
    mocked.post(BY_CODE, json=stored())
    [result] = ops.ensure_persons(client, [spec()])
    assert (result.ok, result.person_id, result.action) == (True, "555", "unchanged")
    assert len(calls_to("/resource/v1/person/single/add")) == 1
    assert body_of(calls_to("/resource/v1/person/personCode/personInfo")[0]) == {
        "personCode": "G-1"
    }


def test_a_refusal_is_declared_only_after_the_lookup_finds_nobody(client, mocked):
    mocked.post(ADD, json=PARAMETER_ERROR)
    mocked.post(BY_CODE, json=UNKNOWN)
    [result] = ops.ensure_persons(client, [spec()])
    assert not result.ok and not result.transient
    assert result.error == "HikCentral refused the guest's person code."
    assert len(calls_to("/resource/v1/person/personCode/personInfo")) == 1


def test_a_lookup_that_fails_transiently_leaves_the_guest_for_a_retry(client, mocked):
    mocked.post(ADD, json=PARAMETER_ERROR)
    mocked.post(BY_CODE, body=requests.exceptions.ConnectionError("reset"))
    [result] = ops.ensure_persons(client, [spec()])
    assert not result.ok and result.transient  # the job is retried; the guest is not failed
    assert "refused" not in result.error


def test_a_retried_run_looks_before_it_adds(client, mocked):
    mocked.post(BY_CODE, json=stored())
    [result] = ops.ensure_persons(client, [spec(look_first=True)])
    assert (result.ok, result.person_id) == (True, "555")
    assert calls_to("/resource/v1/person/single/add") == []


def test_a_retried_run_adds_when_the_lookup_finds_nobody(client, mocked):
    mocked.post(BY_CODE, json=UNKNOWN)
    mocked.post(ADD, json=ok("900"))
    [result] = ops.ensure_persons(client, [spec(look_first=True)])
    assert (result.ok, result.person_id, result.action) == (True, "900", "created")


def test_the_happy_path_is_one_call_per_new_guest(client, mocked):
    mocked.post(ADD, json=ok("901"))
    results = ops.ensure_persons(client, [spec("G-1"), spec("G-2"), spec("G-3")])
    assert all(r.ok and r.action == "created" for r in results)
    assert len(responses.calls) == 3


def test_an_older_code_found_on_the_server_is_adopted_and_kept(client, mocked):
    legacy = "GH0123456789ABCDEF"
    mocked.post(BY_CODE, json=stored(personCode=legacy))
    new = identifiers.safe_code_for(legacy)
    [result] = ops.ensure_persons(client, [spec(new, legacy_code=legacy)])
    assert (result.ok, result.person_code) == (True, legacy)
    assert calls_to("/resource/v1/person/single/add") == []


def test_an_older_code_not_on_the_server_is_replaced_by_its_safe_code(client, mocked):
    legacy = "GH0123456789ABCDEF"
    new = identifiers.safe_code_for(legacy)
    mocked.post(BY_CODE, json=UNKNOWN)
    mocked.post(BY_CODE, json=UNKNOWN)
    mocked.post(ADD, json=ok("902"))
    [result] = ops.ensure_persons(client, [spec(new, legacy_code=legacy)])
    assert (result.ok, result.person_code, result.action) == (True, new, "created")
    looked = [
        body_of(c)["personCode"] for c in calls_to("/resource/v1/person/personCode/personInfo")
    ]
    assert looked == [legacy, new]
    assert body_of(calls_to("/resource/v1/person/single/add")[0])["personCode"] == new


# --- §8.3 a validity update that does not take --------------------------------------------------

NEW_END = END + timedelta(days=1)


def test_a_window_kept_by_the_server_is_sent_again_with_the_whole_person(client, mocked):
    mocked.post(UPDATE, json=ok(""))
    mocked.post(BY_ID, json=stored())  # still the old end
    mocked.post(BY_ID, json=stored(end="2024-05-02T18:00:00+03:00"))
    [result] = ops.update_validity(client, [("555", "G-1", BEGIN, NEW_END)])
    assert (result.ok, result.action, result.window_applied) == (
        True,
        "updated_on_second_try",
        True,
    )
    updates = [body_of(c) for c in calls_to("/resource/v1/person/single/update")]
    assert updates[0] == {
        "personId": "555",
        "personCode": "G-1",
        "beginTime": "2024-05-01T09:00:00+03:00",
        "endTime": "2024-05-02T18:00:00+03:00",
    }
    assert updates[1] == {
        "personId": "555",
        "personCode": "G-1",
        "personFamilyName": "Lovelace",
        "personGivenName": "Ada",
        "gender": 0,
        "orgIndexCode": "1",
        "remark": MARK,
        "beginTime": "2024-05-01T09:00:00+03:00",
        "endTime": "2024-05-02T18:00:00+03:00",
    }


def test_a_window_still_kept_after_the_second_try_is_reported_not_applied(client, mocked):
    mocked.post(UPDATE, json=ok(""))
    mocked.post(BY_ID, json=stored())
    [result] = ops.update_validity(client, [("555", "G-1", BEGIN, NEW_END)])
    assert (result.ok, result.action, result.window_applied) == (
        True,
        "window_not_applied",
        False,
    )
    assert len(calls_to("/resource/v1/person/single/update")) == 2  # retried once, not more


def test_a_window_read_back_in_another_offset_is_the_same_window(client, mocked):
    mocked.post(UPDATE, json=ok(""))
    mocked.post(
        BY_ID, json=stored(begin="2024-05-01T06:00:00+00:00", end="2024-05-02T23:00:00+08:00")
    )
    [result] = ops.update_validity(client, [("555", "G-1", BEGIN, NEW_END)])
    assert result.action == "updated"
    assert len(calls_to("/resource/v1/person/single/update")) == 1


# --- §8.6 text fields ---------------------------------------------------------------------------


def test_names_lose_the_characters_hikcentral_refuses_and_the_marker_has_none(client, mocked):
    mocked.post(ADD, json=ok("903"))
    odd = ops.PersonSpec("G-1", 'Ann "A" <Jr>', "O'Brien/Smith", BEGIN, END, face=FACE)
    ops.ensure_persons(client, [odd])
    body = body_of(responses.calls[0])
    assert body["personGivenName"] == "Ann A Jr"
    assert body["personFamilyName"] == "OBrienSmith"
    assert not identifiers.has_forbidden(body["remark"])
    assert body["remark"] == MARK


def test_a_person_stored_with_the_old_marker_is_not_sent_its_face_again(client, mocked):
    old_marker = MARK.replace("gatehouse-face-", "gatehouse:face=")
    mocked.post(ADD, json=PARAMETER_ERROR)
    mocked.post(BY_CODE, json=stored(remark=old_marker))
    [result] = ops.ensure_persons(client, [spec()])
    assert result.action == "unchanged"
    assert calls_to("/resource/v1/person/face/update") == []


# --- §8.7 faces ---------------------------------------------------------------------------------


def big_face(size=(1000, 800)):
    buffer = io.BytesIO()
    Image.new("RGB", size, (150, 120, 100)).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def test_faces_go_at_most_500_px_a_side_at_quality_80_when_set(make_client, mocked):
    client = make_client(face_max_side=500)
    mocked.post(ADD, json=ok("904"))
    face = big_face()
    ops.ensure_persons(client, [spec(face=face)])
    sent = base64.b64decode(body_of(responses.calls[0])["faces"][0]["faceData"])
    with Image.open(io.BytesIO(sent)) as image:
        assert image.format == "JPEG" and image.size == (500, 400)
    # The marker names the stored photo, so a later run recognises it.
    assert body_of(responses.calls[0])["remark"] == ops.face_marker(face)


def test_face_update_carries_person_id_and_face_data_only(client, mocked):
    mocked.post(FACE_UPDATE, json=ok(""))
    assert ops.set_face(client, "555", FACE).ok
    assert set(body_of(responses.calls[0])) == {"personId", "faceData"}


# --- §8.8 personInfo ----------------------------------------------------------------------------


def test_person_photo_as_an_object_counts_as_a_stored_face(client, mocked):
    mocked.post(ADD, json=PARAMETER_ERROR)
    mocked.post(BY_CODE, json=stored(personPhoto={"picUri": "/pic/555"}))
    [result] = ops.ensure_persons(client, [spec()])
    assert result.action == "unchanged"


def test_an_empty_pic_uri_means_the_face_is_sent_again(client, mocked):
    mocked.post(ADD, json=PARAMETER_ERROR)
    mocked.post(BY_CODE, json=stored(personPhoto={"picUri": ""}))
    mocked.post(FACE_UPDATE, json=ok(""))
    mocked.post(UPDATE, json=ok(""))
    [result] = ops.ensure_persons(client, [spec()])
    assert result.action == "updated"
    assert json.loads(calls_to("/resource/v1/person/face/update")[0].request.body) == {
        "personId": "555",
        "faceData": base64.b64encode(FACE).decode(),
    }


def test_identifier_settings_are_checked():
    with pytest.raises(identifiers.IdentifierError, match="A-Z and 0-9"):
        identifiers.new_person_code("G-", 10)
    with pytest.raises(identifiers.IdentifierError, match="between 8"):
        identifiers.new_person_code("GH", 7)
    code = identifiers.new_person_code("VIS", 10)
    assert identifiers.is_safe_code(code) and code.startswith("VIS") and len(code) == 10
