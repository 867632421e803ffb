"""The e-mails of invitations, run inside jobs: one invitation, an event's batch (paced, with
progress), reminders, host notices. What each message says lives in templates/mail/."""

import logging
import time

from flask import current_app

from portal.extensions import db
from portal.i18n import N_
from portal.models import Event, Invitation, MailState, User, utcnow
from portal.services import host_notices, invitations, mail
from portal.services.jobs import JobFailure
from portal.services.visits import VisitStateError

log = logging.getLogger(__name__)


def invitation_message(invitation, *, reminder=False):
    """The Mail inviting (or reminding) the invitation's guest, in the guest's language."""
    visit = invitation.visit
    return mail.render_mail(
        "invitation",
        to=visit.guest.email,
        language=guest_language(visit),
        visit=visit,
        link=invitations.link_for(invitation),
        reminder=reminder,
        place=invitations.place_of(visit),
    )


def guest_language(visit):
    """The language a guest is written to: the one chosen for them, else DEFAULT_LANGUAGE.

    Not the host's: a host's profile language says what the host reads, and the site's default
    is the language its visitors are most likely to read.
    """
    return visit.guest.language or current_app.config["DEFAULT_LANGUAGE"]


def _load(invitation_id):
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None:
        raise JobFailure(N_("Invitation %(id)d no longer exists.") % {"id": invitation_id})
    return invitation


def send_invitation(invitation_id, *, connection=None):
    """Send the invitation unless it was replaced or closed meanwhile; records the outcome."""
    invitation = _load(invitation_id)
    if invitation.state != "active":
        return {"invitation": invitation_id, "outcome": "skipped", "state": invitation.state}
    mail.send(invitation_message(invitation), connection=connection)
    invitation.mail_state, invitation.mail_error = MailState.SENT.value, None
    invitation.sent_at = utcnow()
    db.session.commit()
    return {"invitation": invitation_id, "outcome": "sent"}


def mark_failed(invitation_id, sentence):
    """The last try failed: the visit page says the invitation could not be sent, and why."""
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None:
        return
    invitation.mail_state = MailState.FAILED.value
    invitation.mail_error = sentence
    db.session.commit()


def send_host_notice(visit_id, kind):
    """Send a host notice, unless the host turned it off meanwhile."""
    url = current_app.config["PUBLIC_URL"].rstrip("/") + f"/visits/{visit_id}"
    message = host_notices.notice_mail(visit_id, kind, visit_url=url)
    if message is None:
        return {"visit": visit_id, "outcome": "not_wanted"}
    mail.send(message)
    return {"visit": visit_id, "outcome": "sent", "kind": kind}


def invite_event_guests(
    event_id, user_id, *, report=lambda done, total, failed=0: None, sleep=time.sleep
):
    """Invite the event's guests without a photo over one SMTP connection, paced to MAIL_RATE."""
    if db.session.get(Event, event_id) is None:
        raise JobFailure(N_("Event %(id)d no longer exists.") % {"id": event_id})
    by = db.session.get(User, user_id)
    visits = invitations.event_invitable(event_id)
    total, sent, failed = len(visits), 0, 0
    report(0, total)
    pace = Pacer(current_app.config.get("MAIL_RATE") or 0, sleep=sleep)
    with mail.connection() as smtp:
        for visit in visits:
            pace.wait()
            try:
                invitation = invitations.prepare_invitation(visit, by=by)
                db.session.commit()
                send_invitation(invitation.id, connection=smtp)
                sent += 1
            except (VisitStateError, mail.MailError) as exc:
                db.session.rollback()
                failed += 1
                _record_batch_failure(visit, exc)
            report(sent + failed, total, failed)
    return {"event": event_id, "invited": sent, "failed": failed, "total": total}


def _record_batch_failure(visit, exc):
    invitation = invitations.current_invitation(visit)
    if invitation is not None and invitation.mail_state != MailState.SENT:
        invitation.mail_state = MailState.FAILED.value
        invitation.mail_error = exc.message
        db.session.commit()
    log.info("invitation for visit %s not sent: %s", visit.id, exc.message)


def send_reminders(*, now=None):
    """Remind each guest once, INVITE_REMINDER_HOURS before their visit starts."""
    now = now or utcnow()
    hours = current_app.config.get("INVITE_REMINDER_HOURS", 24)
    reminded = failed = 0
    for invitation in invitations.reminder_due(now, hours):
        try:
            mail.send(invitation_message(invitation, reminder=True))
        except mail.MailError as exc:
            failed += 1  # tried again at the next run
            log.info("reminder for invitation %s not sent: %s", invitation.id, exc.message)
            continue
        invitation.reminded_at = utcnow()
        db.session.commit()
        reminded += 1
    return {"reminded": reminded, "failed": failed}


class Pacer:
    """Keeps a loop to ``rate`` turns per second (0: no pacing)."""

    def __init__(self, rate, *, sleep=time.sleep, clock=time.monotonic):
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self.sleep, self.clock = sleep, clock
        self.next_at = None

    def wait(self):
        """Sleep until the next turn is due."""
        now = self.clock()
        if self.next_at is not None and now < self.next_at:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval
