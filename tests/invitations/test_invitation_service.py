"""Invitations as the services see them: links, refusals, the guest's answer, e-mail faults."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Invitation, JobRecord, MailState, VisitState, utcnow
from portal.services import face_check, invitations
from portal.services import visits as visit_service
from tests.invitations.conftest import guest_photo, link_in, token_of


def messages(smtp_server):
    return smtp_server.handler.messages


def complete(invitation, **overrides):
    answer = {
        "photo": guest_photo(),
        "full_name": "Grace B. Hopper",
        "company": "Navy",
        "consent": True,
    }
    return invitations.complete_invitation(invitation, **{**answer, **overrides})


def test_a_visit_with_only_an_email_awaits_the_photo_and_mails_a_personal_link(
    invited, work, smtp_server
):
    assert invited.state == VisitState.AWAITING_PHOTO
    work()
    [message] = messages(smtp_server)
    assert message["To"] == "grace@example.com"
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    link = link_in(message)
    assert link.startswith("http://portal.example.test/g/")
    assert link in message.get_body(("html",)).get_content()
    invitation = invitations.open_invitation(token_of(link))
    assert invitation.visit_id == invited.id
    assert invitation.mail_state == MailState.SENT
    assert invitation.expires_at == invited.ends_at


def test_links_are_unguessable_and_an_altered_one_is_refused(invited, work, smtp_server):
    work()
    token = token_of(link_in(messages(smtp_server)[0]))
    assert len(token) > 40
    # A changed character inside the link (the last one may only carry unused base64 bits).
    middle = len(token) // 2
    swapped = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    for altered in (swapped, token + "x", "abc"):
        with pytest.raises(invitations.InvitationRefused) as refused:
            invitations.open_invitation(altered)
        assert refused.value.message == invitations.LINK_INVALID


def test_a_resent_invitation_replaces_the_old_link(invited, work, smtp_server, host_user):
    work()
    invitations.invite(invited, by=host_user)
    work()
    first, second = (token_of(link_in(m)) for m in messages(smtp_server))
    assert first != second
    with pytest.raises(invitations.InvitationRefused) as refused:
        invitations.open_invitation(first)
    assert refused.value.message == invitations.LINK_REPLACED
    assert invitations.open_invitation(second).visit_id == invited.id


def test_an_expired_link_is_refused(invited, work, smtp_server):
    work()
    token = token_of(link_in(messages(smtp_server)[0]))
    with pytest.raises(invitations.InvitationRefused) as refused:
        invitations.open_invitation(token, now=invited.ends_at + timedelta(seconds=1))
    assert refused.value.message == invitations.LINK_EXPIRED


def test_a_link_of_a_cancelled_visit_is_refused(invited, work, smtp_server, host_user):
    work()
    token = token_of(link_in(messages(smtp_server)[0]))
    visit_service.cancel_visit(invited, by=host_user)
    with pytest.raises(invitations.InvitationRefused) as refused:
        invitations.open_invitation(token)
    assert refused.value.message == invitations.LINK_CANCELLED


def test_the_guest_completes_the_page_once_and_the_visit_goes_to_enrollment(
    invited, work, smtp_server, host_user
):
    work()
    token = token_of(link_in(messages(smtp_server)[0]))
    invitation = invitations.open_invitation(token)
    visit = complete(invitation)
    assert visit.state == VisitState.PENDING
    assert visit.guest.full_name == "Grace B. Hopper" and visit.guest.company == "Navy"
    assert visit.guest.photo_sha256 and visit.consent_at is not None
    assert visit.consent_notice_version == "1"
    kinds = db.session.scalars(select(JobRecord.kind).order_by(JobRecord.id)).all()
    assert kinds[-2:] == ["enroll_visit", "send_host_notice"]
    # The same answer sent again (a double tap) is refused; nothing is enrolled twice.
    with pytest.raises(invitations.InvitationRefused) as refused:
        complete(invitation)
    assert refused.value.message == invitations.LINK_USED
    with pytest.raises(invitations.InvitationRefused):
        invitations.open_invitation(token)
    work()
    db.session.refresh(visit)
    assert visit.state == VisitState.ENROLLED
    host_mail = [m for m in messages(smtp_server) if m["To"] == host_user.email]
    assert [m["Subject"] for m in host_mail] == ["Grace B. Hopper sent their photo"]


@pytest.mark.parametrize(
    "overrides, field, sentence",
    [
        ({"photo": None}, "photo", invitations.PHOTO_NEEDED),
        ({"consent": False}, "consent", invitations.CONSENT_NEEDED),
        ({"full_name": "  "}, "full_name", "Enter the guest's full name."),
    ],
)
def test_a_bad_answer_says_what_to_fix_and_changes_nothing(
    invited, work, smtp_server, overrides, field, sentence
):
    work()
    invitation = invitations.open_invitation(token_of(link_in(messages(smtp_server)[0])))
    with pytest.raises(visit_service.VisitValidationError) as refused:
        complete(invitation, **overrides)
    assert refused.value.fields[field] == sentence
    db.session.rollback()
    assert invitation.state == "active" and invited.state == VisitState.AWAITING_PHOTO
    assert invited.guest.photo is None


def test_a_photo_without_a_face_is_refused_on_the_spot(invited, work, smtp_server):
    from PIL import Image

    from tests.services.test_face_check import jpeg

    work()
    invitation = invitations.open_invitation(token_of(link_in(messages(smtp_server)[0])))
    with pytest.raises(visit_service.VisitValidationError) as refused:
        complete(invitation, photo=jpeg(Image.new("RGB", (640, 480), (255, 255, 255))))
    assert refused.value.fields["photo"] == face_check.NO_FACE
    assert invitations.open_invitation(token_of(link_in(messages(smtp_server)[0])))


def test_the_host_can_add_the_photo_and_the_link_then_stops(invited, work, smtp_server, host_user):
    work()
    token = token_of(link_in(messages(smtp_server)[0]))
    visit_service.supply_photo(invited, guest_photo(), by=host_user)
    assert invited.state == VisitState.PENDING
    with pytest.raises(invitations.InvitationRefused) as refused:
        invitations.open_invitation(token)
    assert refused.value.message == invitations.LINK_USED


def test_a_reminder_goes_out_once_before_the_start(invited, work, smtp_server, app):
    from portal.services.invitation_mail import send_reminders

    work()
    assert send_reminders()["reminded"] == 0  # the visit starts in two days
    soon = utcnow() + timedelta(days=1, hours=1)
    assert send_reminders(now=soon)["reminded"] == 1
    assert send_reminders(now=soon)["reminded"] == 0
    reminder = messages(smtp_server)[-1]
    assert reminder["Subject"].startswith("Reminder:")
    assert link_in(reminder) == link_in(messages(smtp_server)[0])


def test_expiry_closes_a_visit_still_waiting_for_its_photo(invited, work):
    from portal.services.expiry import expire_visits

    result = expire_visits(client=None, now=invited.ends_at + timedelta(minutes=1))
    assert result["visits"] == [invited.id]
    assert invited.state == VisitState.EXPIRED


def test_without_mail_settings_the_form_asks_for_a_photo(app, host_user, level):
    app.config["MAIL_SERVER"] = None
    start = utcnow() + timedelta(days=1)
    with pytest.raises(visit_service.VisitValidationError) as refused:
        visit_service.register_visit(
            host_user,
            full_name="Grace Hopper",
            email="grace@example.com",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            access_level=level,
        )
    assert refused.value.fields["photo"] == visit_service.PHOTO_REQUIRED
    assert db.session.scalar(select(Invitation)) is None
