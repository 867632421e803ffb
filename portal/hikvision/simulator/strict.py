"""The strict profile: answers the way live HikCentral servers were seen to answer.

``profile="strict"`` (``flask --app wsgi sim --profile strict``) turns on what public logs of real
servers showed, where the friendly profile answers the way a client would hope:

- a repeated personCode, a personCode longer than 10 characters or one holding a character
  outside ``A-Z a-z 0-9 - _``: code "2" "personCode parameter error" (the text never says
  "exist");
- ``' / \\ : * ? " < >`` in personFamilyName, personGivenName or remark: code "2"
  "<field> parameter error";
- faces above 500 px on a side: code "2" "faceData parameter error";
- every person's first validity change through person/single/update answers Success and is not
  stored (the next one is);
- elementDownloadDetail does not know persons (code "128" without a detail);
- door/events without ``doorIndexCodes``: code "2" "doorIndexCodes parameter error";
- an unknown personCode on personInfo: code "128" "The request resource does not exist".

Two knobs work in either profile: ``reapply_unknown_error`` (person ids or codes whose first
reapplication answers code "1" "Unknow Error(0, 3651)" and is not carried out) and
``validity_ignored`` (person ids or codes whose validity changes are never stored).
"""

import io
import re

from PIL import Image

from portal.hikvision.simulator.validation import ApiError

MAX_CODE_LENGTH = 10
MAX_FACE_SIDE = 500
FORBIDDEN = re.compile(r"['/\\:*?\"<>]")
CODE_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")
TEXT_FIELDS = ("personFamilyName", "personGivenName", "remark")


NOT_FOUND = "The request resource does not exist"


def is_strict(sim):
    return sim.knobs.config.profile == "strict"


def parameter_error(field):
    """Code 2 with the bare message live servers gave ("personCode parameter error")."""
    return ApiError("2", message=f"{field} parameter error")


def check_person_body(sim, body, *, adding):
    """Refuse what live servers refused in a person add or update (strict profile only)."""
    if not is_strict(sim):
        return
    code = body.get("personCode")
    if isinstance(code, str) and (len(code) > MAX_CODE_LENGTH or not CODE_CHARS.match(code)):
        raise parameter_error("personCode")
    for field in TEXT_FIELDS:
        value = body.get(field)
        if isinstance(value, str) and FORBIDDEN.search(value):
            raise parameter_error(field)
    if adding:
        for face in body.get("faces") or []:
            check_face_size(face.get("faceData") if isinstance(face, dict) else None)


def check_face_size(face_data):
    """faceData above 500 px a side is refused the way one live server refused it."""
    import base64
    import binascii

    if not isinstance(face_data, str):
        return
    try:
        raw = base64.b64decode(face_data, validate=True)
        with Image.open(io.BytesIO(raw)) as image:
            size = image.size
    except (binascii.Error, ValueError, OSError):
        return  # the friendly checks name what is wrong with it
    if max(size) > MAX_FACE_SIDE:
        raise parameter_error("faceData")


def duplicate_code(sim):
    """The refusal of a personCode that exists already, as each profile words it."""
    if is_strict(sim):
        return parameter_error("personCode")
    return ApiError("2", "personCode already exists")


def keeps_old_window(sim, person):
    """Whether this validity change is answered Success without being stored."""
    refs = {person.person_id, person.person_code}
    if refs & sim.knobs.config.validity_ignored:
        return True
    if is_strict(sim) and not person.window_update_seen:
        person.window_update_seen = True
        return True
    return False


def reapply_refusal(sim, persons):
    """Code 1 on the first reapplication naming a person in ``reapply_unknown_error``."""
    listed = sim.knobs.config.reapply_unknown_error
    hit = [p for p in persons if {p.person_id, p.person_code} & listed and not p.reapply_refused]
    if not hit:
        return None
    for person in hit:
        person.reapply_refused = True
    return ApiError("1")


def check_delivery_known(sim):
    """In the strict profile elementDownloadDetail knows no (type 1) person."""
    if is_strict(sim):
        raise ApiError("128", message=NOT_FOUND)


def check_door_events_body(sim, body):
    if is_strict(sim) and "doorIndexCodes" not in body:
        raise parameter_error("doorIndexCodes")


def unknown_person(sim, detail):
    """Code 128, bare as live servers answer it in the strict profile."""
    return ApiError("128", message=NOT_FOUND) if is_strict(sim) else ApiError("128", detail)
