"""E-mail faults: a server that is down, an address it refuses, names that try to inject."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import Guest, Invitation, JobRecord, JobState, MailState
from portal.services import host_notices, mail
from portal.services.invitation_mail import send_host_notice
from tests.fixtures.factories import make_visit
from tests.invitations.conftest import register_invited


def test_smtp_down_is_retried_then_the_visit_page_says_it_could_not_be_sent(
    app, invited_down, work, host_client
):
    work()
    invitation = db.session.scalar(select(Invitation))
    db.session.refresh(invitation)
    assert invitation.mail_state == MailState.FAILED
    assert invitation.mail_error == mail.SERVER_DOWN
    record = db.session.scalar(select(JobRecord).where(JobRecord.kind == "send_invitation"))
    assert record.state == JobState.FAILED and record.result == {"attempts": 3}
    page = host_client.get(f"/visits/{invitation.visit_id}").get_data(as_text=True)
    assert "The invitation could not be sent" in page
    assert mail.SERVER_DOWN in page


@pytest.fixture
def invited_down(app, mail_down_config, host_user, level):
    app.config.update(mail_down_config)
    return register_invited(host_user, level)


def test_an_address_the_server_refuses_fails_at_once_with_a_sentence(
    app, invited, work, smtp_server
):
    smtp_server.handler.refused.add("grace@example.com")
    work()
    invitation = db.session.scalar(select(Invitation))
    db.session.refresh(invitation)
    assert invitation.mail_state == MailState.FAILED
    assert invitation.mail_error == "The mail server refused the address grace@example.com."
    record = db.session.scalar(select(JobRecord).where(JobRecord.kind == "send_invitation"))
    assert record.result is None or record.result.get("attempts", 1) == 1
    assert smtp_server.handler.messages == []


def test_names_cannot_inject_headers_or_html(app, smtp_server, host_user, level):
    guest = Guest(
        full_name='Eve <b onclick="x()">Bold</b>\r\nBcc: victim@example.com',
        email="eve@example.com",
    )
    db.session.add(guest)
    visit = make_visit(host_user, level, guest=guest, starts_in=timedelta(hours=2))
    assert send_host_notice(visit.id, host_notices.GUEST_COMPLETED)["outcome"] == "sent"
    [message] = smtp_server.handler.messages
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert message["To"] == host_user.email
    html = message.get_body(("html",)).get_content()
    assert "<b onclick" not in html and "&lt;b onclick=" in html


def test_a_host_who_turned_a_notice_off_gets_none(app, smtp_server, host_user, level):
    host_user.notify_guest_completed = False
    db.session.commit()
    visit = make_visit(host_user, level)
    assert host_notices.notify(visit, host_notices.GUEST_COMPLETED) is None
    assert send_host_notice(visit.id, host_notices.GUEST_COMPLETED)["outcome"] == "not_wanted"
    assert smtp_server.handler.messages == []


def test_the_host_is_emailed_when_the_guest_arrives_unless_turned_off(
    app, smtp_server, host_user, security_user, level, work
):
    from portal.models import VisitState
    from portal.services import passages

    visit = make_visit(host_user, level, starts_in=timedelta(minutes=-5), state="enrolled")
    passages.check_in(visit, by=security_user, reason="Reader down at the lobby")
    assert visit.state == VisitState.ON_SITE
    work()
    [message] = smtp_server.handler.messages
    assert message["To"] == host_user.email
    assert message["Subject"] == "Ada Lovelace has arrived"
    host_user.notify_guest_arrived = False
    db.session.commit()
    other = make_visit(host_user, level, starts_in=timedelta(minutes=-5), state="enrolled")
    passages.check_in(other, by=security_user, reason="Reader down at the lobby")
    work()
    assert len(smtp_server.handler.messages) == 1
