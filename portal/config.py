"""Every setting, read from the environment with a documented default.

``create_app(config)`` takes a mapping of overrides on top of these (tests use it).
"""

import os
import re
from pathlib import Path

from portal.i18n import N_

ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = ROOT / "instance"

# Environments in which a built-in SECRET_KEY is acceptable.
EASYGOING_ENVS = {"development", "testing"}
# The privacy notice a guest agrees to, unless PRIVACY_NOTICE replaces it. This one is a
# message id, shown in the guest's language; a site's own notice is shown as written.
DEFAULT_PRIVACY_NOTICE = N_(
    "Your photo is used only to let you through the doors during your visit. It is sent"
    " to the site's access control system and deleted after the visit ends."
)
# A session-signing key shorter than this could be guessed offline from one cookie.
MIN_SECRET_KEY_LENGTH = 32


class ConfigError(RuntimeError):
    """The configuration cannot run the application."""


def _bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _float(name, default):
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def _ints(name, default):
    return [int(part) for part in _str(name, default).split(",") if part.strip()]


def _str(name, default=None):
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _notices_by_language():
    """PRIVACY_NOTICE_<LANGUAGE> (PRIVACY_NOTICE_RU, ...): the site's own notice per language."""
    found = {}
    for name, value in os.environ.items():
        match = re.fullmatch(r"PRIVACY_NOTICE_([A-Z]{2,3})", name)
        if match and value.strip():
            found[match.group(1).lower()] = value.strip()
    return found


