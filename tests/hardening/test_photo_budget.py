"""Photo work is bounded: a 7999 × 8000 16-bit PNG is refused before decoding, and no photo
grows a process by more than 150 MB (peak memory measured in a fresh process)."""

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from portal.services import photos
from tests.fixtures.app import csrf_token

FLOOR_MB = 150
ROOT = Path(__file__).resolve().parents[2]
# Runs in a fresh interpreter: reset the peak-memory mark, normalize the photo, report the growth.
MEASURE = """
import json, sys
from portal.services import photos

def kb(key):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(key))

data = open(sys.argv[1], "rb").read()
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # the peak (VmHWM) starts again from the current size
before = kb("VmRSS")
try:
    photo = photos.normalize_photo(data)
    outcome = {"size": [photo.width, photo.height]}
except photos.PhotoError as error:
    outcome = {"refused": error.message}
outcome["growth_mb"] = (kb("VmHWM") - before) / 1024
print(json.dumps(outcome))
"""

needs_proc = pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="peak memory is read from Linux /proc"
)


def png_16bit_grey(width, height):
    """A valid 16-bit greyscale PNG: rows of one mid-grey value compress to almost nothing."""
    row = b"\x00" + (0x4000).to_bytes(2, "big") * width
    squeeze = zlib.compressobj(1)
    body = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()

    def chunk(kind, payload):
        crc = struct.pack(">I", zlib.crc32(kind + payload))
        return struct.pack(">I", len(payload)) + kind + payload + crc

    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def huge_png():
    return png_16bit_grey(7999, 8000)


def peak_growth(tmp_path, data):
    path = tmp_path / "photo.bin"
    path.write_bytes(data)
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout)


@needs_proc
def test_a_16_bit_64_megapixel_png_is_refused_within_the_floor(tmp_path, huge_png):
    assert len(huge_png) < 1_000_000  # small on disk: only its decoded size is large
    outcome = peak_growth(tmp_path, huge_png)
    assert "too large to process" in outcome["refused"]
    assert outcome["growth_mb"] < FLOOR_MB


@needs_proc
@pytest.mark.parametrize(
    "mode, size",
    [("RGB", (5100, 4100)), ("RGBA", (3600, 2900)), ("I;16", (6400, 6500))],
    ids=["rgb-20mp", "rgba-10mp", "grey16-41mp"],
)
def test_the_largest_accepted_photos_stay_within_the_floor(tmp_path, mode, size):
    if mode == "I;16":
        data = png_16bit_grey(*size)
    else:
        buf = io.BytesIO()
        Image.new(mode, size, (150, 110, 90, 200)[: len(mode)]).save(buf, "PNG")
        data = buf.getvalue()
    assert photos.decode_bytes(Image.open(io.BytesIO(data)).mode, size) <= photos.MAX_DECODE_BYTES
    outcome = peak_growth(tmp_path, data)
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
    # 7000 × 7000 × 4 bytes is 187 MB decoded whole; the draft decodes it at 1/8.
    photo = photos.normalize_photo(buf.getvalue())
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
