"""Role checks for views: log-in first, then the role (roles are cumulative, architecture.md §1)."""

from functools import wraps

from flask import abort
from flask_login import current_user

from portal.extensions import login_manager
from portal.models import Role


def role_required(role):
    """Let the view run only for a logged-in, active user who may act as ``role``.

    Anonymous visitors go to the log-in page (401 for the JSON API); others get 403.
    """
    role = Role(role)

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.can(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
