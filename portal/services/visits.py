"""Visits: register, change, cancel and retry, with the rules that keep access on HikCentral
equal to the planned window. Jobs are enqueued only after the transaction has committed."""

import logging
import re
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import case, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import contains_eager

from portal import queue
from portal.extensions import db
from portal.i18n import N_, N_plural, normalize
from portal.models import (
    ACCESS_STATES,
    LIVE_STATES,
    AccessLevel,
    AuditAction,
    Guest,
    JobState,
    Role,
    Visit,
    VisitState,
    VisitStateChange,
    utcnow,
)
from portal.services import audit
from portal.services.errors import FieldErrors, ServiceError
from portal.services.photos import PhotoError, normalize_photo

log = logging.getLogger(__name__)

# "Now" typed into a form is a few minutes old by the time it is submitted.
START_GRACE = timedelta(minutes=5)
# Host actions are interactive: they go ahead of bulk imports.
QUEUE = "high"
PHONE = re.compile(r"^\+?[0-9 ()./-]{5,40}$")
LIMITS = {"full_name": 200, "email": 254, "phone": 40, "company": 200, "purpose": 500}
# States in which a visit can still change (a failed one can be fixed and retried).
CHANGEABLE_STATES = LIVE_STATES | {VisitState.FAILED, VisitState.AWAITING_PHOTO}
# A state inside a sentence ("This visit is expired: ...").
STATE_WORDS = {
    VisitState.AWAITING_PHOTO: N_("waiting for the guest's photo"),
    VisitState.PENDING: N_("pending"),
    VisitState.ENROLLING: N_("enrolling"),
    VisitState.ENROLLED: N_("enrolled"),
    VisitState.ON_SITE: N_("on site"),
    VisitState.LEFT: N_("left"),
    VisitState.CANCELLED: N_("cancelled"),
    VisitState.EXPIRED: N_("expired"),
    VisitState.FAILED: N_("failed"),
}
PHOTO_REQUIRED = N_("Add a photo of the guest's face: the doors recognise guests by face.")
PHOTO_OR_EMAIL = N_(
    "Add a photo of the guest's face, or their e-mail so that they can send one themselves."
)
PHOTO_MAIL_OFF = N_(
    "E-mail is not set up on this portal, so the guest cannot be invited: add a photo of the face."
)
INVITE_NEEDS_EMAIL = N_("Enter the guest's e-mail: the invitation is sent there.")


class VisitValidationError(FieldErrors):
    """Input that cannot make a visit; ``fields`` maps field names to sentences."""


class VisitStateError(ServiceError):
    """An action the visit's current state does not allow; the message is for a host."""


def validate_window(starts_at, ends_at, *, now=None, max_days, current_start=None):
    """Errors of a visit window by field; empty when the window is acceptable.

    ``current_start`` is the start the visit already has: keeping it is allowed even
    when it has passed (extending a visit that is under way).
    """
    errors = {}
    if starts_at is None:
        errors["starts_at"] = N_("Enter when the visit starts.")
    elif starts_at.tzinfo is None:
        errors["starts_at"] = N_("The start needs a time zone.")
    if ends_at is None:
        errors["ends_at"] = N_("Enter when the visit ends.")
    elif ends_at.tzinfo is None:
        errors["ends_at"] = N_("The end needs a time zone.")
    if errors:
        return errors
    now = now or utcnow()
    keeps_start = current_start is not None and starts_at == current_start
    start_ok = keeps_start or starts_at >= now - START_GRACE
    if not start_ok:
        errors["starts_at"] = N_("The start is in the past: choose a time from now on.")
    # A start that must move anyway says nothing about the length: the earliest start the
    # host can still choose (now) does.
    earliest = starts_at if start_ok else now
    if ends_at <= starts_at:
        errors["ends_at"] = N_("The end must be after the start.")
    elif ends_at - earliest > timedelta(days=max_days):
        errors["ends_at"] = N_plural(
            "A visit can last at most %(days)d day.",
            "A visit can last at most %(days)d days.",
            max_days,
        ) % {"days": max_days}
    elif ends_at <= now:
        errors["ends_at"] = N_("The end is in the past: choose a later time.")
    return errors


