"""Bearer-token authentication of the API; the session cookie never authenticates here."""

from flask import g, request
from sqlalchemy import select

from portal.api.errors import ApiError
from portal.extensions import db
from portal.i18n import N_
from portal.models import User, hash_token
from portal.services import login_throttle


def bearer_token(header):
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def user_for_token(token):
    """The active user whose API token is ``token``, or None."""
    user = db.session.scalar(select(User).where(User.api_token_hash == hash_token(token)))
    return user if user is not None and user.active else None


def authenticate():
    """Before each API request: resolve the Bearer token to ``g.api_user`` or answer 401."""
    header = request.headers.get("Authorization")
    token = bearer_token(header)
    if token is None:
        message = (
            N_("The Authorization header must be 'Bearer <token>'.")
            if header
            else N_("A valid API token is required.")
        )
        raise ApiError(401, message)
    address = request.remote_addr
    wait = login_throttle.token_wait(address)
    if wait:
        raise ApiError(
            429,
            "Too many invalid API tokens from this address: " + login_throttle.wait_sentence(wait),
            headers={"Retry-After": str(wait)},
        )
    user = user_for_token(token)
    if user is None:
        login_throttle.token_failed(address)
        raise ApiError(401, N_("The API token is not valid or the account is disabled."))
    g.api_user = user
    # Flask-Login reads g._login_user: pin it to the token's user so that nothing in
    # this request can fall back to a user remembered by the session cookie.
    g._login_user = user
    return None


def api_user():
    """The user authenticated by the current API request's token."""
    return g.api_user


def require_role(role):
    """403 unless the token's user may act as ``role`` (the same rule as the pages)."""
    if not api_user().can(role):
        raise ApiError(403)
