"""Guest photos: decode safely, check, and normalize to a JPEG HikCentral accepts."""

import hashlib
import io
import logging
import math
import struct
import warnings
import zlib
from dataclasses import dataclass

from flask import current_app, has_app_context
from PIL import Image, ImageOps

from portal.i18n import N_, N_plural
from portal.services.face_check import DETECT_LONG_SIDE, face_problem

log = logging.getLogger(__name__)

MIN_SHORT_SIDE = 200  # below this a face is too small to match reliably
MAX_LONG_SIDE = 1024
# The JPEG decoder can shrink by 1/2, 1/4 or 1/8 while decoding, far faster than decoding every
# pixel and resampling. It may go down to this long side: a 12-megapixel phone photo (4000 px)
# then decodes straight to 1000 px with no resampling left to do.
DRAFT_LONG_SIDE = 920
MAX_JPEG_BYTES = 200 * 1024  # HikCentral refuses face pictures above 200 KB
MIN_OUTPUT_SIDE = 100  # HikCentral refuses face pictures below 100 px a side
# Refuse before decoding: a 20 kB file may claim 50 000 x 50 000 pixels (a decompression bomb).
MAX_PIXELS = 64_000_000
# ...and by the memory its decoded pixels take (a 16-bit 64-megapixel PNG is 500 kB on disk and
# 128 MB decoded): with the resizing that follows, one photo stays well under 150 MB of memory.
MAX_DECODE_BYTES = 80 * 1024 * 1024
# Bytes per pixel of Pillow's decoded image by mode; the other modes take 4 (RGB included).
PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
PREMULTIPLIED = {"RGBA", "LA"}
# Palette and 1-bit images are converted before resizing (nearest-neighbour only otherwise).
CONVERT_BEFORE_RESIZE = {"P": "RGBA", "PA": "RGBA", "1": "L"}
QUALITIES = (88, 80, 72, 64, 56, 48, 40)
DOWNSCALE = 0.8

# Decoders raise a variety of errors on corrupt input; all of them mean "not a usable image".
DECODE_ERRORS = (OSError, ValueError, EOFError, SyntaxError, struct.error, zlib.error)


class PhotoError(ValueError):
    """A photo that cannot be used; the message is a sentence for a host."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Photo:
    jpeg: bytes
    sha256: str
    width: int
    height: int


def normalize_photo(data: bytes, *, face_check: bool | None = None) -> Photo:
    """Decode, check (face included) and re-encode a photo as an upright RGB JPEG under 200 KB.

    ``face_check`` overrides the FACE_CHECK setting (tests of the encoding alone turn it off).
    """
    if not data:
        raise PhotoError(N_("The photo is empty: choose an image file."))
    image = _decode(data)
    image = _to_rgb(image)
    if face_check if face_check is not None else face_check_enabled():
        _check_face(image)
    jpeg, image = _encode_within_limit(image)
    return Photo(jpeg, hashlib.sha256(jpeg).hexdigest(), image.width, image.height)


def check_photo(data: bytes) -> None:
    """Check cheaply that a photo would normalize: size limits, the face, a reduced decode."""
    if not data:
        raise PhotoError(N_("The photo is empty: choose an image file."))
    image = _decode(data, draft_to=_face_check_size, shrink=False)
    if face_check_enabled():
        _check_face(image)


def face_check_enabled():
    """Whether photos get the local face check (setting FACE_CHECK; on outside an app)."""
    return not has_app_context() or bool(current_app.config.get("FACE_CHECK", True))


def _check_face(image):
    """Refuse a photo whose face HikCentral would not model, with what to fix."""
    problem = face_problem(image)
    if problem:
        raise PhotoError(problem)


def _face_check_size(size):
    """Decode no smaller than the face detector's working copy (any reduction is faster)."""
    scale = min(1.0, DETECT_LONG_SIDE / max(size))
    return tuple(max(1, math.ceil(side * scale)) for side in size)


