"""Views of the admin blueprint: users and roles, the HikCentral connection and sync."""

import logging
from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from portal import layout
from portal.admin import audit_filters
from portal.admin.forms import ROLE_LABELS, ActionForm, CheckForm, RoleForm, UserCreateForm
from portal.auth.roles import role_required
from portal.extensions import db
from portal.hikvision import errors as hik_errors
from portal.models import AccessLevel, Door, Role, User
from portal.page_errors import service_errors
from portal.services import accounts, audit, drift, sync
from portal.services import connection as connection_service

log = logging.getLogger(__name__)

bp = Blueprint("admin", __name__, url_prefix="/admin")

USERS_PER_PAGE = 50
AUDIT_PER_PAGE = 50


@bp.route("/users", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def users():
    form = UserCreateForm()
    if form.validate_on_submit():
        with service_errors(form) as refusal:
            user = accounts.create_user(
                email=form.email.data,
                name=form.name.data,
                role=form.role.data,
                password=form.password.data,
            )
        if refusal.error is None:
            flash(
                _(
                    "User %(email)s was added as %(role)s.",
                    email=user.email,
                    role=layout.role_word(user.role),
                ),
                "success",
            )
            return redirect(url_for("admin.users"))
    status = 400 if form.errors else 200
    page = db.paginate(
        select(User).order_by(func.lower(User.name), User.id),
        per_page=USERS_PER_PAGE,
        error_out=False,
    )
    return render_template(
        "admin/users.html",
        form=form,
        page=page,
        role_choices=ROLE_LABELS,
        action_form=ActionForm(),
        open_form=bool(form.errors),
    ), status


def _target_user(user_id):
    return db.get_or_404(User, user_id)


@bp.post("/users/<int:user_id>/role")
@role_required(Role.ADMIN)
def change_role(user_id):
    user = _target_user(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        flash(_("Choose one of the listed roles."), "error")
        return redirect(url_for("admin.users"))
    with service_errors():
        accounts.set_role(user, form.role.data, by=current_user)
        flash(
            _("%(name)s is now %(role)s.", name=user.name, role=layout.role_word(user.role)),
            "success",
        )
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/<any(enable, disable):action>")
@role_required(Role.ADMIN)
def set_active(user_id, action):
    user = _target_user(user_id)
    if not ActionForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("admin.users"))
    with service_errors():
        accounts.set_active(user, action == "enable", by=current_user)
        flash(
            _("%(name)s was enabled.", name=user.name)
            if action == "enable"
            else _("%(name)s was disabled.", name=user.name),
            "success",
        )
    return redirect(url_for("admin.users"))


# --- HikCentral connection -------------------------------------------------------------------


def public_url(url):
    """The HikCentral URL without any user:password part."""
    parts = urlsplit(url or "")
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def friendly_error(error):
    """One sentence for an admin about a failed HikCentral call (never the exception text)."""
    if isinstance(error, hik_errors.AuthenticationError):
        return _(
            "HikCentral refused the portal's credentials: check HIKCENTRAL_APP_KEY and "
            "HIKCENTRAL_APP_SECRET and the partner's permissions."
        )
    if isinstance(error, hik_errors.RateLimitedError | hik_errors.RateLimitTimeout):
        return _("HikCentral is busy (rate limit reached); try again in a minute.")
    if isinstance(error, hik_errors.UnavailableError):
        return _(
            "HikCentral could not be reached: check that it is running and that "
            "HIKCENTRAL_URL is right."
        )
    if isinstance(error, hik_errors.UnsupportedError):
        return _("This HikCentral version does not offer a call the portal needs.")
    return _("HikCentral answered with an error; the details are in the server log.")


def _client():
    from portal import hikvision

    return hikvision.client_for(current_app)


def connection_status(client):
    """Product, version and a short error sentence from one unretried version call."""
    from portal.hikvision import operations, selftest

    try:
        info = operations.version(selftest.OneAttempt(client))
    except hik_errors.HikvisionError as error:
        log.warning("HikCentral version check failed: %s", error)
        return {"ok": False, "product": None, "version": None, "error": friendly_error(error)}
    return {"ok": True, "product": info["product"], "version": info["version"], "error": None}


@bp.get("/connection")
@role_required(Role.ADMIN)
def connection():
    return _connection_page()


@bp.post("/connection/check")
@role_required(Role.ADMIN)
def run_check():
    form = CheckForm()
    if not form.validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("admin.connection"))
    report = connection_service.self_test(_client(), current_app.config, write=form.write.data)
    return _connection_page(report=report, check_form=form)


def _connection_page(report=None, check_form=None):
    client = _client()
    config = current_app.config
    last_synced = db.session.scalar(select(func.max(AccessLevel.synced_at)))
    return render_template(
        "admin/connection.html",
        url=public_url(config["HIKCENTRAL_URL"]),
        certificate=connection_service.certificate(config),
        report=report,
        check_form=check_form or CheckForm(),
        windows_not_applied=connection_service.windows_not_applied(),
        status=connection_status(client),
        metrics=client.metrics_summary(),
        counts=sync.synced_counts(),
        last_synced=last_synced,
        access_levels=db.session.scalars(
            select(AccessLevel).order_by(AccessLevel.active.desc(), AccessLevel.name)
        ).all(),
        doors=db.session.scalars(select(Door).order_by(Door.active.desc(), Door.name)).all(),
        repairs=drift.recent_repairs(),
        drift_checked=drift.last_check(),
        door_directions=DOOR_DIRECTIONS,
        action_form=ActionForm(),
    )


@bp.post("/connection/sync")
@role_required(Role.ADMIN)
def run_sync():
    if not ActionForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("admin.connection"))
    try:
        counts = sync.sync_access_levels_and_doors(_client())
    except hik_errors.HikvisionError as error:
        db.session.rollback()
        log.warning("sync from HikCentral failed: %s", error)
        flash(_("Sync failed. %(why)s", why=friendly_error(error)), "error")
    else:
        flash(sync.describe(counts), "success")
    return redirect(url_for("admin.connection"))


DOOR_DIRECTIONS = {
    "entry": _l("Entry: every pass is an arrival"),
    "exit": _l("Exit: every pass is a departure"),
    "both": _l("Both: the reader says which way (inAndOutType)"),
}


@bp.post("/doors/<int:door_id>/direction")
@role_required(Role.ADMIN)
def door_direction(door_id):
    """What a door's reader means for check-in and check-out (kept across syncs)."""
    door = db.get_or_404(Door, door_id)
    direction = request.form.get("direction")
    if not ActionForm().validate_on_submit() or direction not in DOOR_DIRECTIONS:
        flash(_("Choose entry, exit or both."), "error")
        return redirect(url_for("admin.connection"))
    door.direction = direction
    db.session.commit()
    flash(f"{door.name}: {DOOR_DIRECTIONS[direction]}.", "success")
    return redirect(url_for("admin.connection") + "#doors")


# --- audit log ---------------------------------------------------------------------------------


@bp.get("/audit")
@role_required(Role.ADMIN)
def audit_log():
    filters, problems = audit_filters.parse(request.args, current_app.config["TIMEZONE"])
    page = db.paginate(audit.search(**filters), per_page=AUDIT_PER_PAGE, error_out=False)
    return render_template(
        "admin/audit.html",
        page=page,
        args=request.args,
        problems=problems,
        users=accounts.all_users(),
        object_types=sorted(audit.OBJECT_LABELS),
        object_labels=audit.OBJECT_LABELS,
        action_labels={action.value: label for action, label in audit.ACTION_LABELS.items()},
    ), (400 if problems else 200)
