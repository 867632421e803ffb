"""Business rules for user accounts: creation, roles, activation, passwords, API tokens."""

from dataclasses import dataclass

from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from portal.extensions import db
from portal.i18n import LANGUAGES, N_, N_plural, normalize
from portal.models import AuditAction, Role, User, hash_token
from portal.services import audit, login_throttle

MIN_PASSWORD_LENGTH = 10
# Refused whatever their length (lower-cased comparison).
COMMON_PASSWORDS = {
    "password", "password1", "password123", "1234567890", "12345678901", "qwertyuiop",
    "0123456789", "administrator", "letmein123", "iloveyou12", "changeme123",
}  # fmt: skip
ROLE_NAMES = ", ".join(role.value for role in Role)

# Compared against when no user matches, so that an unknown email costs the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


class AccountError(Exception):
    """A refused account change; ``field`` names the input at fault (or None)."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field


def normalize_email(email):
    """Emails are compared and stored trimmed and lower-cased."""
    return (email or "").strip().lower()


def parse_role(value):
    """The Role named by ``value``, or AccountError naming the valid roles."""
    try:
        return Role(str(value or "").strip().lower())
    except ValueError:
        raise AccountError(
            N_("Unknown role '%(role)s': choose one of %(roles)s.")
            % {"role": value, "roles": ROLE_NAMES},
            field="role",
        ) from None


def password_problem(password, *, email=None):
    """A sentence saying why ``password`` is too weak, or None when it is acceptable."""
    if not password:
        return N_("A password is required.")
    if len(password) < MIN_PASSWORD_LENGTH:
        return N_plural(
            "The password must have at least %(num)d character.",
            "The password must have at least %(num)d characters.",
            MIN_PASSWORD_LENGTH,
        ) % {"num": MIN_PASSWORD_LENGTH}
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        return N_("The password is too easy to guess.")
    if email and password.lower() == normalize_email(email):
        return N_("The password must not be the email address.")
    return None


def find_user(email):
    """The user with this email (case-insensitive), or None."""
    email = normalize_email(email)
    if not email:
        return None
    return db.session.scalar(select(User).where(func.lower(User.email) == email))


def user_by_token(token):
    """The active user whose API token this is, or None."""
    if not token:
        return None
    user = db.session.scalar(select(User).where(User.api_token_hash == hash_token(token)))
    return user if user is not None and user.active else None


def authenticate(email, password):
    """The active user with this email and password, or None (no hint which part was wrong)."""
    user = find_user(email)
    if user is None:
        User(password_hash=_DUMMY_HASH).check_password(password or "")
        return None
    if not user.check_password(password or "") or not user.active:
        return None
    return user


@dataclass(frozen=True)
class LoginResult:
    """The user logged in, or None and how many seconds the log-in stays locked (0: wrong)."""

    user: User | None
    wait: int = 0


def log_in(email, password, address):
    """Check a log-in attempt against the throttle, then the password (same page either way)."""
    wait = login_throttle.login_wait(email, address)
    if wait:
        return LoginResult(None, wait)
    user = authenticate(email, password)
    if user is not None:
        return LoginResult(user)
    if login_throttle.login_failed(email, address):
        _record_lock_out(email)
        return LoginResult(None, login_throttle.login_wait(email, address))
    return LoginResult(None)


def _record_lock_out(email):
    user = find_user(email)
    audit.record(AuditAction.LOGIN_LOCKED, user, by=user, details="too many failed log-ins")
    db.session.commit()


def create_user(*, email, name, role, password, language=None):
    """Create and commit a user; AccountError for a bad email, role, name, password or language.

    ``language`` is their pages' and e-mails' ("en", "ru"); None follows their browser (their
    e-mails then speak DEFAULT_LANGUAGE).
    """
    email = normalize_email(email)
    name = (name or "").strip()
    if not email or "@" not in email or email.startswith("@") or email.endswith("@"):
        raise AccountError(N_("Enter a valid email address."), field="email")
    if not name:
        raise AccountError(N_("A name is required."), field="name")
    if len(name) > 120:
        raise AccountError(N_("The name must have at most 120 characters."), field="name")
    role = parse_role(role)
    if language and not normalize(language):
        raise AccountError(
            N_("Unknown language '%(language)s': choose one of %(languages)s.")
            % {"language": language, "languages": ", ".join(LANGUAGES)},
            field="language",
        )
    problem = password_problem(password, email=email)
    if problem:
        raise AccountError(problem, field="password")
    if find_user(email) is not None:
        raise AccountError(
            N_("A user with the email %(email)s already exists.") % {"email": email}, field="email"
        )
    user = User(email=email, name=name, role=role.value, active=True, language=normalize(language))
    user.set_password(password)
    db.session.add(user)
    audit.record(AuditAction.USER_CREATED, user, details=f"role {role.value}")
    db.session.commit()
    return user


def set_role(user, role, *, by=None):
    """Change ``user``'s role and commit; their sessions end. An admin cannot demote themselves."""
    role = parse_role(role)
    if by is not None and by.id == user.id and role != Role(user.role):
        raise AccountError(N_("You cannot change your own role."), field="role")
    if role == Role(user.role):
        return user
    audit.record(AuditAction.ROLE_CHANGED, user, by=by, details=f"{user.role} → {role.value}")
    user.role = role.value
    user.end_sessions()  # pages opened under the old role must not keep its rights
    db.session.commit()
    return user


