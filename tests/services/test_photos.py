"""Photo normalization: refuse what HikCentral cannot use, shrink what it can.

These photos are plain colours: the tests that are about encoding turn the face check off
(face_check=False); the face check has its own tests in test_face_check.py.
"""

import hashlib
import io
import os
import struct
import zlib

import pytest
from PIL import Image

from portal.services.photos import MAX_JPEG_BYTES, PhotoError, normalize_photo

ORIENTATION = 0x0112


def encode(image, fmt="JPEG", **options):
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def noisy(size):
    """An image of random pixels: the worst case for JPEG compression."""
    width, height = size

    return Image.frombytes("RGB", size, os.urandom(width * height * 3))


def png_claiming(width, height):
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""
    data = encode(Image.new("L", (1, 1)), "PNG")
    ihdr = struct.pack(">II", width, height) + data[24:29]
    chunk = b"IHDR" + ihdr
    return data[:12] + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:]


def test_normal_photo_becomes_small_rgb_jpeg():
    photo = normalize_photo(
        encode(Image.new("RGB", (1600, 1200), (120, 100, 90)), quality=95), face_check=False
    )
    assert (photo.width, photo.height) == (1024, 768)
    assert photo.jpeg[:2] == b"\xff\xd8"
    assert len(photo.jpeg) <= MAX_JPEG_BYTES
    decoded = Image.open(io.BytesIO(photo.jpeg))
    assert decoded.format == "JPEG" and decoded.mode == "RGB"
    assert decoded.size == (1024, 768)

    assert photo.sha256 == hashlib.sha256(photo.jpeg).hexdigest()


def test_png_with_transparency_is_flattened_to_rgb():
    image = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    photo = normalize_photo(encode(image, "PNG"), face_check=False)
    decoded = Image.open(io.BytesIO(photo.jpeg))
    assert decoded.mode == "RGB"
    assert decoded.getpixel((150, 150))[0] > 240  # transparent became white, not black


def test_not_an_image_is_refused():
    with pytest.raises(PhotoError, match="not an image"):
        normalize_photo(b"%PDF-1.4 this is a document, not a photo" * 10)


def test_empty_file_is_refused():
    with pytest.raises(PhotoError, match="empty"):
        normalize_photo(b"")


def test_truncated_jpeg_is_refused():
    data = encode(noisy((600, 600)), quality=90)
    with pytest.raises(PhotoError, match="damaged or incomplete"):
        normalize_photo(data[: len(data) // 2])


def test_tiny_photo_is_refused():
    with pytest.raises(PhotoError) as caught:
        normalize_photo(encode(Image.new("RGB", (640, 150))))
    assert caught.value.message == (
        "The photo is too small: at least 200 pixels on its short side."
    )


def test_huge_dimensions_are_refused_before_decoding():
    data = png_claiming(60_000, 60_000)
    assert len(data) < 200
    with pytest.raises(PhotoError, match="too large"):
        normalize_photo(data)


def test_exif_rotated_photo_comes_out_upright():
    # Stored landscape (600x400) with a red left half; EXIF 6 means "rotate 90° clockwise
    # to display", so the upright picture is portrait with red on top.
    image = Image.new("RGB", (600, 400), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 300, 400))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    photo = normalize_photo(encode(image, quality=95, exif=exif.tobytes()), face_check=False)
    assert (photo.width, photo.height) == (400, 600)
    upright = Image.open(io.BytesIO(photo.jpeg)).convert("RGB")
    top = upright.getpixel((200, 50))
    bottom = upright.getpixel((200, 550))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60
    assert upright.getexif().get(ORIENTATION) in (None, 1)


def test_noisy_large_photo_fits_under_200_kb():
    data = encode(noisy((4000, 3000)), quality=90)
    photo = normalize_photo(data, face_check=False)
    assert len(photo.jpeg) <= MAX_JPEG_BYTES
    assert max(photo.width, photo.height) <= 1024
    assert min(photo.width, photo.height) >= 100
    assert Image.open(io.BytesIO(photo.jpeg)).size == (photo.width, photo.height)


def two_halves(size, exif=None):
    """A JPEG with a red left half and a blue right half."""
    width, height = size
    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    options = {"exif": exif.tobytes()} if exif is not None else {}
    return encode(image, quality=90, **options)


def test_phone_photo_is_shrunk_by_the_decoder_without_resampling():
    # 4000 px decodes at 1/4 straight to 1000 px: within 10% of the largest side, no resize.
    photo = normalize_photo(two_halves((4000, 3000)), face_check=False)
    assert (photo.width, photo.height) == (1000, 750)
    assert len(photo.jpeg) <= MAX_JPEG_BYTES


def test_decoder_never_shrinks_below_the_largest_side_when_it_need_not():
    assert normalize_photo(two_halves((2048, 1536)), face_check=False).width == 1024  # 1/2 is exact
    assert (
        normalize_photo(two_halves((1800, 1200)), face_check=False).width == 1024
    )  # 1/2 would be too small


def test_truncated_large_jpeg_is_refused_when_decoded_shrunk():
    data = encode(noisy((2400, 1600)), quality=90)
    with pytest.raises(PhotoError, match="damaged or incomplete"):
        normalize_photo(data[: len(data) // 2])


def test_exif_rotated_phone_photo_comes_out_upright_when_decoded_shrunk():
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    photo = normalize_photo(two_halves((4000, 3000), exif), face_check=False)
    assert (photo.width, photo.height) == (750, 1000)
    upright = Image.open(io.BytesIO(photo.jpeg)).convert("RGB")
    assert upright.getpixel((375, 100))[0] > 200  # red (the left half) is now on top
    assert upright.getpixel((375, 900))[2] > 200
    assert upright.getexif().get(ORIENTATION) in (None, 1)