def from_environment():
    """Read every setting from the environment, applying the documented defaults."""
    env = _str("GATEHOUSE_ENV", "production")
    return {
        # production | development | testing
        "GATEHOUSE_ENV": env,
        "SECRET_KEY": _str("SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": _str(
            "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'gatehouse.db'}"
        ),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Unset under `make run`, which then starts an embedded Redis and sets it.
        "REDIS_URL": _str("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "HIKCENTRAL_URL": _str("HIKCENTRAL_URL", "http://127.0.0.1:9443"),
        "HIKCENTRAL_APP_KEY": _str("HIKCENTRAL_APP_KEY", "12345678"),
        "HIKCENTRAL_APP_SECRET": _str("HIKCENTRAL_APP_SECRET", "simulator-secret-000"),
        "HIKCENTRAL_VERIFY_TLS": _bool("HIKCENTRAL_VERIFY_TLS", True),
        "HIKCENTRAL_RATE_LIMIT_CALLS": _int("HIKCENTRAL_RATE_LIMIT_CALLS", 10),
        "HIKCENTRAL_RATE_LIMIT_WINDOW": _float("HIKCENTRAL_RATE_LIMIT_WINDOW", 1.0),
        # At most this many calls in flight at once across all workers (vendor advice: 10).
        "HIKCENTRAL_MAX_IN_FLIGHT": _int("HIKCENTRAL_MAX_IN_FLIGHT", 10),
        "HIKCENTRAL_POOL_CONNECTIONS": _int("HIKCENTRAL_POOL_CONNECTIONS", 4),
        "HIKCENTRAL_POOL_MAXSIZE": _int("HIKCENTRAL_POOL_MAXSIZE", 16),
        "HIKCENTRAL_TIMEOUT": _float("HIKCENTRAL_TIMEOUT", 10.0),
        "HIKCENTRAL_ORG_CODE": _str("HIKCENTRAL_ORG_CODE", "1"),
        # TLS without turning verification off: a CA bundle file that signed the server's
        # certificate, and/or the SHA-256 fingerprint of the certificate itself (pinned).
        "HIKCENTRAL_CA_BUNDLE": _str("HIKCENTRAL_CA_BUNDLE"),
        "HIKCENTRAL_TLS_FINGERPRINT": _str("HIKCENTRAL_TLS_FINGERPRINT"),
        # New person codes: this prefix, then A-Z/0-9 up to this length (live servers refuse
        # codes longer than 10 characters). Codes already given to visits are kept.
        "HIKCENTRAL_PERSON_CODE_PREFIX": _str("HIKCENTRAL_PERSON_CODE_PREFIX", "GH"),
        "HIKCENTRAL_PERSON_CODE_LENGTH": _int("HIKCENTRAL_PERSON_CODE_LENGTH", 10),
        # Faces are sent re-encoded within this many pixels a side (0: as stored, up to 1024).
        "HIKCENTRAL_FACE_MAX_SIDE": _int("HIKCENTRAL_FACE_MAX_SIDE", 500),
        "PASSAGE_POLL_SECONDS": _int("PASSAGE_POLL_SECONDS", 30),
        # Each poll reads again this far before its cursor, for events that reach HikCentral late.
        "PASSAGE_OVERLAP_SECONDS": _int("PASSAGE_OVERLAP_SECONDS", 120),
        # The door event types polled, one door/events read each: face granted, face refused
        # (a site with card readers adds 198914).
        "PASSAGE_EVENT_TYPES": [
            int(s) for s in _str("PASSAGE_EVENT_TYPES", "196893,197151").split(",") if s.strip()
        ],
        # The poll's Redis lock expires after this long (a crashed poll never blocks the next).
        "PASSAGE_LOCK_SECONDS": _int("PASSAGE_LOCK_SECONDS", 300),
        # Take access away when a guest is seen leaving (else it lasts to the window's end).
        "REVOKE_ON_EXIT": _bool("REVOKE_ON_EXIT", False),
        # Enrollment coalesces: one job enrolls every visit waiting at that moment, up to this.
        "ENROLL_BATCH_SIZE": _int("ENROLL_BATCH_SIZE", 50),
        # Delivery to the doors is checked later, in batches, never by a sleeping worker: at
        # most DELIVERY_CHECKS checks per visit, this many seconds after the re-apply (the last
        # delay repeats), then "not reported by HikCentral".
        "DELIVERY_CHECKS": _int("DELIVERY_CHECKS", 3),
        "DELIVERY_CHECK_DELAYS": _ints("DELIVERY_CHECK_DELAYS", "3,30,120"),
        # Persons per re-application call (live callers send one or a few at a time).
        "REAPPLY_CHUNK_SIZE": _int("REAPPLY_CHUNK_SIZE", 10),
        # A re-application that failed after a good grant is tried again after these delays.
        "REAPPLY_RETRY_DELAYS": _ints("REAPPLY_RETRY_DELAYS", "30,120,600"),
        # The reconcile sweep runs this often and re-enqueues visits waiting longer than
        # RECONCILE_STUCK_SECONDS with no live job.
        "RECONCILE_SECONDS": _int("RECONCILE_SECONDS", 60),
        "RECONCILE_STUCK_SECONDS": _int("RECONCILE_STUCK_SECONDS", 90),
        # Drift repair compares enrolled visits with HikCentral this often, spending at most
        # this share of the rate limit.
        "DRIFT_REPAIR_SECONDS": _int("DRIFT_REPAIR_SECONDS", 300),
        "RECONCILE_CALL_SHARE": _float("RECONCILE_CALL_SHARE", 0.2),
        # A worker proves it is alive this often while it runs a job; a job whose worker stops
        # proving it for WORKER_HEARTBEAT_SECONDS * 3 is abandoned and run again (RQ's
        # maintenance, every WORKER_MAINTENANCE_SECONDS, notices it).
        "WORKER_HEARTBEAT_SECONDS": _int("WORKER_HEARTBEAT_SECONDS", 10),
        "WORKER_MAINTENANCE_SECONDS": _int("WORKER_MAINTENANCE_SECONDS", 30),
        # Seconds between the retries of a job that met a transient HikCentral failure.
        "JOB_RETRY_INTERVALS": _ints("JOB_RETRY_INTERVALS", "10,30,60,120,300"),
        "GATEHOUSE_TIMEZONE": _str("GATEHOUSE_TIMEZONE", "UTC"),
        # The site's language when neither the user's setting nor the browser picks one.
        "DEFAULT_LANGUAGE": _str("DEFAULT_LANGUAGE", "en"),
        "MAX_VISIT_DAYS": _int("MAX_VISIT_DAYS", 14),
        # Default access level for new visits: a HikCentral privilegeGroupId or a name.
        "DEFAULT_ACCESS_LEVEL": _str("DEFAULT_ACCESS_LEVEL"),
        # Face-recognition doors know a guest only by face: a visit registered on the page or
        # through the API needs a photo. Off only for sites whose doors use cards or codes.
        # Guest-sheet imports keep the photo optional either way.
        "REQUIRE_GUEST_PHOTO": _bool("REQUIRE_GUEST_PHOTO", True),
        # Check every photo locally for exactly one usable face before it reaches HikCentral.
        # Off only when an operator must accept photos the detector gets wrong.
        "FACE_CHECK": _bool("FACE_CHECK", True),
        # Uploads above this are refused before they are read (photos, sheets, ZIPs).
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 32 * 1024 * 1024),
        # Guest sheets with their photo ZIPs may be larger than other uploads.
        "MAX_IMPORT_UPLOAD": _int("MAX_IMPORT_UPLOAD", 512 * 1024 * 1024),
        # Where uploaded photo archives wait for their import (default instance/imports).
        "IMPORT_FILES_DIR": _str("IMPORT_FILES_DIR"),
        # Retention of personal data (purged hourly by the scheduler). A guest's photo is kept
        # this many days after their last visit ended (HikCentral deleted the person at the end).
        "PHOTO_RETENTION_DAYS": _int("PHOTO_RETENTION_DAYS", 1),
        # This many days after their last visit a guest is anonymized (visits stay, for counts).
        "PERSONAL_DATA_RETENTION_DAYS": _int("PERSONAL_DATA_RETENTION_DAYS", 90),
        # A guest list not confirmed within this many hours expires: rows and photo ZIP deleted.
        "IMPORT_FILES_RETENTION_HOURS": _int("IMPORT_FILES_RETENTION_HOURS", 24),
        # How long a call may wait for a rate-limit slot before the job retries later.
        "HIKCENTRAL_RATE_LIMIT_MAX_WAIT": _float("HIKCENTRAL_RATE_LIMIT_MAX_WAIT", 30.0),
        "PORT": _int("PORT", 5000),
        # Outgoing e-mail (invitations, host notices). Without MAIL_SERVER nothing is sent and
        # the pages say so; `make run` starts a local sink and sets it.
        "MAIL_SERVER": _str("MAIL_SERVER"),
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", False),
        "MAIL_USERNAME": _str("MAIL_USERNAME"),
        "MAIL_PASSWORD": _str("MAIL_PASSWORD"),
        "MAIL_FROM": _str("MAIL_FROM", "gatehouse@localhost"),
        "MAIL_TIMEOUT": _float("MAIL_TIMEOUT", 10.0),
        # Seconds between the retries of a message the mail server did not take.
        "MAIL_RETRY_INTERVALS": [
            int(s) for s in _str("MAIL_RETRY_INTERVALS", "30,120,600").split(",")
        ],
        # Messages per second a bulk send (an event's invitations) keeps to.
        "MAIL_RATE": _float("MAIL_RATE", 5.0),
        # The link in e-mails: the portal's public address (else the request's host).
        "PUBLIC_URL": _str("PUBLIC_URL", "http://127.0.0.1:5000"),
        # Hours before a visit's start when a guest who has not sent a photo is reminded.
        "INVITE_REMINDER_HOURS": _int("INVITE_REMINDER_HOURS", 24),
        # The privacy notice the guest agrees to on their page, and its version (recorded).
        "PRIVACY_NOTICE": _str("PRIVACY_NOTICE", DEFAULT_PRIVACY_NOTICE),
        # The site's own notice in a language ({"ru": "..."}), before PRIVACY_NOTICE.
        "PRIVACY_NOTICES": _notices_by_language(),
        "PRIVACY_NOTICE_VERSION": _str("PRIVACY_NOTICE_VERSION", "1"),
        # Folder the development SMTP sink of `make run` writes messages to (Mailbox page).
        "MAILBOX_DIR": _str("MAILBOX_DIR"),
        # /metrics without log-in (for a Prometheus server; restrict it on the network then).
        # When false, /metrics needs an admin session.
        "METRICS_PUBLIC": _bool("METRICS_PUBLIC", False),
        "GATEHOUSE_ADMIN_EMAIL": _str("GATEHOUSE_ADMIN_EMAIL", "admin@gatehouse.local"),
        "GATEHOUSE_ADMIN_PASSWORD": _str("GATEHOUSE_ADMIN_PASSWORD"),
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Secure outside development and tests; SESSION_COOKIE_SECURE=false for an operator
        # trying the portal over plain HTTP.
        # (None: decided by check() once the environment is known).
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", None),
        # Behind a reverse proxy: believe its X-Forwarded-For/-Proto/-Host (one hop).
        "PROXY_FIX": _bool("PROXY_FIX", False),
        # A session unused this long ends; log in again.
        "SESSION_IDLE_MINUTES": _int("SESSION_IDLE_MINUTES", 480),
        # Failed log-ins allowed per window: per account, and per client address.
        "LOGIN_FAILURES_PER_ACCOUNT": _int("LOGIN_FAILURES_PER_ACCOUNT", 5),
        "LOGIN_FAILURES_PER_ADDRESS": _int("LOGIN_FAILURES_PER_ADDRESS", 50),
        "LOGIN_FAILURE_WINDOW_MINUTES": _int("LOGIN_FAILURE_WINDOW_MINUTES", 15),
        # Unknown API tokens allowed per client address in the same window.
        "API_TOKEN_FAILURES_PER_ADDRESS": _int("API_TOKEN_FAILURES_PER_ADDRESS", 50),
        # Days the audit log keeps an entry (purged hourly with the other personal data).
        "AUDIT_RETENTION_DAYS": _int("AUDIT_RETENTION_DAYS", 365),
    }


def check(config):
    """Refuse to start with a configuration that is unsafe or unusable."""
    env = config.get("GATEHOUSE_ENV")
    if env not in {"production", "development", "testing"}:
        raise ConfigError(f"GATEHOUSE_ENV must be production, development or testing, not {env!r}")
    if not config.get("SECRET_KEY"):
        if env not in EASYGOING_ENVS:
            raise ConfigError("SECRET_KEY must be set outside development and tests")
        config["SECRET_KEY"] = f"insecure-{env}-key"
    if config.get("SESSION_COOKIE_SECURE") is None:
        config["SESSION_COOKIE_SECURE"] = env not in EASYGOING_ENVS
    if env not in EASYGOING_ENVS and len(config["SECRET_KEY"]) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            f"SECRET_KEY must have at least {MIN_SECRET_KEY_LENGTH} characters in production "
            "(for example: python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    from portal.i18n import LANGUAGES

    if config["DEFAULT_LANGUAGE"] not in LANGUAGES:
        raise ConfigError(f"DEFAULT_LANGUAGE must be one of {', '.join(LANGUAGES)}")
    _check_hikcentral_identity(config)
    if config["PASSAGE_POLL_SECONDS"] < 1 or not config["PASSAGE_EVENT_TYPES"]:
        raise ConfigError("PASSAGE_POLL_SECONDS must be positive and PASSAGE_EVENT_TYPES not empty")
    if config["HIKCENTRAL_RATE_LIMIT_CALLS"] < 1 or config["HIKCENTRAL_RATE_LIMIT_WINDOW"] <= 0:
        raise ConfigError("HIKCENTRAL_RATE_LIMIT_CALLS and _WINDOW must be positive")
    if not 0 < config.get("RECONCILE_CALL_SHARE", 0.2) <= 1:
        raise ConfigError("RECONCILE_CALL_SHARE must be more than 0 and at most 1")
    for name in ("ENROLL_BATCH_SIZE", "REAPPLY_CHUNK_SIZE"):
        if config.get(name, 1) < 1:
            raise ConfigError(f"{name} must be at least 1")


def _check_hikcentral_identity(config):
    """Person-code settings that give safe codes; a TLS pin that is a SHA-256 fingerprint."""
    from portal.hikvision.identifiers import IdentifierError, check_code_settings
    from portal.hikvision.tls import TlsSettingError, normalize_fingerprint

    try:
        check_code_settings(
            config.get("HIKCENTRAL_PERSON_CODE_PREFIX", "GH"),
            config.get("HIKCENTRAL_PERSON_CODE_LENGTH", 10),
        )
        if config.get("HIKCENTRAL_TLS_FINGERPRINT"):
            normalize_fingerprint(config["HIKCENTRAL_TLS_FINGERPRINT"])
    except (IdentifierError, TlsSettingError) as error:
        raise ConfigError(str(error)) from None
    bundle = config.get("HIKCENTRAL_CA_BUNDLE")
    if bundle and not Path(bundle).is_file():
        raise ConfigError("HIKCENTRAL_CA_BUNDLE must name a readable file of CA certificates")
