"""Invitations: a guest completes their own visit (photo, consent, name) through a personal
link sent by e-mail. The link carries a random nonce signed with the app's secret key; it works
for that one visit, until the visit's end, once, and only while it is the latest one sent.
"""

import logging
import secrets
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from rq import Retry
from sqlalchemy import select, update

from portal import queue
from portal.extensions import db
from portal.i18n import N_
from portal.models import (
    Guest,
    Invitation,
    InvitationState,
    JobRecord,
    MailState,
    Visit,
    VisitState,
    utcnow,
)
from portal.services import host_notices
from portal.services.errors import ServiceError
from portal.services.mail import mail_configured
from portal.services.photos import PhotoError, normalize_photo
from portal.services.visits import (
    VisitStateError,
    VisitValidationError,
    queue_for_enrollment,
    set_state,
    validate_guest,
)

log = logging.getLogger(__name__)

SALT = "guest-invitation"
LINK_PATH = "/g/"
# Visits whose guest can be invited (when they have no photo). An enrolled guest without a face
# holds access the face readers cannot use: their photo, once sent, is added to the person.
INVITABLE_STATES = {
    VisitState.AWAITING_PHOTO,
    VisitState.PENDING,
    VisitState.FAILED,
    VisitState.ENROLLED,
}

NO_EMAIL = N_("The guest has no e-mail address: add one, or upload the photo yourself.")
MAIL_OFF = N_("E-mail is not set up on this portal, so guests cannot be invited.")
NOBODY_TO_INVITE = N_("No guest without a photo has an e-mail address to send an invitation to.")
NOT_INVITABLE = N_(
    "This visit already has the guest's photo or access: there is nothing to invite."
)
VISIT_OVER = N_("The visit is over: a guest can no longer be invited.")

LINK_INVALID = N_("This link is not valid: open the link from your latest invitation e-mail.")
LINK_REPLACED = N_(
    "This link has been replaced by a newer invitation: open the link from your latest e-mail."
)
LINK_USED = N_("You have already completed your registration for this visit: nothing more to do.")
LINK_CANCELLED = N_("This visit has been cancelled: please contact your host.")
LINK_EXPIRED = N_("This link has expired: the visit is over.")
CONSENT_NEEDED = N_(
    "Tick the box to agree to the privacy notice: without it we cannot use your photo."
)
PHOTO_NEEDED = N_("Take or choose a photo of your face.")


class InvitationRefused(ServiceError):
    """A link that cannot be used (any more); the message is a sentence for the guest."""


def _serializer():
    return URLSafeSerializer(current_app.secret_key, salt=SALT)


def token_for(invitation):
    """The secret part of the invitation's link."""
    return _serializer().dumps(invitation.nonce)


def link_for(invitation):
    """The guest's personal link (absolute, from PUBLIC_URL)."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + LINK_PATH + token_for(invitation)


def place_of(visit):
    """Where the visit takes place, as a guest would understand it."""
    if visit.event is not None:
        return visit.event.location or visit.event.name
    return visit.access_level.name


def privacy_notice(language):
    """The notice a guest reading ``language`` agrees to (PRIVACY_NOTICE_<LANGUAGE> first)."""
    config = current_app.config
    return (config.get("PRIVACY_NOTICES") or {}).get(language) or config["PRIVACY_NOTICE"]


def current_invitation(visit):
    """The visit's latest invitation, or None."""
    return db.session.scalars(
        select(Invitation)
        .where(Invitation.visit_id == visit.id)
        .order_by(Invitation.id.desc())
        .limit(1)
    ).first()


def can_invite(visit):
    """Why the visit's guest cannot be invited now (a sentence), or None when they can."""
    if not mail_configured():
        return MAIL_OFF
    if not visit.guest.email:
        return NO_EMAIL
    if visit.ends_at <= utcnow():
        return VISIT_OVER
    if VisitState(visit.state) not in INVITABLE_STATES or visit.guest.photo_sha256:
        return NOT_INVITABLE
    return None


def prepare_invitation(visit, *, by=None):
    """Replace any earlier link with a new one and await the photo (the caller commits)."""
    problem = can_invite(visit)
    if problem:
        raise VisitStateError(problem)
    db.session.execute(
        update(Invitation)
        .where(Invitation.visit_id == visit.id, Invitation.state == InvitationState.ACTIVE)
        .values(state=InvitationState.REPLACED.value)
    )
    invitation = Invitation(
        visit=visit,
        nonce=secrets.token_urlsafe(24),
        expires_at=visit.ends_at,
        created_by_id=by.id if by else None,
    )
    db.session.add(invitation)
    if visit.state != VisitState.AWAITING_PHOTO:
        set_state(visit, VisitState.AWAITING_PHOTO, N_("Invited to send their photo."), by=by)
    return invitation


def invite(visit, *, by=None):
    """Send (or re-send) the guest's invitation: commits, then enqueues the e-mail."""
    invitation = prepare_invitation(visit, by=by)
    db.session.commit()
    enqueue_invitation_mail(invitation, by=by)
    return invitation


def enqueue_invitation_mail(invitation, *, by=None):
    """Queue the invitation's e-mail (after the commit); a queue outage marks it failed."""
    try:
        queue.enqueue(
            "jobs.mail.send_invitation",
            invitation.id,
            kind="send_invitation",
            subject_type="visit",
            subject_id=invitation.visit_id,
            created_by=by,
            queue="high",
            retry=mail_retry(),
        )
    except queue.QueueUnavailable:
        invitation.mail_state = MailState.FAILED.value
        invitation.mail_error = queue.QUEUE_DOWN_MESSAGE
        db.session.commit()


