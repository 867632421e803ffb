"""Request parsing without HTTP: times, photos, shapes."""

import base64
from datetime import UTC, datetime

import pytest

from portal.api.schemas import (
    decode_photo,
    form_to_payload,
    parse_datetime,
    parse_visit_payload,
    parse_window_payload,
    service_fields,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-05-01T12:00:00+03:00", datetime(2030, 5, 1, 9, 0, tzinfo=UTC)),
        ("2030-05-01T09:00:00Z", datetime(2030, 5, 1, 9, 0, tzinfo=UTC)),
        ("2030-05-01T04:30:00-04:30", datetime(2030, 5, 1, 9, 0, tzinfo=UTC)),
        (" 2030-05-01T09:00+00:00 ", datetime(2030, 5, 1, 9, 0, tzinfo=UTC)),
    ],
)
def test_parse_datetime_converts_to_utc(text, expected):
    value, error = parse_datetime(text)
    assert error is None
    assert value == expected and value.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("2030-05-01T09:00:00", "UTC offset"),
        ("2030-05-01", "UTC offset"),
        ("tomorrow", "ISO 8601"),
        (1893456000, "ISO 8601"),
        (None, "ISO 8601"),
    ],
)
def test_parse_datetime_refuses(value, words):
    parsed, error = parse_datetime(value)
    assert parsed is None
    assert words in error


def test_decode_photo():
    assert decode_photo(base64.b64encode(b"abc").decode()) == (b"abc", None)
    assert decode_photo("data:image/png;base64,YWJj") == (b"abc", None)
    assert decode_photo("YW\nJj") == (b"abc", None)
    assert decode_photo(None) == (None, None)
    assert decode_photo("not base64!")[1] == "Is not valid base64."
    assert decode_photo({"a": 1})[1].startswith("Must be")


def test_parse_visit_payload_shapes():
    fields, errors = parse_visit_payload(
        {
            "guest": {"full_name": "Ada", "email": None},
            "starts_at": "2030-05-01T09:00:00Z",
            "ends_at": "2030-05-01T10:00:00Z",
            "access_level": "7",
        }
    )
    assert errors == {}
    assert fields["full_name"] == "Ada" and fields["access_level"] == 7
    assert fields["photo"] is None and fields["purpose"] is None
    assert parse_visit_payload([1, 2]) == ({}, {"body": "Must be a JSON object."})
    _, errors = parse_visit_payload({"guest": [], "starts_at": 1, "access_level": 1.5})
    assert set(errors) == {"guest", "starts_at", "ends_at", "access_level"}


def test_photo_bytes_override_base64():
    fields, _ = parse_visit_payload({"guest": {}, "photo": "%%%"}, photo=b"jpeg")
    assert fields["photo"] == b"jpeg"


def test_form_to_payload_accepts_dotted_and_plain_guest_names():
    payload = form_to_payload({"guest.full_name": "Ada", "email": "a@b.c", "access_level": "1"})
    assert payload["guest"]["full_name"] == "Ada"
    assert payload["guest"]["email"] == "a@b.c"
    assert payload["access_level"] == "1"


def test_parse_window_payload():
    fields, errors = parse_window_payload({"ends_at": "2030-05-01T10:00:00+01:00"})
    assert errors == {} and fields == {"ends_at": datetime(2030, 5, 1, 9, 0, tzinfo=UTC)}
    assert parse_window_payload({})[1] == {"body": "Give starts_at, ends_at or both."}
    assert "guest" in parse_window_payload({"guest": {}})[1]


def test_service_fields_prefix_guest_fields():
    assert service_fields({"full_name": "a", "email": "b", "ends_at": "c"}) == {
        "guest.full_name": "a",
        "guest.email": "b",
        "ends_at": "c",
    }
