"""E-mails to a host about their guest: completed the invitation page, enrollment failed,
arrived. Each kind can be turned off on the host's profile; all are sent by jobs."""

import logging

from portal import queue
from portal.extensions import db
from portal.models import Visit
from portal.services import notices
from portal.services.mail import mail_configured, render_mail

log = logging.getLogger(__name__)

GUEST_COMPLETED = "guest_completed"
ENROLLMENT_FAILED = "enrollment_failed"
GUEST_ARRIVED = "guest_arrived"

# Kind -> the User flag that turns it on; the message is templates/mail/host_<kind>.*.
KINDS = {
    GUEST_COMPLETED: "notify_guest_completed",
    ENROLLMENT_FAILED: "notify_enrollment_failed",
    GUEST_ARRIVED: "notify_guest_arrived",
}


def wanted(visit, kind):
    """Whether the visit's host wants e-mails of this kind (and e-mail is set up)."""
    host = visit.host
    return mail_configured() and host.active and bool(getattr(host, KINDS[kind]))


def notify(visit, kind):
    """Queue the host's e-mail of ``kind`` about ``visit`` (after the caller's commit)."""
    if not wanted(visit, kind):
        return None
    try:
        return queue.enqueue_about(
            "visit", visit.id, "jobs.mail.send_host_notice", kind, kind="send_host_notice"
        )
    except queue.QueueUnavailable:
        log.warning("host notice %s for visit %s not queued", kind, visit.id)
        return None


def notice_mail(visit_id, kind, *, visit_url):
    """The Mail of a host notice in the host's language, or None when no longer wanted."""
    visit = db.session.get(Visit, visit_id)
    if visit is None or not wanted(visit, kind):
        return None
    return render_mail(
        f"host_{kind}",
        to=visit.host.email,
        language=visit.host.language,
        visit=visit,
        visit_url=visit_url,
    )


@notices.on_arrival
def guest_arrived(visit_id):
    """The passage monitor's (or a manual check-in's) first arrival: e-mail the host."""
    visit = db.session.get(Visit, visit_id)
    if visit is not None:
        notify(visit, GUEST_ARRIVED)
