"""The guest's invitation page: no log-in, phone first. The link itself is the credential.

It speaks the language switched to on the page, else the guest's (chosen by their host, the one
their e-mail spoke), else the browser's, else DEFAULT_LANGUAGE (portal.i18n).
"""

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _

from portal.guest.forms import GuestPageForm
from portal.i18n import current_language, prefer_language
from portal.services import invitations
from portal.services.visits import VisitValidationError

bp = Blueprint("guest", __name__)


def _no_store(page, status=200):
    # The page shows personal details behind a secret link: keep it out of caches and referrers.
    return page, status, {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}


def _refused(refusal):
    return _no_store(render_template("guest/refused.html", message=refusal.message), 410)


def _open(token):
    """The usable invitation behind ``token``; the page then speaks its guest's language."""
    invitation = invitations.open_invitation(token)
    prefer_language(invitation.visit.guest.language)
    return invitation


def _page(invitation, form, status=200):
    visit = invitation.visit
    return _no_store(
        render_template(
            "guest/page.html",
            visit=visit,
            form=form,
            place=invitations.place_of(visit),
            notice=invitations.privacy_notice(current_language()),
        ),
        status,
    )


@bp.route("/g/<token>", methods=["GET", "POST"])
def page(token):
    try:
        invitation = _open(token)
    except invitations.InvitationRefused as refusal:
        return _refused(refusal)
    if request.method == "GET":
        guest = invitation.visit.guest
        return _page(invitation, GuestPageForm(full_name=guest.full_name, company=guest.company))
    form = GuestPageForm()
    if not form.validate():  # the CSRF token; the rules are checked by the service
        return _page(invitation, form, 400)
    storage = form.photo.data
    try:
        visit = invitations.complete_invitation(
            invitation,
            photo=storage.read() if storage and storage.filename else None,
            full_name=form.full_name.data,
            company=form.company.data,
            consent=form.consent.data,
        )
    except VisitValidationError as error:
        for name, message in error.fields.items():
            getattr(form, name).errors = [message]
        return _page(invitation, form, 422)
    except invitations.InvitationRefused as refusal:
        return _refused(refusal)
    return _no_store(render_template("guest/done.html", visit=visit))


@bp.errorhandler(413)
def photo_too_large(error):
    """A photo above MAX_CONTENT_LENGTH: the body was not read; say so on the guest's page."""
    try:
        invitation = _open(request.view_args["token"])
    except invitations.InvitationRefused as refusal:
        return _refused(refusal)
    limit_mb = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    message = _(
        "The photo is too large: at most %(mb)d MB. Take the photo again or choose a smaller one.",
        mb=limit_mb,
    )
    guest = invitation.visit.guest
    form = GuestPageForm(formdata=None, full_name=guest.full_name, company=guest.company)
    form.photo.errors = [message]
    return _page(invitation, form, 413)
