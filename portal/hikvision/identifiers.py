"""Identifiers and texts HikCentral accepts: person codes, the face marker, names, face photos.

Live servers refuse ``' / \\ : * ? " < >`` in identifier and name fields and personCodes longer
than 10 characters ("personCode parameter error"), and some refuse face pictures larger than
about 500 x 500 px. Everything sent as a code, a name or a remark goes through here.
"""

import hashlib
import io
import re
import secrets
import string

from PIL import Image, UnidentifiedImageError

CODE_ALPHABET = string.ascii_uppercase + string.digits
DEFAULT_CODE_PREFIX = "GH"
DEFAULT_CODE_LENGTH = 10
MAX_CODE_LENGTH = 32  # the visits.person_code column
MIN_RANDOM_PART = 6  # 36**6 codes: collisions stay unlikely at any site's scale
FORBIDDEN = "'/\\:*?\"<>"
_FORBIDDEN_RE = re.compile("[" + re.escape(FORBIDDEN) + "]")
_SAFE_CODE_RE = re.compile(r"^[A-Z0-9]+$")
# The face marker kept in a person's remark: plain letters, digits and dashes only.
FACE_MARKER = "gatehouse-face-"
# Markers written before identifiers were made safe ("gatehouse:face=") still read.
FACE_MARKER_RE = re.compile(r"gatehouse(?:-face-|:face=)([0-9a-f]{16})")
FACE_QUALITY = 80
MIN_FACE_SIDE = 100  # HikCentral refuses face pictures below this


class IdentifierError(ValueError):
    """A person-code setting that cannot produce safe codes."""


def check_code_settings(prefix, length):
    """Raise IdentifierError unless ``prefix``/``length`` give safe, unique-enough codes."""
    if prefix and not _SAFE_CODE_RE.match(prefix):
        raise IdentifierError("HIKCENTRAL_PERSON_CODE_PREFIX may hold only A-Z and 0-9")
    if not len(prefix) + MIN_RANDOM_PART <= length <= MAX_CODE_LENGTH:
        raise IdentifierError(
            f"HIKCENTRAL_PERSON_CODE_LENGTH must be between {len(prefix) + MIN_RANDOM_PART} "
            f"(the prefix plus {MIN_RANDOM_PART}) and {MAX_CODE_LENGTH}"
        )


def new_person_code(prefix=DEFAULT_CODE_PREFIX, length=DEFAULT_CODE_LENGTH):
    """A random person code: ``prefix`` then A-Z/0-9 up to ``length`` characters."""
    check_code_settings(prefix, length)
    return prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(length - len(prefix)))


def is_safe_code(code, length=DEFAULT_CODE_LENGTH):
    """Whether ``code`` is A-Z/0-9 only and at most ``length`` characters."""
    return bool(code) and len(code) <= length and bool(_SAFE_CODE_RE.match(code))


def safe_code_for(legacy_code, prefix=DEFAULT_CODE_PREFIX, length=DEFAULT_CODE_LENGTH):
    """The safe code that replaces an older unsafe one; the same every time it is asked."""
    check_code_settings(prefix, length)
    number = int.from_bytes(hashlib.sha256(legacy_code.encode()).digest(), "big")
    chars = []
    for _ in range(length - len(prefix)):
        number, index = divmod(number, len(CODE_ALPHABET))
        chars.append(CODE_ALPHABET[index])
    return prefix + "".join(chars)


def clean_text(value, fallback="-"):
    """``value`` without the characters HikCentral refuses, spaces collapsed; never empty."""
    cleaned = " ".join(_FORBIDDEN_RE.sub("", value or "").split())
    return cleaned or fallback


def has_forbidden(value):
    """Whether ``value`` holds a character HikCentral refuses in identifiers and names."""
    return bool(_FORBIDDEN_RE.search(value or ""))


def face_marker(face):
    """The remark stored with a person so a later run can tell whether its face changed."""
    return f"{FACE_MARKER}{hashlib.sha256(face).hexdigest()[:16]}"


def stored_face_marker(remark):
    """The face marker found in a stored remark, rewritten in today's form, or None."""
    found = FACE_MARKER_RE.search(remark or "")
    return f"{FACE_MARKER}{found.group(1)}" if found else None


def face_for_hikcentral(face, max_side):
    """The face JPEG to send: re-encoded at quality 80 within ``max_side`` px (0: as stored).

    The short side never drops below 100 px, which HikCentral refuses; bytes that do not decode
    are sent as they are and HikCentral's answer says why.
    """
    if not max_side:
        return face
    try:
        with Image.open(io.BytesIO(face)) as image:
            if image.format == "JPEG" and max(image.size) <= max_side:
                return face
            image = image.convert("RGB")
            scale = min(1.0, max_side / max(image.size))
            scale = max(scale, min(1.0, MIN_FACE_SIDE / min(image.size)))
            size = tuple(max(1, round(side * scale)) for side in image.size)
            if size != image.size:
                image = image.resize(size, Image.Resampling.LANCZOS)
            out = io.BytesIO()
            image.save(out, "JPEG", quality=FACE_QUALITY, optimize=True)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError):
        return face
