"""Guest photos with a real face, built from one public-domain portrait (see data/README.md)."""

import io
from functools import cache
from pathlib import Path

from PIL import Image

PORTRAIT = Path(__file__).with_name("data") / "astronaut_face.jpg"
# How much of the canvas the portrait fills: the rest shows the background colour, so photos of
# different colours differ byte for byte (distinct photos for distinct guests).
FILL = 0.9


@cache
def _portrait():
    with Image.open(PORTRAIT) as image:
        return image.convert("RGB")


def portrait(size=(400, 500), background=(180, 140, 120)):
    """An RGB image of ``size``: the sample face centred on a ``background`` canvas."""
    canvas = Image.new("RGB", size, background)
    face = _portrait()
    scale = min(size[0] * FILL / face.width, size[1] * FILL / face.height)
    fitted = face.resize(
        (max(1, round(face.width * scale)), max(1, round(face.height * scale))),
        Image.Resampling.LANCZOS,
    )
    canvas.paste(fitted, ((size[0] - fitted.width) // 2, (size[1] - fitted.height) // 2))
    return canvas


@cache
def portrait_jpeg(size=(400, 500), background=(180, 140, 120), quality=85):
    """:func:`portrait` encoded as a JPEG (kept: the same arguments give the same bytes)."""
    buf = io.BytesIO()
    portrait(size, background).save(buf, "JPEG", quality=quality)
    return buf.getvalue()
