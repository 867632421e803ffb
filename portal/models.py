"""SQLAlchemy models: the data model of the visitor domain (architecture.md §3).

Times are stored as naive UTC and come back as aware UTC datetimes (``UTCDateTime``).
"""

import enum
import hashlib
import secrets
from datetime import UTC, datetime

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator
from werkzeug.security import check_password_hash, generate_password_hash

from portal.extensions import db


def utcnow():
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out; naive UTC in the database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=UTC) if value is not None else None


class Role(enum.StrEnum):
    HOST = "host"
    ORGANIZER = "organizer"
    SECURITY = "security"
    ADMIN = "admin"


# What each role may act as: roles are cumulative upward (architecture.md §1).
ROLE_GRANTS = {
    Role.HOST: {Role.HOST},
    Role.ORGANIZER: {Role.HOST, Role.ORGANIZER},
    Role.SECURITY: {Role.HOST, Role.SECURITY},
    Role.ADMIN: {Role.HOST, Role.ORGANIZER, Role.SECURITY, Role.ADMIN},
}


def hash_token(token):
    """The stored form of an API token (tokens are random, so plain SHA-256 suffices)."""
    return hashlib.sha256(token.encode()).hexdigest()


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.HOST.value)
    active: Mapped[bool] = mapped_column(default=True)
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Every session carries the generation it was opened in; raising it ends all older ones.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    # The pages' language ("en", "ru"); None follows the browser (portal/i18n.py).
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Which e-mails about their guests the host wants (each can be turned off on the profile).
    notify_guest_completed: Mapped[bool] = mapped_column(default=True)
    notify_enrollment_failed: Mapped[bool] = mapped_column(default=True)
    notify_guest_arrived: Mapped[bool] = mapped_column(default=True)

    def get_id(self):
        """The session's user key: id and session generation (Flask-Login stores this)."""
        return f"{self.id}:{self.session_generation or 0}"

    def end_sessions(self):
        """End every session opened so far (the caller commits)."""
        self.session_generation = (self.session_generation or 0) + 1

    def set_password(self, password):
        self.password_hash = generate_password_hash(password)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    def rotate_api_token(self):
        """Replace the API token; the plain token is returned once and never stored."""
        token = secrets.token_urlsafe(32)
        self.api_token_hash = hash_token(token)
        return token

    def can(self, role):
        """Whether this user may act as ``role``."""
        return Role(role) in ROLE_GRANTS[Role(self.role)]

    @property
    def sees_all_visits(self):
        return self.can(Role.SECURITY)

    @property
    def is_active(self):
        return self.active


class AccessLevel(db.Model):
    """A synced copy of a HikCentral privilege group."""

    __tablename__ = "access_levels"

    id: Mapped[int] = mapped_column(primary_key=True)
    hik_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Door(db.Model):
    """A synced copy of a HikCentral door; ``direction`` says what its reader means."""

    __tablename__ = "doors"

    id: Mapped[int] = mapped_column(primary_key=True)
    hik_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(10), default="both")  # entry | exit | both
    active: Mapped[bool] = mapped_column(default=True)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Guest(db.Model):
    """A person who visits; a visit is one stay."""

    __tablename__ = "guests"

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    company: Mapped[str | None] = mapped_column(String(200))
    # The language the guest is written to and their page opens in ("en", "ru"), chosen by the
    # host; None: the site's DEFAULT_LANGUAGE (architecture §10).
    language: Mapped[str | None] = mapped_column(String(8))
    photo: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    photo_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VisitState(enum.StrEnum):
    # Invited by e-mail: the guest has not sent their photo yet (nothing on HikCentral).
    AWAITING_PHOTO = "awaiting_photo"
    PENDING = "pending"
    ENROLLING = "enrolling"
    ENROLLED = "enrolled"
    ON_SITE = "on_site"
    LEFT = "left"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"


class JobState(enum.StrEnum):
    """Where a background job is (a JobRecord); the values are RQ's own status words."""

    QUEUED = "queued"  # waiting on its queue, or for a retry
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"


# States of a job that has not ended yet.
OPEN_JOB_STATES = (JobState.QUEUED.value, JobState.STARTED.value)


class ImportState(enum.StrEnum):
    """Where an uploaded guest list (a GuestImport) is."""

    STAGING = "staging"  # its job reads and checks the uploaded files
    FAILED = "failed"  # staging stopped; state_reason says why
    VALIDATED = "validated"  # checked, waiting for the organizer to confirm it
    CONFIRMED = "confirmed"  # its visits exist; their enrollment is queued
    ENROLLING = "enrolling"
    DONE = "done"
    EXPIRED = "expired"  # never confirmed: its rows and photos were purged


class Delivery(enum.StrEnum):
    """What is known about a visit's access reaching the doors' devices."""

    PENDING = "pending"  # re-applied; a deferred check will ask HikCentral
    APPLIED = "applied"
    FAILED = "failed"  # at least one device refused it
    NOT_REPORTED = "not_reported"  # HikCentral did not say, within DELIVERY_CHECKS checks
    NOT_CONFIRMED = "not_confirmed"  # access granted, but the push to the devices failed