def validate_guest(*, full_name, email=None, phone=None, company=None, purpose=None, language=None):
    """Errors of the guest's details by field, and the cleaned values."""
    values = {
        "full_name": _clean(full_name),
        "email": _clean(email),
        "phone": _clean(phone),
        "company": _clean(company),
        "purpose": _clean(purpose),
        "language": normalize(language),
    }
    errors = {}
    if _clean(language) and not values["language"]:
        errors["language"] = N_("Choose a language from the list.")
    if not values["full_name"]:
        errors["full_name"] = N_("Enter the guest's full name.")
    for name, limit in LIMITS.items():
        if values[name] and len(values[name]) > limit:
            errors[name] = N_plural(
                "At most %(limit)d character.", "At most %(limit)d characters.", limit
            ) % {"limit": limit}
    if values["email"] and "email" not in errors:
        try:
            values["email"] = validate_email(values["email"], check_deliverability=False).normalized
        except EmailNotValidError:
            errors["email"] = N_("Enter an email address like name@example.com.")
    if values["phone"] and "phone" not in errors and not _valid_phone(values["phone"]):
        errors["phone"] = N_("Enter a phone number with digits only, like +7 495 123-45-67.")
    return errors, values


def _clean(value):
    if value is None:
        return None
    value = " ".join(str(value).split())  # also drops control characters such as newlines
    return value or None


def _valid_phone(phone):
    digits = sum(ch.isdigit() for ch in phone)
    return bool(PHONE.match(phone)) and 5 <= digits <= 20


def resolve_access_level(access_level):
    """The active AccessLevel given as an instance or an id, else None."""
    if isinstance(access_level, AccessLevel):
        level = access_level
    else:
        try:
            level_id = int(access_level)
        except (TypeError, ValueError):
            return None
        level = db.session.get(AccessLevel, level_id)
    return level if level is not None and level.active else None


def register_visit(
    host,
    *,
    full_name,
    email=None,
    phone=None,
    company=None,
    starts_at,
    ends_at,
    purpose=None,
    access_level,
    photo=None,
    invite=None,
    language=None,
):
    """Validate, write Guest + Visit + history in one transaction, then enqueue.

    With a photo the visit is ``pending`` and enrolled. Without one, ``invite`` (True, or None
    with an e-mail given) makes it ``awaiting_photo`` and e-mails the guest a personal link.
    ``language`` is the guest's (their e-mails and page); None leaves it to DEFAULT_LANGUAGE.
    """
    errors, values = validate_guest(
        full_name=full_name,
        email=email,
        phone=phone,
        company=company,
        purpose=purpose,
        language=language,
    )
    errors.update(validate_window(starts_at, ends_at, max_days=_max_days()))
    level = resolve_access_level(access_level)
    if level is None:
        errors["access_level"] = N_("Choose an access level from the list.")
    normalized = None
    if photo:
        invite = False
        try:
            normalized = normalize_photo(photo)
        except PhotoError as exc:
            errors["photo"] = exc.message
    else:
        invite = _check_invite(invite, values, errors)
    if errors:
        raise VisitValidationError(errors)

    guest = Guest(
        full_name=values["full_name"],
        email=values["email"],
        phone=values["phone"],
        company=values["company"],
        language=values["language"],
        photo=normalized.jpeg if normalized else None,
        photo_sha256=normalized.sha256 if normalized else None,
    )
    visit = Visit(
        guest=guest,
        host=host,
        starts_at=starts_at,
        ends_at=ends_at,
        purpose=values["purpose"],
        access_level=level,
    )
    db.session.add(visit)
    audit.record(AuditAction.VISIT_CREATED, visit, by=host)
    if invite:
        return _register_invited(visit, host)
    set_state(visit, VisitState.PENDING, N_("Registered."), by=host)
    db.session.commit()
    queue_for_enrollment(visit, by=host)
    return visit


def _check_invite(invite, values, errors):
    """Whether a visit without a photo invites its guest; records why it cannot in ``errors``."""
    from portal.services.mail import mail_configured

    if invite is None:
        invite = bool(values["email"]) and mail_configured()
    if invite and not values["email"]:
        errors.setdefault("email", INVITE_NEEDS_EMAIL)
    elif invite and not mail_configured():
        errors["photo"] = PHOTO_MAIL_OFF
    elif not invite and photo_required():
        errors["photo"] = PHOTO_OR_EMAIL if mail_configured() else PHOTO_REQUIRED
    return invite


def _register_invited(visit, host):
    # invitations builds on this module; imported here to keep the dependency one-way.
    from portal.services import invitations

    set_state(visit, VisitState.AWAITING_PHOTO, N_("Registered; the guest is invited."), by=host)
    db.session.flush()
    invitation = invitations.prepare_invitation(visit, by=host)
    db.session.commit()
    invitations.enqueue_invitation_mail(invitation, by=host)
    return visit


