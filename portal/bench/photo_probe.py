"""Run by ``bench photo`` in a fresh process: normalize one photo file, print the memory growth.

``python -m portal.bench.photo_probe PATH`` prints one JSON object: the outcome (the size it was
normalized to, or the sentence it was refused with) and ``growth_mb``, the peak resident memory
above what the process held just before (Linux: /proc/self/status, peak reset via clear_refs).
"""

import json
import sys

from portal.services import photos


def _kb(key):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(key))


def main(path):
    with open(path, "rb") as file:
        data = file.read()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # the peak (VmHWM) starts again from the current size
    before = _kb("VmRSS")
    try:
        photo = photos.normalize_photo(data)
        outcome = {"size": [photo.width, photo.height]}
    except photos.PhotoError as error:
        outcome = {"refused": error.message}
    outcome["growth_mb"] = round((_kb("VmHWM") - before) / 1024, 1)
    print(json.dumps(outcome))


if __name__ == "__main__":
    main(sys.argv[1])
