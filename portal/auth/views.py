"""Views of the auth blueprint: log in and out, the profile with its API token."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import current_user, login_required

from portal.auth import sessions
from portal.auth.forms import LanguageForm, LoginForm, NoticesForm, PasswordForm, TokenForm
from portal.extensions import login_manager
from portal.page_errors import service_errors
from portal.services import accounts

bp = Blueprint("auth", __name__)

LOGIN_FAILED = _l("Email or password is incorrect.")
LOCKED_OUT = _l(
    "Too many failed log-ins for this account or from this address: try again in %(minutes)d min."
)


@login_manager.user_loader
def load_user(user_key):
    """The session's user; an ended, expired or disabled user's session is refused."""
    return sessions.load_session_user(user_key)


def home_url():
    return url_for("visits.index")


def safe_next(target):
    """``target`` when it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_url())
    form = LoginForm()
    if form.validate_on_submit():
        result = accounts.log_in(form.email.data, form.password.data, request.remote_addr)
        if result.user is not None:
            sessions.start(result.user)
            return redirect(safe_next(request.args.get("next")) or home_url())
        form.password.errors.append(locked_sentence(result.wait) if result.wait else LOGIN_FAILED)
    return render_template("auth/login.html", form=form)


def locked_sentence(seconds):
    return LOCKED_OUT % {"minutes": max(1, -(-seconds // 60))}


@bp.post("/logout")
@login_required
def logout():
    # Ends every session of this user: a copy of this cookie must not outlive the log-out.
    sessions.end_everywhere(current_user._get_current_object())
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/profile/sessions/end")
@login_required
def end_sessions():
    user = current_user._get_current_object()
    if not TokenForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("auth.profile"))
    accounts.log_out_everywhere(user)
    sessions.start(user)  # this browser stays logged in, on a session of the new generation
    flash(_("Every other session of your account was logged out."), "success")
    return redirect(url_for("auth.profile"))


def render_profile(*, token=None, password_form=None, language_form=None, status=200):
    response = render_template(
        "auth/profile.html",
        token=token,
        token_form=TokenForm(),
        password_form=password_form or PasswordForm(),
        language_form=language_form or LanguageForm(language=current_user.language or ""),
        notices_form=NoticesForm(formdata=None, obj=current_user),
    )
    headers = {"Cache-Control": "no-store"} if token else {}
    return response, status, headers


@bp.get("/profile")
@login_required
def profile():
    return render_profile()


@bp.post("/profile/token")
@login_required
def rotate_token():
    form = TokenForm()
    if not form.validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("auth.profile"))
    had_token = current_user.api_token_hash is not None
    token = accounts.rotate_token(current_user)
    flash(accounts.token_created_sentence(had_token), "success")
    return render_profile(token=token)


def save_profile_form(form, argument, change):
    """Apply a profile form: ``change(form)`` saves and says so; a refusal shows the form again."""
    if form.validate_on_submit():
        with service_errors(form) as refusal:
            change(form)
        if refusal.error is None:
            return redirect(url_for("auth.profile"))
    return render_profile(status=400, **{argument: form})


def new_password(form):
    user = current_user._get_current_object()
    accounts.change_password(user, form.current_password.data, form.new_password.data)
    sessions.start(user)  # its other sessions were logged out, this one stays
    flash(_("Your password was changed; your other sessions were logged out."), "success")


def new_language(form):
    accounts.set_language(current_user, form.language.data)
    refresh()  # the sentence below is already in the new language
    flash(_("Your language was saved."), "success")


@bp.post("/profile/password")
@login_required
def change_password():
    return save_profile_form(PasswordForm(), "password_form", new_password)


@bp.post("/profile/language")
@login_required
def change_language():
    return save_profile_form(LanguageForm(), "language_form", new_language)


@bp.post("/profile/notices")
@login_required
def change_notices():
    form = NoticesForm()
    if not form.validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("auth.profile"))
    accounts.set_notices(current_user, **{name: form[name].data for name in accounts.NOTICE_FLAGS})
    flash(_("Your e-mail choices were saved."), "success")
    return redirect(url_for("auth.profile"))