def queue_for_enrollment(visit, *, by=None):
    """Enqueue the enrollment of a visit that is ``pending``; call it after the commit.

    The job also enrolls every other visit waiting at that moment. When Redis refuses, the visit
    stays pending (the reconcile sweep enqueues it later) and None is returned.
    """
    return _enqueue_quietly(visit, "jobs.enroll.enroll_visit", "enroll_visit", by=by)


def enqueue_enrollment(visit_id, *, by=None):
    """Start the enrollment job of a visit (raises QueueUnavailable); its JobRecord."""
    return _enqueue(visit_id, "jobs.enroll.enroll_visit", "enroll_visit", by=by)


def supply_photo(visit, photo, *, by):
    """The host uploads the photo of a guest who was invited: the link closes, enrollment runs."""
    from portal.services.invitations import close_invitations

    if visit.state != VisitState.AWAITING_PHOTO:
        raise VisitStateError(N_("Only a visit waiting for the guest's photo takes a photo here."))
    try:
        normalized = normalize_photo(photo or b"")
    except PhotoError as exc:
        raise VisitValidationError({"photo": exc.message}) from exc
    visit.guest.photo, visit.guest.photo_sha256 = normalized.jpeg, normalized.sha256
    close_invitations(visit)
    set_state(visit, VisitState.PENDING, N_("Photo added by the host."), by=by)
    db.session.commit()
    return queue_for_enrollment(visit, by=by)


def photo_required():
    """Whether a visit registered one by one needs a photo (config REQUIRE_GUEST_PHOTO)."""
    return bool(current_app.config.get("REQUIRE_GUEST_PHOTO", True))


def set_state(visit, state, reason=None, by=None):
    """Move the visit to ``state`` and record it in its history (the caller commits)."""
    visit.state = VisitState(state).value
    visit.state_reason = reason
    visit.history.append(
        VisitStateChange(state=visit.state, reason=reason, by_user_id=by.id if by else None)
    )


def change_window(visit, starts_at, ends_at, *, by):
    """Extend or shorten a visit; HikCentral follows through a job when access exists."""
    _require_changeable(visit, N_("This visit is %(state)s: its time can no longer change."))
    errors = validate_window(
        starts_at, ends_at, max_days=_max_days(), current_start=visit.starts_at
    )
    if errors:
        raise VisitValidationError(errors)
    visit.starts_at, visit.ends_at = starts_at, ends_at
    visit.history.append(
        VisitStateChange(
            state=visit.state,
            reason=N_("Time changed to %(window)s.") % {"window": _window_text(starts_at, ends_at)},
            by_user_id=by.id,
        )
    )
    audit.record(AuditAction.VISIT_CHANGED, visit, by=by, details=_window_text(starts_at, ends_at))
    db.session.commit()
    # An enrolling visit may already hold the old window on HikCentral: correct it after.
    if visit.state in ACCESS_STATES or visit.state == VisitState.ENROLLING:
        return _enqueue(visit.id, "jobs.enroll.update_validity", "update_validity", by=by)
    return None


def cancel_visit(visit, *, by):
    """Cancel a visit; access that exists (or may exist) is revoked by a job."""
    _require_changeable(visit, N_("This visit is %(state)s: it cannot be cancelled."))
    from portal.services.invitations import close_invitations

    had_access = visit.hik_person_id is not None or visit.state == VisitState.ENROLLING
    close_invitations(visit)
    set_state(visit, VisitState.CANCELLED, N_("Cancelled by %(name)s.") % {"name": by.name}, by=by)
    audit.record(AuditAction.VISIT_CANCELLED, visit, by=by)
    db.session.commit()
    if had_access:
        return _enqueue(visit.id, "jobs.enroll.revoke_visit", "revoke_visit", by=by)
    return None


def retry_enrollment(visit, *, by, photo=None):
    """Enroll a failed (or never queued) visit again, optionally with a new photo."""
    if not needs_retry(visit):
        raise VisitStateError(
            N_("Only a failed visit, or one waiting without a job, can be retried.")
        )
    if photo:
        try:
            normalized = normalize_photo(photo)
        except PhotoError as exc:
            raise VisitValidationError({"photo": exc.message}) from exc
        visit.guest.photo = normalized.jpeg
        visit.guest.photo_sha256 = normalized.sha256
    if visit.state == VisitState.FAILED:
        set_state(visit, VisitState.PENDING, N_("Retry requested."), by=by)
    audit.record(AuditAction.VISIT_RETRIED, visit, by=by, details="new photo" if photo else None)
    db.session.commit()
    return enqueue_enrollment(visit.id, by=by)


