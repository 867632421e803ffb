"""Answers and requests shared by the ``responses`` tests of the HikCentral operations."""

import json
from datetime import datetime, timedelta, timezone

import responses

from portal.hikvision import operations as ops

BASE = "https://hcp.test"
API = f"{BASE}/artemis/api"
ADD = f"{API}/resource/v1/person/single/add"
BY_CODE = f"{API}/resource/v1/person/personCode/personInfo"
BY_ID = f"{API}/resource/v1/person/personId/personInfo"
UPDATE = f"{API}/resource/v1/person/single/update"
FACE_UPDATE = f"{API}/resource/v1/person/face/update"
MSK = timezone(timedelta(hours=3))
BEGIN = datetime(2024, 5, 1, 9, 0, tzinfo=MSK)
END = datetime(2024, 5, 1, 18, 0, tzinfo=MSK)
FACE = b"\xff\xd8\xff\xe0 a jpeg \xff\xd9"
MARK = ops.face_marker(FACE)


def ok(data=""):
    return {"code": "0", "msg": "Success", "data": data}


def bad(detail):
    return {"code": "2", "msg": f"Incorrect request parameter. [{detail}]", "data": ""}


def missing(detail="person does not exist"):
    return {"code": "128", "msg": f"The request resource does not exist. [{detail}]", "data": ""}


def body_of(call):
    return json.loads(call.request.body)


def calls_to(path):
    return [c for c in responses.calls if c.request.url == f"{API}{path}"]


def spec(code="G-1", face=FACE, **fields):
    return ops.PersonSpec(
        person_code=code, given_name="Ada", family_name="Lovelace", begin=BEGIN, end=END,
        face=face, **fields,
    )  # fmt: skip


def stored(begin="2024-05-01T09:00:00+03:00", end="2024-05-01T18:00:00+03:00", **fields):
    """personInfo of the guest ``spec()`` describes, as live servers answer it: personPhoto an
    object, ids as strings; ``fields`` change or add to it."""
    person = {
        "personId": "555",
        "personCode": "G-1",
        "personFamilyName": "Lovelace",
        "personGivenName": "Ada",
        "gender": 0,
        "orgIndexCode": "1",
        "beginTime": begin,
        "endTime": end,
        "remark": MARK,
        "personPhoto": {"picUri": "/pic/555", "picBigUri": "/pic/555"},
    }
    return ok(person | fields)