# States in which access exists (or is being created) on HikCentral.
LIVE_STATES = {VisitState.PENDING, VisitState.ENROLLING, VisitState.ENROLLED, VisitState.ON_SITE}
ACCESS_STATES = {VisitState.ENROLLED, VisitState.ON_SITE}


def new_person_code():
    """A stable, unique code that identifies a visit's person on HikCentral (A-Z/0-9 only)."""
    from portal.hikvision import identifiers

    if not has_app_context():
        return identifiers.new_person_code()
    config = current_app.config
    return identifiers.new_person_code(
        config.get("HIKCENTRAL_PERSON_CODE_PREFIX", identifiers.DEFAULT_CODE_PREFIX),
        config.get("HIKCENTRAL_PERSON_CODE_LENGTH", identifiers.DEFAULT_CODE_LENGTH),
    )


class Event(db.Model):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))
    organizer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    access_level_id: Mapped[int] = mapped_column(ForeignKey("access_levels.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the organizer cancels the event (its guests are cancelled with it).
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organizer: Mapped[User] = relationship()
    access_level: Mapped[AccessLevel] = relationship()


class Visit(db.Model):
    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_state_ends_at", "state", "ends_at"),
        Index("ix_visits_host_starts_at", "host_id", "starts_at"),
        # Re-uploading a guest sheet must not register the same person twice for one event.
        UniqueConstraint("event_id", "guest_key", name="uq_visits_event_guest_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    guest_id: Mapped[int] = mapped_column(ForeignKey("guests.id"))
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("guest_imports.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    purpose: Mapped[str | None] = mapped_column(String(500))
    # Normalized identity of the guest within an event (name + email or phone), for dedupe.
    guest_key: Mapped[str | None] = mapped_column(String(300))
    access_level_id: Mapped[int] = mapped_column(ForeignKey("access_levels.id"))
    person_code: Mapped[str] = mapped_column(String(32), unique=True, default=new_person_code)
    hik_person_id: Mapped[str | None] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(20), default=VisitState.PENDING.value)
    state_reason: Mapped[str | None] = mapped_column(Text)
    # What the devices reported after the last re-apply: applied | pending | failed.
    delivery: Mapped[str | None] = mapped_column(String(20))
    delivery_failed: Mapped[int] = mapped_column(default=0)
    # Delivery checks (or re-applications, while not_confirmed) made so far, and when the next
    # one is due; None when nothing is left to do.
    delivery_checks: Mapped[int] = mapped_column(default=0)
    delivery_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The RQ job id of the enrollment run that claimed this visit (exactly one run enrolls it).
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When drift repair last compared this visit with HikCentral.
    drift_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # HikCentral answered Success to a window change but kept another window (read back twice).
    window_not_applied: Mapped[bool] = mapped_column(default=False, server_default=false())
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The guest's consent to the privacy notice on their own page (time and notice version).
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_notice_version: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    guest: Mapped[Guest] = relationship()
    host: Mapped[User] = relationship()
    event: Mapped[Event | None] = relationship()
    access_level: Mapped[AccessLevel] = relationship()
    history: Mapped[list["VisitStateChange"]] = relationship(
        back_populates="visit", order_by="VisitStateChange.at", cascade="all, delete-orphan"
    )


class InvitationState(enum.StrEnum):
    ACTIVE = "active"  # the link works
    USED = "used"  # the guest sent their photo
    REPLACED = "replaced"  # re-sent: a newer link replaced this one
    CLOSED = "closed"  # the visit was cancelled or its photo came from the host


class MailState(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class Invitation(db.Model):
    """A personal link that lets one guest complete one visit; the link carries ``nonce``
    signed with the app's secret key, so the database alone cannot make a working link."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    nonce: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(20), default=InvitationState.ACTIVE.value)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    mail_state: Mapped[str] = mapped_column(String(20), default=MailState.QUEUED.value)
    mail_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    visit: Mapped["Visit"] = relationship()


class DriftKind(enum.StrEnum):
    PERSON_MISSING = "person_missing"
    VALIDITY = "validity"
    ACCESS_LEVEL = "access_level"


class DriftRepair(db.Model):
    """One difference between an enrolled visit and HikCentral that drift repair put right."""

    __tablename__ = "drift_repairs"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str | None] = mapped_column(Text)
    repaired: Mapped[bool] = mapped_column(default=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    visit: Mapped["Visit | None"] = relationship()


class VisitStateChange(db.Model):
    """One step in a visit's life, shown as its history."""

    __tablename__ = "visit_state_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    visit: Mapped[Visit] = relationship(back_populates="history")
    by_user: Mapped[User | None] = relationship()


class GuestImport(db.Model):
    __tablename__ = "guest_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filename: Mapped[str] = mapped_column(String(255))
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_valid: Mapped[int] = mapped_column(default=0)
    rows_invalid: Mapped[int] = mapped_column(default=0)
    # [{"row": n, "column": name, "message": text}]
    errors: Mapped[list] = mapped_column(JSON, default=list)
    # The valid rows as validated (no photo bytes: photos stay in the uploaded archive).
    valid_rows: Mapped[list] = mapped_column(JSON, default=list)
    # The uploaded photo archive, kept under instance/ until enrollment is done.
    photos_path: Mapped[str | None] = mapped_column(String(500))
    # The uploaded sheet, kept beside the archive until the staging job has read it.
    sheet_path: Mapped[str | None] = mapped_column(String(500))
    # What the sheet's reader noticed outside the rows (unknown columns...), capped.
    warnings: Mapped[list | None] = mapped_column(JSON)
    # staging (its job reads the files) | validated | confirmed | enrolling | done; failed: staging
    # stopped (state_reason says why); expired: never confirmed, rows and photos purged
    state: Mapped[str] = mapped_column(String(20), default=ImportState.VALIDATED.value)
    state_reason: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job_records.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[Event] = relationship()
    uploaded_by: Mapped[User] = relationship()


class PassageKind(enum.StrEnum):
    GRANTED = "granted"  # the door let the person through
    REFUSED = "refused"  # the reader refused the attempt (never checks anyone in)


class Passage(db.Model):
    """A door event of a visit's guest; ``hik_event_id`` is the dedupe key.

    ``direction`` is what the portal concluded (the door's setting, else the reader's
    ``inAndOutType``): in | out | unknown. ``manual`` passages are check-ins and check-outs made
    by security by hand (their ``hik_event_id`` starts with ``manual-``).
    """

    __tablename__ = "passages"
    __table_args__ = (
        Index("ix_passages_door_occurred_at", "door_id", "occurred_at"),
        Index("ix_passages_occurred_at_id", "occurred_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hik_event_id: Mapped[str] = mapped_column(String(64), unique=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)
    person_id: Mapped[str | None] = mapped_column(String(64))
    door_id: Mapped[int | None] = mapped_column(ForeignKey("doors.id"))
    door_hik_id: Mapped[str | None] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(10))  # in | out | unknown
    kind: Mapped[str] = mapped_column(String(10), default=PassageKind.GRANTED.value)
    event_type: Mapped[int | None] = mapped_column()
    manual: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    visit: Mapped[Visit | None] = relationship()
    door: Mapped[Door | None] = relationship()


class Notice(db.Model):
    """An in-app notice for one user (the bell in the navigation), e.g. "your guest has arrived"."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    visit: Mapped[Visit | None] = relationship()


class JobRecord(db.Model):
    """The durable history of one background job (RQ's own results expire)."""

    __tablename__ = "job_records"
    __table_args__ = (Index("ix_job_records_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rq_job_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(100))
    subject_type: Mapped[str | None] = mapped_column(String(30))
    subject_id: Mapped[int | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20), default=JobState.QUEUED.value)
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_failed: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int] = mapped_column(default=0)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What was enqueued ({"func", "args", "queue", "job_timeout"}), so a failed job can be retried
    # after RQ's own copy has expired.
    call: Mapped[dict | None] = mapped_column(JSON)

    created_by: Mapped[User | None] = relationship()


class PollCursor(db.Model):
    """Where a periodic poll (passage monitoring) resumes."""

    __tablename__ = "poll_cursors"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    last_event_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AuditAction(enum.StrEnum):
    """What an audit entry records; the value is stored, the label shown."""

    VISIT_CREATED = "visit_created"
    VISIT_CHANGED = "visit_changed"
    VISIT_CANCELLED = "visit_cancelled"
    VISIT_RETRIED = "visit_retried"
    ACCESS_REAPPLIED = "access_reapplied"
    CHECKED_IN = "checked_in"
    CHECKED_OUT = "checked_out"
    JOB_RETRIED = "job_retried"
    EVENT_CREATED = "event_created"
    EVENT_CHANGED = "event_changed"
    EVENT_CANCELLED = "event_cancelled"
    IMPORT_UPLOADED = "import_uploaded"
    IMPORT_CONFIRMED = "import_confirmed"
    IMPORT_DISCARDED = "import_discarded"
    USER_CREATED = "user_created"
    ROLE_CHANGED = "role_changed"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    TOKEN_CREATED = "token_created"
    PASSWORD_CHANGED = "password_changed"
    SESSIONS_ENDED = "sessions_ended"
    LOGIN_LOCKED = "login_locked"

    @property
    def label(self):
        return self.value.replace("_", " ").capitalize()


class AuditEntry(db.Model):
    """Who did what to which object, when and from where (kept AUDIT_RETENTION_DAYS)."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str | None] = mapped_column(String(30))
    object_id: Mapped[int | None] = mapped_column()
    address: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[User | None] = relationship()
