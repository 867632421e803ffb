"""A local face check before any photo reaches HikCentral: exactly one face, large enough,
lit well enough and sharp enough. It runs OpenCV's bundled Haar face detector on a small
greyscale copy, so a 12-megapixel phone photo is answered in well under 300 ms.

HikCentral's own face modelling stays the final word: this check only catches, on the spot,
the photos that would certainly fail, with a sentence that says what to change.
"""

import hashlib
import threading

import numpy as np
from PIL import Image

from portal.i18n import N_

# Detection runs on a copy whose long side is at most this (faster, and enough for a portrait).
DETECT_LONG_SIDE = 480
SMALLEST_DETECTED = 20  # px on the detection copy; smaller faces are not looked for
SCALE_STEP = 1.15  # the detector's scale pyramid step (1.2 misses small faces here)
# The guest's face must be at least this share of the photo's short side (a selfie is ~0.3-0.6).
MIN_FACE_SHARE = 0.12
# Another face at least this share of the largest one's width is a second person.
SECOND_FACE_SHARE = 0.5
MIN_BRIGHTNESS = 50  # mean grey level (0-255) of the face
# Variance of the Laplacian of the face scaled to SHARPNESS_SIDE px: lower is a blurred face.
MIN_SHARPNESS = 15.0
SHARPNESS_SIDE = 128

NO_FACE = N_("We could not find a face: face the camera in good light.")
TWO_FACES = N_("There is more than one face in the photo: take a photo of the guest alone.")
TINY_FACE = N_("The face is too small: come closer, so that the face fills more of the photo.")
TOO_DARK = N_("The photo is too dark: take it again facing a window or a lamp.")
BLURRED = N_("The photo is blurred: hold the phone still and take it again.")

_local = threading.local()
_opencv_lock = threading.Lock()

# Answers for the photos checked last, by a digest of their detection copy: the same photo is
# checked again when a form is sent back with another field wrong, a sheet is staged again or
# a job retries, and detection costs more than a hundred times the digest.
RECENT_ANSWERS = 256
_recent = {}
_recent_lock = threading.Lock()


def _opencv():
    """OpenCV, imported on first use: workers that never check a face stay small."""
    # OpenCV's package replaces itself in sys.modules while it loads its native part: a second
    # thread importing it meanwhile can get the module before ``cv2.data`` exists.
    with _opencv_lock:
        import cv2
    return cv2


def _detector():
    cv2 = _opencv()
    # One classifier per thread: OpenCV's cascade keeps per-call buffers inside the object.
    if not hasattr(_local, "cascade"):
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise RuntimeError(f"OpenCV's face detector could not be loaded from {path}")
        _local.cascade = cascade
    return _local.cascade


def face_problem(image: Image.Image) -> str | None:
    """What is wrong with the face in ``image`` as a sentence, or None when it is usable."""
    grey = _detection_copy(image)
    key = hashlib.blake2b(f"{grey.shape}".encode() + grey.tobytes(), digest_size=16).digest()
    with _recent_lock:
        if key in _recent:
            return _recent[key]
    answer = _judge(grey)
    with _recent_lock:
        if len(_recent) >= RECENT_ANSWERS:
            del _recent[next(iter(_recent))]
        _recent[key] = answer
    return answer


def _judge(grey):
    faces = sorted(_detect(grey), key=lambda face: face[2] * face[3], reverse=True)
    if not faces:
        return TOO_DARK if grey.mean() < MIN_BRIGHTNESS else NO_FACE
    x, y, w, h = faces[0]
    if any(other[2] >= w * SECOND_FACE_SHARE for other in faces[1:]):
        return TWO_FACES
    if w < min(grey.shape) * MIN_FACE_SHARE:
        return TINY_FACE
    face = grey[y : y + h, x : x + w]
    if face.mean() < MIN_BRIGHTNESS:
        return TOO_DARK
    if sharpness(face) < MIN_SHARPNESS:
        return BLURRED
    return None


def sharpness(face: np.ndarray) -> float:
    """Variance of the Laplacian of the face at a fixed size (scale-independent blur measure)."""
    cv2 = _opencv()
    fixed = cv2.resize(face, (SHARPNESS_SIDE, SHARPNESS_SIDE), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(fixed, cv2.CV_64F).var())


def _detection_copy(image):
    grey = image.convert("L")
    scale = DETECT_LONG_SIDE / max(grey.size)
    if scale < 1:
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        grey = grey.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(grey)


def _detect(grey):
    cv2 = _opencv()
    found = _detector().detectMultiScale(
        cv2.equalizeHist(grey),
        scaleFactor=SCALE_STEP,
        minNeighbors=5,
        minSize=(SMALLEST_DETECTED, SMALLEST_DETECTED),
    )
    return [tuple(int(v) for v in face) for face in found]
