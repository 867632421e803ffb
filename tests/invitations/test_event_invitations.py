"""Events: photo counts, "Invite guests without a photo" in one paced job with progress, and the
import preview's warning with its offer to invite."""

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import JobRecord, JobState, Visit, VisitState
from portal.services import events as event_service
from portal.services import imports as import_service
from portal.services import invitations
from portal.services.invitation_mail import Pacer
from tests.events.imports_support import (
    guest_rows,
    make_event,
    photos_zip,
    sheet,
    stage_upload,
    upload,
)
from tests.fixtures.app import client_for, csrf_token
from tests.invitations.conftest import guest_photo, link_in, token_of


def staged(event, organizer, *, with_photo=2, without_photo=3):
    rows = guest_rows(with_photo, with_photos=True) + guest_rows(without_photo, start=100)
    archive = photos_zip([f"g{n}.jpg" for n in range(with_photo)])
    return stage_upload(
        event, organizer, upload(sheet(rows), "guests.csv"), upload(archive, "photos.zip")
    )


def test_the_preview_warns_about_rows_without_photo_and_offers_to_invite(
    app, organizer_user, level, smtp_server
):
    event = make_event(organizer_user, level)
    guest_import = staged(event, organizer_user)
    assert import_service.rows_without_photo(guest_import) == (3, 3)
    page = client_for(app, organizer_user).get(f"/imports/{guest_import.id}").get_data(as_text=True)
    assert "3 guests have no photo: face readers will not recognise them." in page
    assert 'name="invite_missing"' in page


def test_confirming_with_invitations_waits_for_the_photos_and_sends_one_job(
    app, organizer_user, level, work, smtp_server
):
    event = make_event(organizer_user, level)
    guest_import = staged(event, organizer_user)
    import_service.confirm_import(guest_import, organizer_user, invite_missing=True)
    waiting = db.session.scalar(
        select(func.count()).where(Visit.state == VisitState.AWAITING_PHOTO)
    )
    assert waiting == 3
    work()
    messages = smtp_server.handler.messages
    assert sorted(m["To"] for m in messages) == [f"guest{n}@example.com" for n in (100, 101, 102)]
    record = db.session.scalar(select(JobRecord).where(JobRecord.kind == "invite_event_guests"))
    assert record.state == JobState.FINISHED
    assert (record.progress_done, record.progress_total, record.progress_failed) == (3, 3, 0)
    assert record.result == {"event": event.id, "invited": 3, "failed": 0, "total": 3}
    assert event_service.photo_counts(event) == {"missing": 3, "received": 0, "enrolled": 2}


def test_the_event_page_counts_photos_and_invites_enrolled_faceless_guests(
    app, organizer_user, level, work, smtp_server, sim
):
    event = make_event(organizer_user, level)
    import_service.confirm_import(staged(event, organizer_user), organizer_user)
    work()  # all five enrolled: two with a face, three without
    client = client_for(app, organizer_user)
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "3 missing · 0 received · 2 enrolled" in page
    assert "Invite guests without a photo (3)" in page
    token = csrf_token(client, f"/events/{event.id}")
    assert client.post(f"/events/{event.id}/invite", data={"csrf_token": token}).status_code == 302
    work()
    messages = smtp_server.handler.messages
    assert len(messages) == 3
    assert len({link_in(m) for m in messages}) == 3
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "Invitations:" in page and "Invite guests without a photo (3)" in page
    # One guest answers: their face is added to the person HikCentral already holds.
    invitation = invitations.open_invitation(token_of(link_in(messages[0])))
    visit = invitations.complete_invitation(
        invitation,
        photo=guest_photo(),
        full_name="Guest Number100 Tester",
        company=None,
        consent=True,
    )
    work()
    db.session.refresh(visit)
    assert visit.state == VisitState.ENROLLED
    faces = {p["person_code"]: p["has_face"] for p in sim.state()["persons"]}
    assert faces[visit.person_code] is True
    assert list(faces.values()).count(True) == 3  # two from the sheet, one from the guest
    assert event_service.photo_counts(event) == {"missing": 2, "received": 0, "enrolled": 3}


class FakeTime:
    """A clock that moves only when slept on or told to."""

    def __init__(self):
        self.now, self.slept = 0.0, []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_the_pacer_keeps_to_the_rate():
    time = FakeTime()
    pacer = Pacer(10, sleep=time.sleep, clock=time.clock)
    for _ in range(3):
        pacer.wait()  # instant work: every turn waits its 0.1 s
    time.now += 0.5  # slow work: the next turn is late already and does not wait
    pacer.wait()
    assert time.slept == [0.1, 0.1]
    assert Pacer(0).interval == 0