def _decode(data, draft_to=None, shrink=True):
    """Open the image, refusing bombs before decoding and truncated files after.

    ``draft_to(size)`` gives the smallest size a JPEG may be decoded at (default: what
    normalizing needs); decoding at a reduced scale still reads, and so checks, the whole file.
    With ``shrink`` the image comes back at most MAX_LONG_SIDE a side, upright: the full-size
    pixels are dropped before any colour conversion or rotation copies them.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_dimensions(image.size)
            target = (draft_to or _draft_size)(image.size)
            if image.format == "JPEG" and target:
                image.draft("RGB", target)  # decodes at 1/2, 1/4 or 1/8 scale: less memory
            _check_decode_budget(image)
            image.load()  # forces a full decode, so a truncated file fails here
            if shrink:
                image = _shrink(image)
            ImageOps.exif_transpose(image, in_place=True)  # no copy when already upright
            return image
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoError(N_("The photo is too large: at most 64 megapixels.")) from exc
    except Image.UnidentifiedImageError as exc:
        raise PhotoError(N_("The file is not an image: upload a JPEG or PNG photo.")) from exc
    except DECODE_ERRORS as exc:
        log.info("photo refused: %s", type(exc).__name__)
        raise PhotoError(N_("The photo is damaged or incomplete: upload it again.")) from exc


def _draft_size(size):
    """The smallest size the JPEG decoder may shrink ``size`` to, or None to decode it whole."""
    if max(size) <= MAX_LONG_SIDE:
        return None
    scale = DRAFT_LONG_SIDE / max(size)
    return tuple(math.ceil(side * scale) for side in size)


def decode_bytes(mode, size):
    """Bytes of memory the decoded pixels of an image of ``mode`` and ``size`` will take."""
    width, height = size
    total = width * height * PIXEL_BYTES.get(mode, 4)
    if mode in PREMULTIPLIED:
        total *= 2  # resizing copies them with the alpha premultiplied
    if mode in CONVERT_BEFORE_RESIZE:
        total += width * height * PIXEL_BYTES.get(CONVERT_BEFORE_RESIZE[mode], 4)
    return total


def _check_decode_budget(image):
    """Refuse, before decoding, an image whose pixels would take more than MAX_DECODE_BYTES."""
    if decode_bytes(image.mode, image.size) > MAX_DECODE_BYTES:
        width, height = image.size
        raise PhotoError(
            N_(
                "The photo is too large to process (%(width)d × %(height)d pixels in a heavy "
                "format): upload it as a JPEG, or at most about 20 megapixels."
            )
            % {"width": width, "height": height}
        )


def _shrink(image):
    """The image reduced to at most MAX_LONG_SIDE a side, in its own colour mode."""
    if image.mode in CONVERT_BEFORE_RESIZE:
        image = image.convert(CONVERT_BEFORE_RESIZE[image.mode])
    # Pillow cannot pre-reduce 16-bit greyscale by whole factors: resample it in one step.
    gap = None if image.mode.startswith("I;16") else 2.0
    image.thumbnail((MAX_LONG_SIDE, MAX_LONG_SIDE), Image.Resampling.LANCZOS, reducing_gap=gap)
    return image


def _check_dimensions(size):
    width, height = size
    if width * height > MAX_PIXELS:
        raise PhotoError(N_("The photo is too large: at most 64 megapixels."))
    if min(width, height) < MIN_SHORT_SIDE:
        raise PhotoError(
            N_plural(
                "The photo is too small: at least %(pixels)d pixel on its short side.",
                "The photo is too small: at least %(pixels)d pixels on its short side.",
                MIN_SHORT_SIDE,
            )
            % {"pixels": MIN_SHORT_SIDE}
        )


def _to_rgb(image):
    """Flatten transparency onto white and convert any mode to RGB."""
    if image.mode == "RGB":
        return image
    try:
        if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            background = Image.new("RGB", rgba.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            return background
        if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            # 16-bit and float greyscale: scale into 8 bits first.
            image = image.point(lambda v: v / 256).convert("L")
        return image.convert("RGB")
    except DECODE_ERRORS as exc:
        raise PhotoError(N_("The photo's colour format is not supported: upload a JPEG.")) from exc


def _encode_within_limit(image):
    """Lower the quality, then the size, until the JPEG fits HikCentral's limit."""
    while True:
        for quality in QUALITIES:
            buf = io.BytesIO()
            image.save(buf, "JPEG", quality=quality, optimize=True)
            if buf.tell() <= MAX_JPEG_BYTES:
                return buf.getvalue(), image
        width, height = (round(side * DOWNSCALE) for side in image.size)
        if min(width, height) < MIN_OUTPUT_SIDE:
            raise PhotoError(N_("The photo cannot be made small enough: upload a simpler photo."))
        image = image.resize((width, height), Image.Resampling.LANCZOS)
