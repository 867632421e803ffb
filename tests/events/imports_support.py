"""Builders shared by the guest import tests: events, sheets, photo archives, a worker run."""

import io
from datetime import timedelta

from rq import Queue, SimpleWorker

from portal.extensions import db
from portal.models import Event, utcnow
from portal.queue import QUEUES
from portal.services import imports
from tests.fixtures.sheets import csv_bytes, photo, zip_bytes

HEADERS = ["full_name", "email", "phone", "company", "photo"]


def make_event(organizer, access_level, *, starts_in=timedelta(days=2), hours=8, name="Open Day"):
    start = (utcnow() + starts_in).replace(second=0, microsecond=0)
    event = Event(
        name=name,
        organizer=organizer,
        starts_at=start,
        ends_at=start + timedelta(hours=hours),
        access_level=access_level,
    )
    db.session.add(event)
    db.session.commit()
    return event


def guest_rows(count, *, with_photos=False, start=0):
    """``count`` distinct valid guests (with photos n.jpg when asked)."""
    return [
        [
            f"Guest Number{n} Tester",
            f"guest{n}@example.com",
            f"+7 900 {n:07d}",
            "Acme",
            f"g{n}.jpg" if with_photos else "",
        ]
        for n in range(start, start + count)
    ]


def sheet(rows, headers=HEADERS):
    """A CSV guest sheet as Excel writes it."""
    return csv_bytes([headers, *rows])


def photos_zip(names):
    """A ZIP with a distinct valid photo per name."""
    return zip_bytes({name: photo(color=(40 + i % 200, 90, 120)) for i, name in enumerate(names)})


def upload(data, filename):
    """The (stream, filename) pair an upload is given as."""
    return io.BytesIO(data), filename


def stage_upload(event, user, sheet_file, photos_file=None):
    """An upload stored and checked in this process, as its staging job does; the import."""
    guest_import = imports.store_upload(event, user, sheet_file, photos_file)
    imports.stage_import(guest_import)
    return guest_import


def run_worker(connection):
    """Run every queued job in this process, as a burst SimpleWorker does."""
    worker = SimpleWorker(
        [Queue(name, connection=connection) for name in QUEUES], connection=connection
    )
    worker.work(burst=True)
    return worker
