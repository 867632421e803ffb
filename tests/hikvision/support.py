"""Answers and requests shared by the ``responses`` tests of the HikCentral operations."""

import json
from datetime import datetime, timedelta, timezone

import responses

from portal.hikvision import operations as ops

BASE = "https://hcp.test"
API = f"{BASE}/artemis/api"
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
