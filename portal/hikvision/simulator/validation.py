"""Request checks shared by the simulated endpoints; failures are HCP envelopes (codes 2, 128)."""

import base64
import binascii
import io
import re
from datetime import datetime

from PIL import Image, UnidentifiedImageError

MAX_PAGE_SIZE = 500
FACE_MAX_BYTES = 200 * 1024
FACE_MIN_SIDE = 100
# The format the HCP notes give for every time field: seconds precision, offset with a colon.
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")


class ApiError(Exception):
    """A business error answered as an HTTP 200 envelope with ``code`` != "0"."""

    MESSAGES = {
        "1": "Unknow Error(0, 3651)",
        "2": "Incorrect request parameter.",
        "5": "Service exception. Hikcentral Database Exception",
        "8": "This product version is not supported",
        "64": "User authentication failed",
        "128": "The request resource does not exist.",
    }

    def __init__(self, code, detail=None, *, message=None):
        self.code = code
        self.detail = detail
        base = message or self.MESSAGES[code]
        self.msg = f"{base} [{detail}]" if detail else base
        super().__init__(self.msg)


def bad(detail):
    """Code 2: a missing or malformed request parameter."""
    return ApiError("2", detail)


def missing(detail):
    """Code 128: the resource the request names does not exist."""
    return ApiError("128", detail)


def _given(body, name, optional):
    """The field's value; None when it is absent and optional, code 2 when it is required."""
    value = body.get(name)
    if value is None and not optional:
        raise bad(f"{name} is required")
    return value


def require_str(body, name, *, optional=False, allow_empty=False):
    """A string field (ids are strings too); None when optional and absent."""
    value = _given(body, name, optional)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad(f"{name} must be a string")
    if not allow_empty and not value.strip():
        if optional:
            return None
        raise bad(f"{name} must not be empty")
    return value


def require_int(body, name, *, optional=False, choices=None):
    """An integer field (a JSON number, not a bool or a string)."""
    value = _given(body, name, optional)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(f"{name} must be an integer")
    if choices is not None and value not in choices:
        allowed = ", ".join(str(c) for c in choices)
        raise bad(f"{name} must be one of {allowed}")
    return value


def parse_time(body, name, *, optional=False):
    """An ISO 8601 time with offset (``2024-05-01T09:00:00+03:00``) as an aware datetime."""
    value = require_str(body, name, optional=optional)
    if value is None:
        return None
    if not ISO_WITH_OFFSET.match(value):
        raise bad(f"{name} must be ISO 8601 with offset, e.g. 2024-05-01T09:00:00+03:00")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise bad(f"{name} is not a valid date and time") from None


def paging(body):
    """``(pageNo, pageSize)``: pageNo from 1, pageSize 1..500."""
    page_no = require_int(body, "pageNo")
    page_size = require_int(body, "pageSize")
    if page_no < 1:
        raise bad("pageNo must be at least 1")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise bad(f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    return page_no, page_size


def page(items, page_no, page_size):
    """The paged ``data`` object; ``list`` is left out when there is nothing, as HCP does."""
    data = {"total": len(items), "pageNo": page_no, "pageSize": page_size}
    if items:
        start = (page_no - 1) * page_size
        data["list"] = items[start : start + page_size]
    return data


def decode_face(face_data, field="faceData"):
    """Base64 JPEG bytes checked like a face terminal would: JPEG, >= 100 px a side, <= 200 KB."""
    if not isinstance(face_data, str) or not face_data:
        raise bad(f"{field} is required")
    try:
        raw = base64.b64decode(face_data, validate=True)
    except (binascii.Error, ValueError):
        raise bad(f"{field} is not valid Base64") from None
    if len(raw) > FACE_MAX_BYTES:
        raise bad(f"{field} picture is {len(raw) // 1024} KB, larger than 200 KB")
    if not raw.startswith(b"\xff\xd8"):
        raise bad(f"{field} is not a JPEG picture")
    try:
        with Image.open(io.BytesIO(raw)) as image:
            image_format, (width, height) = image.format, image.size
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise bad(f"{field} is not a JPEG picture (it cannot be decoded)") from None
    if image_format != "JPEG":
        raise bad(f"{field} is not a JPEG picture")
    if min(width, height) < FACE_MIN_SIDE:
        raise bad(f"{field} picture is {width}x{height} px, smaller than 100 px on a side")
    return raw