def reapply(visit, *, by):
    """Ask HikCentral again to deliver an enrolled visit's access to the devices."""
    if visit.state not in ACCESS_STATES or not visit.hik_person_id:
        raise VisitStateError(N_("Only a visit with access on the doors can be delivered again."))
    audit.record(AuditAction.ACCESS_REAPPLIED, visit, by=by)  # committed with the job record
    return _enqueue(visit.id, "jobs.enroll.reapply_visit", "reapply_visit", by=by)


def needs_retry(visit):
    """A failed visit, or a pending one whose enrollment job never got queued or failed."""
    if visit.state == VisitState.FAILED:
        return True
    if visit.state != VisitState.PENDING:
        return False
    job = latest_job(visit)
    return job is None or job.state == JobState.FAILED


def visible_visits(user):
    """A select of the visits ``user`` may see: all for security/admin, else their own."""
    query = select(Visit)
    if not user.sees_all_visits:
        query = query.where(Visit.host_id == user.id)
    return query


def search_visits(user, *, q=None, state=None, day_start, day_end):
    """Visible visits, filtered, ordered today first, then upcoming, then past (newest first)."""
    query = visible_visits(user).join(Visit.guest).options(contains_eager(Visit.guest))
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(Guest.full_name.ilike(pattern, escape="\\"))
    if state:
        query = query.where(Visit.state == state)
    group = case((Visit.ends_at <= day_start, 2), (Visit.starts_at >= day_end, 1), else_=0)
    past_start = case((group == 2, Visit.starts_at), else_=None)
    return query.order_by(group, past_start.desc(), Visit.starts_at, Visit.id)


def group_by_day(visits, day_start, day_end):
    """[(group, visits)] in order, group 0 today, 1 upcoming, 2 past (as search_visits sorts)."""
    groups = []
    for visit in visits:
        key = 2 if visit.ends_at <= day_start else 1 if visit.starts_at >= day_end else 0
        if not groups or groups[-1][0] != key:
            groups.append((key, []))
        groups[-1][1].append(visit)
    return groups


def active_access_levels():
    """Access levels a visit may use, by name."""
    return db.session.scalars(
        select(AccessLevel).where(AccessLevel.active.is_(True)).order_by(AccessLevel.name)
    ).all()


def default_access_level(levels, wanted):
    """The level named by DEFAULT_ACCESS_LEVEL (HikCentral id or name), else None."""
    if not wanted:
        return None
    wanted = wanted.strip()
    for level in levels:
        if level.hik_id == wanted:
            return level
    for level in levels:
        if level.name.casefold() == wanted.casefold():
            return level
    return None


def can_view(user, visit):
    """Hosts see their own visits; security and admin see all."""
    return user.sees_all_visits or visit.host_id == user.id


def can_change(user, visit):
    """Only the visit's host or an admin may change it."""
    return visit.host_id == user.id or user.can(Role.ADMIN)


def latest_job(visit):
    """The most recent job about this visit, or None."""
    return queue.latest_record("visit", visit.id)


def _require_changeable(visit, sentence):
    if visit.state not in CHANGEABLE_STATES:
        raise VisitStateError(sentence % {"state": STATE_WORDS[VisitState(visit.state)]})


def _enqueue(visit_id, func, kind, *, by):
    return queue.enqueue_about("visit", visit_id, func, kind=kind, created_by=by, queue=QUEUE)


def _enqueue_quietly(visit, func, kind, *, by):
    """Enqueue after a commit; on failure the visit stays pending and its page offers a retry."""
    try:
        return _enqueue(visit.id, func, kind, by=by)
    except queue.QueueUnavailable:
        log.warning("could not enqueue %s for visit %s; it stays pending", kind, visit.id)
    except (RedisError, SQLAlchemyError):
        db.session.rollback()
        log.exception("could not enqueue %s for visit %s; it stays pending", kind, visit.id)
    return None


def _max_days():
    return current_app.config["MAX_VISIT_DAYS"]


def _window_text(starts_at, ends_at):
    zone = current_app.config["TIMEZONE"]
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    # Digits only: the sentence is stored once and shown in every viewer's language.
    end_fmt = "%H:%M" if start.date() == end.date() else "%d.%m.%Y %H:%M"
    return f"{start:%d.%m.%Y %H:%M} – {end.strftime(end_fmt)}"
