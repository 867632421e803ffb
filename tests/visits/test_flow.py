"""Register through the page, let a real worker enroll against the simulator, then cancel."""

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rq import Queue, SimpleWorker
from sqlalchemy import select

from portal.models import Visit
from portal.queue import QUEUES
from tests.fixtures.app import csrf_token
from tests.fixtures.factories import face_jpeg, make_access_level

ZONE = ZoneInfo("Europe/Moscow")
FORMAT = "%Y-%m-%dT%H:%M"


def run_worker(redis_conn):
    queues = [Queue(name, connection=redis_conn) for name in QUEUES]
    SimpleWorker(queues, connection=redis_conn).work(burst=True)


def test_register_enroll_and_cancel_through_the_pages(host_client, db, sim, redis_conn):
    level = make_access_level("Visitors – Lobby", hik_id="1")  # a seed level of the simulator
    start = (datetime.now(ZONE) + timedelta(days=1)).replace(second=0, microsecond=0)
    end = start + timedelta(hours=6)
    token = csrf_token(host_client, "/visits/new")
    response = host_client.post(
        "/visits/new",
        data={
            "csrf_token": token,
            "full_name": "Ada King Lovelace",
            "starts_at": start.strftime(FORMAT),
            "ends_at": end.strftime(FORMAT),
            "access_level": str(level.id),
            "photo": (io.BytesIO(face_jpeg()), "face.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    visit = db.session.scalars(select(Visit)).one()
    assert sim.state()["persons"] == []  # nothing reached HikCentral during the request

    run_worker(redis_conn)

    db.session.expire_all()
    visit = db.session.get(Visit, visit.id)
    assert visit.state == "enrolled"
    person = sim.person(visit.person_code)
    assert person["has_face"] and person["access_levels"] == ["1"]
    assert datetime.fromisoformat(person["begin_time"]) == start
    assert datetime.fromisoformat(person["end_time"]) == end
    assert "badge-enrolled" in host_client.get(f"/visits/{visit.id}").get_data(as_text=True)

    response = host_client.post(f"/visits/{visit.id}/cancel", data={"csrf_token": token})
    assert response.status_code == 302
    run_worker(redis_conn)

    db.session.expire_all()
    assert db.session.get(Visit, visit.id).state == "cancelled"
    assert [p for p in sim.state()["persons"] if p["person_code"] == visit.person_code] == []