def set_active(user, active, *, by=None):
    """Enable or disable ``user`` and commit; an admin cannot disable themselves."""
    if by is not None and by.id == user.id and not active:
        raise AccountError(N_("You cannot disable your own account."))
    if bool(active) == user.active:
        return user
    user.active = bool(active)
    if not active:
        # A disabled account's API token and sessions stop working at once, and stay ended
        # when the account is enabled again.
        user.api_token_hash = None
        user.end_sessions()
    action = AuditAction.USER_ENABLED if active else AuditAction.USER_DISABLED
    audit.record(action, user, by=by)
    db.session.commit()
    return user


def rotate_token(user):
    """Give ``user`` a new API token, commit, and return the plain token (shown once)."""
    token = user.rotate_api_token()
    audit.record(AuditAction.TOKEN_CREATED, user, by=user)
    db.session.commit()
    return token


def token_created_sentence(had_token):
    """What to say about a new API token: the previous one stops working only if there was one."""
    if had_token:
        return N_("A new API token was created; the previous one no longer works.")
    return N_("Your API token was created.")


def change_password(user, current, new):
    """Replace ``user``'s password after checking the current one; ends their sessions; commits."""
    if not user.check_password(current or ""):
        raise AccountError(N_("The current password is incorrect."), field="current_password")
    problem = password_problem(new, email=user.email)
    if problem:
        raise AccountError(problem, field="new_password")
    user.set_password(new)
    user.end_sessions()
    audit.record(AuditAction.PASSWORD_CHANGED, user, by=user)
    db.session.commit()
    return user


def log_out_everywhere(user):
    """End every session of ``user`` (the profile's button) and commit."""
    user.end_sessions()
    audit.record(AuditAction.SESSIONS_ENDED, user, by=user)
    db.session.commit()
    return user


def all_users():
    """Every user, by email."""
    return list(db.session.scalars(select(User).order_by(User.email)))


def set_language(user, language):
    """Save the user's page language ("" or None: follow the browser); commits."""
    from portal.i18n import normalize

    code = normalize(language) if language else None
    if language and code is None:
        raise AccountError(N_("This language is not offered."), field="language")
    user.language = code
    db.session.commit()


# The e-mails about their guests a user may turn off (User boolean columns).
NOTICE_FLAGS = ("notify_guest_completed", "notify_enrollment_failed", "notify_guest_arrived")


def set_notices(user, **choices):
    """Turn the user's e-mails about their guests on or off; commits."""
    for name, wanted in choices.items():
        if name not in NOTICE_FLAGS:
            raise ValueError(f"unknown notice {name!r}")
        setattr(user, name, bool(wanted))
    db.session.commit()
