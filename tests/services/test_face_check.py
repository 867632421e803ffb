"""The local face check, run for real with OpenCV on a real face (the sample portrait)."""

import io

import pytest
from PIL import Image, ImageEnhance, ImageFilter

from portal.bench.faces import portrait
from portal.services import face_check
from portal.services.photos import PhotoError, check_photo, normalize_photo


def jpeg(image, quality=90):
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def on_canvas(size, *parts, background=(120, 120, 120)):
    """A ``size`` photo with the given (image, position) pasted on a plain background."""
    canvas = Image.new("RGB", size, background)
    for image, position in parts:
        canvas.paste(image, position)
    return canvas


def test_a_real_face_passes_and_is_normalized():
    photo = normalize_photo(jpeg(portrait()))
    assert photo.width == 400
    check_photo(jpeg(portrait()))


def test_a_blank_white_640_by_480_image_is_refused():
    white = jpeg(Image.new("RGB", (640, 480), (255, 255, 255)))
    with pytest.raises(PhotoError) as refused:
        normalize_photo(white)
    assert refused.value.message == face_check.NO_FACE
    with pytest.raises(PhotoError, match="could not find a face"):
        check_photo(white)


def test_two_faces_are_refused():
    two = on_canvas((800, 500), (portrait((400, 500)), (0, 0)), (portrait((400, 500)), (400, 0)))
    with pytest.raises(PhotoError) as refused:
        normalize_photo(jpeg(two))
    assert refused.value.message == face_check.TWO_FACES


def test_a_tiny_face_is_refused():
    tiny = on_canvas((1000, 1000), (portrait((400, 500)), (300, 250)))
    with pytest.raises(PhotoError) as refused:
        normalize_photo(jpeg(tiny))
    assert refused.value.message == face_check.TINY_FACE


def test_a_dark_face_is_refused():
    dark = ImageEnhance.Brightness(portrait()).enhance(0.25)
    with pytest.raises(PhotoError) as refused:
        normalize_photo(jpeg(dark))
    assert refused.value.message == face_check.TOO_DARK


def test_a_blurred_face_is_refused_and_a_slightly_soft_one_is_not():
    with pytest.raises(PhotoError) as refused:
        normalize_photo(jpeg(portrait().filter(ImageFilter.GaussianBlur(3))))
    assert refused.value.message == face_check.BLURRED
    normalize_photo(jpeg(portrait().filter(ImageFilter.GaussianBlur(0.7))))


def test_a_12_megapixel_phone_photo_with_a_face_passes():
    big = on_canvas((3000, 4000), (portrait((2400, 3000)), (300, 500)))
    assert normalize_photo(jpeg(big)).width <= 1024


def test_the_setting_turns_the_check_off_for_operators(app):
    white = jpeg(Image.new("RGB", (640, 480), (255, 255, 255)))
    app.config["FACE_CHECK"] = False
    try:
        assert normalize_photo(white).width == 640
    finally:
        app.config["FACE_CHECK"] = True
    with pytest.raises(PhotoError):
        normalize_photo(white)


def test_a_photo_checked_again_is_answered_without_detecting_again(monkeypatch):
    face_check._recent.clear()
    detections = []
    detect = face_check._detect
    monkeypatch.setattr(face_check, "_detect", lambda grey: detections.append(1) or detect(grey))
    dark = ImageEnhance.Brightness(portrait()).enhance(0.1)
    answers = [face_check.face_problem(image) for image in (portrait(), dark, portrait(), dark)]
    assert answers == [None, face_check.TOO_DARK, None, face_check.TOO_DARK]
    assert len(detections) == 2


def test_the_recent_answers_stay_bounded(monkeypatch):
    face_check._recent.clear()
    monkeypatch.setattr(face_check, "RECENT_ANSWERS", 3)
    for shade in range(5):
        face_check.face_problem(Image.new("L", (64, 64), shade * 40))
    assert len(face_check._recent) == 3
