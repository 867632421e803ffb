"""Benchmark: the memory one photo costs a process, for the heaviest photos there are.

``flask --app wsgi bench photo`` normalizes each case in a fresh process and prints one JSON
object: per case the outcome and the peak memory growth, against the 150 MB floor.
"""

import io
import json
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import click
from PIL import Image

FLOOR_MB = 150
PROBE = "portal.bench.photo_probe"


def png_16bit_grey(width, height):
    """A valid 16-bit greyscale PNG: rows of one mid-grey value compress to almost nothing."""
    row = b"\x00" + (0x4000).to_bytes(2, "big") * width
    squeeze = zlib.compressobj(1)
    body = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()

    def chunk(kind, payload):
        crc = struct.pack(">I", zlib.crc32(kind + payload))
        return struct.pack(">I", len(payload)) + kind + payload + crc

    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def encoded(mode, size, fmt="PNG"):
    """An image of one colour in ``mode`` and ``size``, encoded as ``fmt``."""
    buf = io.BytesIO()
    Image.new(mode, size, (150, 110, 90, 200)[: len(mode)]).save(buf, fmt)
    return buf.getvalue()


CASES = {
    # The probe's photo: 500 kB on disk, 128 MB decoded; refused before decoding.
    "png16-grey-7999x8000": lambda: png_16bit_grey(7999, 8000),
    # The heaviest accepted photos of each kind of budget.
    "png16-grey-6400x6500": lambda: png_16bit_grey(6400, 6500),
    "png-rgb-5100x4100": lambda: encoded("RGB", (5100, 4100)),
    "png-rgba-3600x2900": lambda: encoded("RGBA", (3600, 2900)),
    # 187 MB if decoded whole; the JPEG draft decodes it at 1/8.
    "jpeg-rgb-7999x8000": lambda: encoded("RGB", (7999, 8000), "JPEG"),
}


def measure(data):
    """Normalize ``data`` in a fresh process; its outcome and peak memory growth."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.bin"
        path.write_bytes(data)
        out = subprocess.run(
            [sys.executable, "-m", PROBE, str(path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
    return json.loads(out.stdout)


def run(names=None):
    """Every case (or those named): outcome and growth, and whether all kept the floor."""
    results = {}
    for name in names or CASES:
        data = CASES[name]()
        results[name] = {"file_bytes": len(data), **measure(data)}
    worst = max(case["growth_mb"] for case in results.values())
    return {"floor_mb": FLOOR_MB, "worst_growth_mb": worst, "ok": worst < FLOOR_MB} | {
        "cases": results
    }


@click.command("photo")
def photo():
    """Peak memory of normalizing the heaviest photos, each in a fresh process."""
    click.echo(json.dumps(run()))