def mail_retry():
    """The retry policy of a message (MAIL_RETRY_INTERVALS)."""
    intervals = list(current_app.config.get("MAIL_RETRY_INTERVALS") or [30, 120, 600])
    return Retry(max=len(intervals), interval=intervals)


def open_invitation(token, *, now=None):
    """The invitation behind ``token`` if it may be used now; else InvitationRefused."""
    try:
        nonce = _serializer().loads(token)
    except BadSignature as exc:
        raise InvitationRefused(LINK_INVALID) from exc
    invitation = db.session.scalar(select(Invitation).where(Invitation.nonce == str(nonce)))
    if invitation is None:
        raise InvitationRefused(LINK_INVALID)
    refusal = _refusal(invitation, now or utcnow())
    if refusal:
        raise InvitationRefused(refusal)
    return invitation


def _refusal(invitation, now):
    visit = invitation.visit
    if visit.state == VisitState.CANCELLED:
        return LINK_CANCELLED
    if invitation.state == InvitationState.USED:
        return LINK_USED
    if invitation.state == InvitationState.REPLACED:
        return LINK_REPLACED
    if invitation.state == InvitationState.CLOSED or visit.state != VisitState.AWAITING_PHOTO:
        return LINK_USED if visit.guest.photo_sha256 else LINK_INVALID
    # The link lives as long as the visit: a window changed later moves its end too.
    if now >= visit.ends_at:
        return LINK_EXPIRED
    return None


def complete_invitation(invitation, *, photo, full_name, company, consent):
    """The guest's answer: check everything, store photo and consent, hand over to enrollment.

    Raises VisitValidationError (by field) and InvitationRefused (link used meanwhile).
    """
    errors, values = validate_guest(full_name=full_name, company=company)
    if not consent:
        errors["consent"] = CONSENT_NEEDED
    normalized = None
    if not photo:
        errors["photo"] = PHOTO_NEEDED
    else:
        try:
            normalized = normalize_photo(photo)
        except PhotoError as exc:
            errors["photo"] = exc.message
    if errors:
        raise VisitValidationError(errors)
    _claim(invitation)
    visit = invitation.visit
    guest = visit.guest
    guest.full_name, guest.company = values["full_name"], values["company"]
    guest.photo, guest.photo_sha256 = normalized.jpeg, normalized.sha256
    now = utcnow()
    visit.consent_at = now
    visit.consent_notice_version = current_app.config["PRIVACY_NOTICE_VERSION"]
    invitation.used_at = now
    set_state(visit, VisitState.PENDING, N_("The guest sent their photo."))
    db.session.commit()
    queue_for_enrollment(visit)
    host_notices.notify(visit, host_notices.GUEST_COMPLETED)
    return visit


def _claim(invitation):
    """Mark the link used exactly once, even when the guest submits twice at the same moment."""
    claimed = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.state == InvitationState.ACTIVE)
        .values(state=InvitationState.USED.value)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise InvitationRefused(LINK_USED)
    db.session.refresh(invitation)


def close_invitations(visit):
    """The host supplied the photo or cancelled: the guest's link stops working (no commit)."""
    db.session.execute(
        update(Invitation)
        .where(Invitation.visit_id == visit.id, Invitation.state == InvitationState.ACTIVE)
        .values(state=InvitationState.CLOSED.value)
        .execution_options(synchronize_session=False)
    )


def reminder_due(now, hours):
    """Active, sent, never-reminded invitations of visits starting within ``hours``."""
    return db.session.scalars(
        select(Invitation)
        .join(Invitation.visit)
        .where(
            Invitation.state == InvitationState.ACTIVE,
            Invitation.mail_state == MailState.SENT,
            Invitation.reminded_at.is_(None),
            Visit.state == VisitState.AWAITING_PHOTO,
            Visit.starts_at <= now + timedelta(hours=hours),
            Visit.ends_at > now,
        )
        .order_by(Invitation.id)
    ).all()


def event_invitable(event_id):
    """The event's visits whose guest has an e-mail, no photo, and can still be invited."""
    return db.session.scalars(
        select(Visit)
        .join(Visit.guest)
        .where(
            Visit.event_id == event_id,
            Guest.email.isnot(None),
            Guest.photo_sha256.is_(None),
            Visit.state.in_([s.value for s in INVITABLE_STATES]),
            Visit.ends_at > utcnow(),
        )
        .order_by(Visit.id)
    ).all()


def invite_event_guests(event, *, by):
    """Start the job that invites every guest of ``event`` without a photo; its JobRecord."""
    if not mail_configured():
        raise VisitStateError(MAIL_OFF)
    count = len(event_invitable(event.id))
    if not count:
        raise VisitStateError(NOBODY_TO_INVITE)
    rate = current_app.config.get("MAIL_RATE") or 0
    seconds = count / rate if rate > 0 else count * 0.1
    return queue.enqueue_about(
        "event",
        event.id,
        "jobs.mail.invite_event_guests",
        by.id,
        kind="invite_event_guests",
        created_by=by,
        queue="low",
        job_timeout=int(600 + 3 * seconds),
    )


def latest_event_invitation_job(event):
    """The latest "invite guests" job of the event, or None."""
    return db.session.scalars(
        select(JobRecord)
        .where(
            JobRecord.subject_type == "event",
            JobRecord.subject_id == event.id,
            JobRecord.kind == "invite_event_guests",
        )
        .order_by(JobRecord.id.desc())
        .limit(1)
    ).first()
