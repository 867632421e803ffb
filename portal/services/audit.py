"""The audit log: who did what to which object, when and from where.

``record`` adds the entry to the current database transaction and does not commit: the action
and its entry are committed together, or neither is.
"""

from datetime import timedelta

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import delete, select

from portal.extensions import db
from portal.i18n import N_
from portal.models import AuditAction, AuditEntry, utcnow
from portal.services.brief import cap_text

# Object kinds by model class name, as shown and filtered on the audit page.
OBJECT_TYPES = {
    "Visit": "visit",
    "Event": "event",
    "GuestImport": "import",
    "User": "user",
    "JobRecord": "job",
}
MAX_DETAILS = 300
# What the audit page calls each kind of object and each action (translated there).
OBJECT_LABELS = {
    "visit": N_("Visit"),
    "event": N_("Event"),
    "import": N_("Guest list"),
    "user": N_("User"),
    "job": N_("Job"),
}
ACTION_LABELS = {
    AuditAction.VISIT_CREATED: N_("Visit registered"),
    AuditAction.VISIT_CHANGED: N_("Visit time changed"),
    AuditAction.VISIT_CANCELLED: N_("Visit cancelled"),
    AuditAction.VISIT_RETRIED: N_("Enrollment retried"),
    AuditAction.ACCESS_REAPPLIED: N_("Access re-applied"),
    AuditAction.CHECKED_IN: N_("Checked in by hand"),
    AuditAction.CHECKED_OUT: N_("Checked out by hand"),
    AuditAction.JOB_RETRIED: N_("Job retried"),
    AuditAction.EVENT_CREATED: N_("Event created"),
    AuditAction.EVENT_CHANGED: N_("Event changed"),
    AuditAction.EVENT_CANCELLED: N_("Event cancelled"),
    AuditAction.IMPORT_UPLOADED: N_("Guest list uploaded"),
    AuditAction.IMPORT_CONFIRMED: N_("Guest list imported"),
    AuditAction.IMPORT_DISCARDED: N_("Guest list discarded"),
    AuditAction.USER_CREATED: N_("User created"),
    AuditAction.ROLE_CHANGED: N_("Role changed"),
    AuditAction.USER_DISABLED: N_("User disabled"),
    AuditAction.USER_ENABLED: N_("User enabled"),
    AuditAction.TOKEN_CREATED: N_("API token created"),
    AuditAction.PASSWORD_CHANGED: N_("Password changed"),
    AuditAction.SESSIONS_ENDED: N_("Logged out everywhere"),
    AuditAction.LOGIN_LOCKED: N_("Log-in locked"),
}


def record(action, subject=None, *, by=None, details=None):
    """Add an audit entry for ``action`` on ``subject`` by ``by`` (default: the request's user)."""
    if hasattr(subject, "_get_current_object"):
        subject = subject._get_current_object()  # current_user: a proxy of the User
    if subject is not None and subject.id is None:
        db.session.flush()  # a new object gets its id, in the same transaction
    entry = AuditEntry(
        action=AuditAction(action).value,
        user_id=_actor_id(by),
        object_type=OBJECT_TYPES.get(type(subject).__name__) if subject is not None else None,
        object_id=subject.id if subject is not None else None,
        address=_address(),
        details=cap_text(details, MAX_DETAILS) if details else None,
        at=utcnow(),
    )
    db.session.add(entry)
    return entry


def _actor_id(by):
    if by is not None:
        return by.id
    if not has_request_context():
        return None
    user = g.get("api_user") or (current_user if current_user.is_authenticated else None)
    return user.id if user is not None else None


def _address():
    return (request.remote_addr or None) if has_request_context() else None


def search(*, user_id=None, object_type=None, object_id=None, since=None, until=None):
    """A statement for the entries matching the filters, newest first."""
    statement = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if user_id is not None:
        statement = statement.where(AuditEntry.user_id == user_id)
    if object_type:
        statement = statement.where(AuditEntry.object_type == object_type)
    if object_id is not None:
        statement = statement.where(AuditEntry.object_id == object_id)
    if since is not None:
        statement = statement.where(AuditEntry.at >= since)
    if until is not None:
        statement = statement.where(AuditEntry.at < until)
    return statement


def purge(days, *, now=None):
    """Delete entries older than ``days`` days and commit; returns how many went."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    result = db.session.execute(delete(AuditEntry).where(AuditEntry.at < cutoff))
    db.session.commit()
    return result.rowcount or 0
