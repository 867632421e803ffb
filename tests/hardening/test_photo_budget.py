"""Photo work is bounded: a 7999 × 8000 16-bit PNG is refused before decoding, and no photo
grows a process by more than 150 MB (peak memory measured in a fresh process)."""

import io
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from portal.bench.photo import FLOOR_MB, measure, png_16bit_grey
from portal.extensions import db
from portal.models import GuestImport
from portal.services import photos
from tests.events.imports_support import guest_rows, make_event, run_worker, sheet
from tests.fixtures.app import csrf_token
from tests.fixtures.sheets import zip_bytes

needs_proc = pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="peak memory is read from Linux /proc"
)


@pytest.fixture(scope="module")
def huge_png():
    return png_16bit_grey(7999, 8000)


def peak_growth(data):
    """Normalize ``data`` in a fresh process (the bench's probe): outcome and peak growth."""
    return measure(data)


@needs_proc
def test_a_16_bit_64_megapixel_png_is_refused_within_the_floor(huge_png):
    assert len(huge_png) < 1_000_000  # small on disk: only its decoded size is large
    outcome = peak_growth(huge_png)
    assert "too large to process" in outcome["refused"]
    assert outcome["growth_mb"] < FLOOR_MB


@needs_proc
@pytest.mark.parametrize(
    "mode, size",
    [("RGB", (5100, 4100)), ("RGBA", (3600, 2900)), ("I;16", (6400, 6500))],
    ids=["rgb-20mp", "rgba-10mp", "grey16-41mp"],
)
def test_the_largest_accepted_photos_stay_within_the_floor(mode, size):
    if mode == "I;16":
        data = png_16bit_grey(*size)
    else:
        buf = io.BytesIO()
        Image.new(mode, size, (150, 110, 90, 200)[: len(mode)]).save(buf, "PNG")
        data = buf.getvalue()
    assert photos.decode_bytes(Image.open(io.BytesIO(data)).mode, size) <= photos.MAX_DECODE_BYTES
    outcome = peak_growth(data)
    assert max(outcome["size"]) == photos.MAX_LONG_SIDE
    assert outcome["growth_mb"] < FLOOR_MB


def test_the_budget_is_by_bytes_not_only_pixels():
    # The same 40 megapixels: fine as 8-bit greyscale, too heavy as RGBA.
    assert photos.decode_bytes("L", (8000, 5000)) <= photos.MAX_DECODE_BYTES
    assert photos.decode_bytes("RGBA", (8000, 5000)) > photos.MAX_DECODE_BYTES
    with pytest.raises(photos.PhotoError, match="too large to process"):
        photos.check_photo(png_16bit_grey(7999, 8000))


def test_a_huge_jpeg_is_decoded_through_draft_mode():
    buf = io.BytesIO()
    Image.new("RGB", (7000, 7000), (150, 110, 90)).save(buf, "JPEG", quality=70)
    # 7000 × 7000 × 4 bytes is 187 MB decoded whole; the draft decodes it at 1/8. (A plain
    # colour: the face check, which has its own tests, is not what this one is about.)
    photo = photos.normalize_photo(buf.getvalue(), face_check=False)
    assert max(photo.width, photo.height) <= photos.MAX_LONG_SIDE


def test_the_visit_form_refuses_the_huge_png_with_a_sentence(host_client, access_level, huge_png):
    response = host_client.post(
        "/visits/new",
        data={
            "csrf_token": csrf_token(host_client, "/visits/new"),
            "full_name": "Ada Lovelace",
            "starts_at": "2030-01-01T10:00",
            "ends_at": "2030-01-01T12:00",
            "access_level": str(access_level.id),
            "photo": (io.BytesIO(huge_png), "face.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "too large to process" in response.get_data(as_text=True)


def test_a_sheet_of_huge_photos_is_answered_at_once_and_its_job_refuses_them(
    organizer_client, organizer_user, access_level, huge_png, redis_conn
):
    """Issue figure: a ZIP of ten such photos kept the upload request busy for 11 s."""
    event = make_event(organizer_user, access_level)
    names = [f"g{n}.png" for n in range(10)]
    form = {
        "csrf_token": csrf_token(organizer_client, f"/events/{event.id}"),
        "file": (
            io.BytesIO(sheet(guest_rows(10, with_photos=True)).replace(b".jpg", b".png")),
            "g.csv",
        ),
        "photos": (io.BytesIO(zip_bytes(dict.fromkeys(names, huge_png))), "photos.zip"),
    }
    started = time.perf_counter()
    response = organizer_client.post(
        f"/events/{event.id}/imports", data=form, content_type="multipart/form-data"
    )
    seconds = time.perf_counter() - started
    assert response.status_code == 303
    assert seconds < 3.0, f"the upload request took {seconds:.1f} s"

    run_worker(redis_conn)
    guest_import = db.session.scalars(select(GuestImport)).one()
    db.session.refresh(guest_import)
    assert (guest_import.state, guest_import.rows_valid) == ("validated", 0)
    assert [error["column"] for error in guest_import.errors] == ["photo"] * 10
    for name, error in zip(names, guest_import.errors, strict=True):
        assert error["message"].startswith(f"{name}: The photo is too large to process")
