"""RQ entry points that send e-mail: invitations, reminders, host notices, an event's batch."""

from jobs import job, public_error, report_progress
from portal.services import invitation_mail


def _invitation_given_up(invitation_id, *, error):
    invitation_mail.mark_failed(invitation_id, public_error(error))


@job(on_give_up=_invitation_given_up)
def send_invitation(invitation_id):
    """Send one guest's invitation e-mail."""
    return invitation_mail.send_invitation(invitation_id)


@job
def send_host_notice(visit_id, kind):
    """Send a host an e-mail about their guest."""
    return invitation_mail.send_host_notice(visit_id, kind)


@job
def invite_event_guests(event_id, user_id):
    """Invite every guest of an event who has an e-mail and no photo, paced to MAIL_RATE."""
    return invitation_mail.invite_event_guests(event_id, user_id, report=report_progress)


@job
def send_reminders():
    """Remind guests whose visit starts soon and who have not sent their photo."""
    return invitation_mail.send_reminders()
