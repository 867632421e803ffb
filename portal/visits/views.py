"""Views of the visits blueprint: the home page, registering a visit and following it."""

from datetime import datetime, timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.routing import BuildError

from portal.auth.roles import role_required
from portal.extensions import db
from portal.formatting import local_to_utc, site_zone, utc_to_local
from portal.i18n import N_, language_choices, language_name
from portal.models import Role, Visit, VisitState
from portal.queue import QUEUE_DOWN_MESSAGE, QueueUnavailable, redis_connection
from portal.services import invitations, submissions
from portal.services import passages as passage_service
from portal.services import visits as visit_service
from portal.services.mail import mail_configured
from portal.visits.forms import (
    CHOOSE,
    GuestPhotoForm,
    RetryForm,
    VisitForm,
    WindowForm,
    default_window,
)

bp = Blueprint("visits", __name__)

PER_PAGE = 25
# A refused time change, kept in the session across the redirect back to the visit page.
WINDOW_ATTEMPT = "visit_window_attempt"
GROUP_LABELS = {0: _l("Today"), 1: _l("Upcoming"), 2: _l("Past")}
SAVED_BUT_QUEUE_DOWN = N_(
    "The change is saved, but the doors are not updated yet: the job queue is not reachable."
    " Retry the job from the Jobs page."
)


def load_visit(visit_id):
    """The visit if the current user may see it; 404 otherwise (existence is not revealed)."""
    visit = db.get_or_404(Visit, visit_id)
    if not visit_service.can_view(current_user, visit):
        abort(404)
    return visit


def load_changeable(visit_id):
    visit = load_visit(visit_id)
    if not visit_service.can_change(current_user, visit):
        abort(403)
    return visit


def upload(field):
    """The bytes of an uploaded file, or None when no file was chosen."""
    storage = field.data
    if not storage or not getattr(storage, "filename", None):
        return None
    return storage.read()


def show_errors(form, fields):
    """Put service errors next to their fields (a field's own parse error stays first)."""
    for name, message in fields.items():
        field = getattr(form, name, None)
        if field is not None and not field.errors:
            field.errors = [message]
        elif field is None:
            flash(message, "error")


def parsed_time(field):
    return None if field.errors or field.data is None else local_to_utc(field.data)


def local_day_bounds():
    """Start and end (UTC) of today in the site's time zone."""
    today = datetime.now(site_zone()).replace(hour=0, minute=0, second=0, microsecond=0)
    return local_to_utc(today), local_to_utc(today + timedelta(days=1))


def job_poll_url(job):
    """The JSON URL that reports the job's progress, when the jobs pages provide one."""
    if job is None:
        return None
    try:
        return url_for("jobs_ui.job_json", job_id=job.id)
    except BuildError:
        return None


@bp.get("/")
@role_required(Role.HOST)
def home():
    return redirect(url_for("visits.index"))


@bp.get("/visits")
@role_required(Role.HOST)
def index():
    q = request.args.get("q", "").strip()
    state = request.args.get("state", "")
    state = state if state in set(VisitState) else ""
    day_start, day_end = local_day_bounds()
    query = visit_service.search_visits(
        current_user, q=q, state=state or None, day_start=day_start, day_end=day_end
    )
    page = db.paginate(query, per_page=PER_PAGE, error_out=False)
    groups = visit_service.group_by_day(page.items, day_start, day_end)
    return render_template(
        "visits/index.html",
        page=page,
        groups=[(GROUP_LABELS[key], items) for key, items in groups],
        q=q,
        state=state,
        states=list(VisitState),
    )


def visit_form(**kwargs):
    form = VisitForm(**kwargs)
    form.levels = visit_service.active_access_levels()
    form.access_level.choices = [(level.id, level.name) for level in form.levels]
    if len(form.levels) > 1:
        # No silent default among several levels: the host picks one (or the site's default).
        form.access_level.choices.insert(0, ("", CHOOSE))
    form.language.choices = guest_language_choices()
    if not submissions.valid_token(form.form_nonce.data):
        form.form_nonce.data = submissions.new_token()
    return form


def guest_language_choices():
    """The guest's language: left to the site's default (stored as none), or one offered."""
    default = language_name(current_app.config["DEFAULT_LANGUAGE"])
    return [("", _("The site's language (%(name)s)", name=default)), *language_choices()]


def fill_defaults(form):
    """Today's working hours and the site's default access level (or the only one there is)."""
    form.starts_at.data, form.ends_at.data = default_window(datetime.now(site_zone()))
    default = visit_service.default_access_level(
        form.levels, current_app.config.get("DEFAULT_ACCESS_LEVEL")
    )
    if default is None and len(form.levels) == 1:
        default = form.levels[0]
    form.access_level.data = default.id if default else None


def new_visit_submission(form):
    """The claim of this form's one-time token by the current user."""
    return submissions.Submission(
        redis_connection(), "visit-new", current_user.id, form.form_nonce.data
    )


def repeated_submission(submission):
    """The answer to a form sent again: the visit its first sending registered."""
    visit_id = submission.first_result()
    if visit_id is not None:
        flash(_("This form was already sent: here is the visit it registered."), "info")
        return redirect(url_for("visits.show", visit_id=visit_id))
    if submission.claim():
        return None  # the first sending registered nothing: this one may
    flash(_("This form is still being registered: look for the visit in the list."), "info")
    return redirect(url_for("visits.index"))


@bp.route("/visits/new", methods=["GET", "POST"])
@role_required(Role.HOST)
def new():
    form = visit_form()
    if request.method == "GET":
        fill_defaults(form)
        return render_template("visits/new.html", form=form)
    form.validate()  # parses the times; the rules are checked by the service below
    submission = new_visit_submission(form)
    if not submission.claim():
        answer = repeated_submission(submission)
        if answer is not None:
            return answer
    visit = None
    try:
        visit = visit_service.register_visit(
            current_user,
            full_name=form.full_name.data,
            email=form.email.data,
            phone=form.phone.data,
            company=form.company.data,
            starts_at=parsed_time(form.starts_at),
            ends_at=parsed_time(form.ends_at),
            purpose=form.purpose.data,
            access_level=form.access_level.data,
            photo=upload(form.photo),
            language=form.language.data,
        )
    except visit_service.VisitValidationError as error:
        show_errors(form, error.fields)
        return render_template("visits/new.html", form=form), 422
    finally:
        # Nothing registered: the corrected form (same token) may be sent again.
        if visit is None:
            submission.release()
        else:
            submission.done(visit.id)
    if visit.state == VisitState.AWAITING_PHOTO:
        flash(
            _(
                "Visit of %(name)s registered. %(email)s is invited to send their photo;"
                " access is set up when it arrives.",
                name=visit.guest.full_name,
                email=visit.guest.email,
            ),
            "success",
        )
    else:
        flash(
            _("Visit of %(name)s registered. Access is being set up.", name=visit.guest.full_name),
            "success",
        )
    return redirect(url_for("visits.show", visit_id=visit.id))


def remember_window_attempt(visit, form):
    """Keep a refused time change (what was typed and why) for the page the browser goes to."""
    session[WINDOW_ATTEMPT] = {
        "visit": visit.id,
        "typed": {name: (form[name].raw_data or [""])[0] for name in ("starts_at", "ends_at")},
        "errors": {field.name: field.errors for field in form if field.errors},
    }


def recalled_window_form(visit):
    """The refused time change of ``visit`` with its errors, once; else None."""
    attempt = session.pop(WINDOW_ATTEMPT, None)
    if not attempt or attempt.get("visit") != visit.id:
        return None
    form = WindowForm(formdata=MultiDict(attempt["typed"]), meta={"csrf": False})
    for name, errors in attempt["errors"].items():
        if name in form:
            form[name].errors = list(errors)
    return form


def render_visit(visit, *, window_form=None, retry_form=None, photo_form=None, status=200):
    job = visit_service.latest_job(visit)
    window_form = window_form or recalled_window_form(visit)
    if window_form is None:
        window_form = WindowForm(
            formdata=None,
            starts_at=utc_to_local(visit.starts_at),
            ends_at=utc_to_local(visit.ends_at),
        )
    page = render_template(
        "visits/show.html",
        visit=visit,
        job=job,
        job_url=job_poll_url(job),
        can_change=visit_service.can_change(current_user, visit),
        changeable=visit.state in visit_service.CHANGEABLE_STATES,
        needs_retry=visit_service.needs_retry(visit),
        can_reapply=visit.state in {VisitState.ENROLLED, VisitState.ON_SITE}
        and bool(visit.hik_person_id),
        window_form=window_form,
        retry_form=retry_form or RetryForm(formdata=None),
        photo_form=photo_form or GuestPhotoForm(formdata=None),
        invitation=invitations.current_invitation(visit),
        invite_problem=invitations.can_invite(visit),
        mail_configured=mail_configured(),
        passages=passage_service.visit_passages(visit),
        desk=current_user.can(Role.SECURITY),
    )
    return page, status


@bp.get("/visits/<int:visit_id>")
@role_required(Role.HOST)
def show(visit_id):
    return render_visit(load_visit(visit_id))


@bp.get("/visits/<int:visit_id>/photo")
@role_required(Role.HOST)
def photo(visit_id):
    visit = load_visit(visit_id)
    if not visit.guest.photo:
        abort(404)
    response = make_response(visit.guest.photo)
    response.mimetype = "image/jpeg"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/visits/<int:visit_id>/window")
@role_required(Role.HOST)
def change_window(visit_id):
    visit = load_changeable(visit_id)
    form = WindowForm()
    form.validate()
    try:
        visit_service.change_window(
            visit, parsed_time(form.starts_at), parsed_time(form.ends_at), by=current_user
        )
    except visit_service.VisitValidationError as error:
        # Back to the visit's own address (303: a reload there does not send the form again).
        show_errors(form, error.fields)
        remember_window_attempt(visit, form)
        return redirect(url_for("visits.show", visit_id=visit.id, _anchor="change"), 303)
    except visit_service.VisitStateError as error:
        flash(error.message, "error")
    except QueueUnavailable:
        flash(SAVED_BUT_QUEUE_DOWN, "warning")
    else:
        flash(_("The visit's time has been changed."), "success")
    return redirect(url_for("visits.show", visit_id=visit.id))


@bp.post("/visits/<int:visit_id>/cancel")
@role_required(Role.HOST)
def cancel(visit_id):
    visit = load_changeable(visit_id)
    try:
        visit_service.cancel_visit(visit, by=current_user)
    except visit_service.VisitStateError as error:
        flash(error.message, "error")
    except QueueUnavailable:
        flash(SAVED_BUT_QUEUE_DOWN, "warning")
    else:
        flash(_("The visit has been cancelled."), "success")
    return redirect(url_for("visits.show", visit_id=visit.id))


@bp.post("/visits/<int:visit_id>/retry")
@role_required(Role.HOST)
def retry(visit_id):
    visit = load_changeable(visit_id)
    form = RetryForm()
    try:
        visit_service.retry_enrollment(visit, by=current_user, photo=upload(form.photo))
    except visit_service.VisitValidationError as error:
        show_errors(form, error.fields)
        return render_visit(visit, retry_form=form, status=422)
    except visit_service.VisitStateError as error:
        flash(error.message, "error")
    except QueueUnavailable:
        flash(QUEUE_DOWN_MESSAGE, "error")
    else:
        flash(_("Enrollment is being retried."), "success")
    return redirect(url_for("visits.show", visit_id=visit.id))


@bp.post("/visits/<int:visit_id>/invite")
@role_required(Role.HOST)
def invite(visit_id):
    visit = load_changeable(visit_id)
    try:
        invitations.invite(visit, by=current_user)
    except visit_service.VisitStateError as error:
        flash(error.message, "error")
    else:
        flash(_("An invitation is being sent to %(email)s.", email=visit.guest.email), "success")
    return redirect(url_for("visits.show", visit_id=visit.id))


@bp.post("/visits/<int:visit_id>/guest-photo")
@role_required(Role.HOST)
def guest_photo(visit_id):
    visit = load_changeable(visit_id)
    form = GuestPhotoForm()
    try:
        visit_service.supply_photo(visit, upload(form.photo), by=current_user)
    except visit_service.VisitValidationError as error:
        show_errors(form, error.fields)
        return render_visit(visit, photo_form=form, status=422)
    except visit_service.VisitStateError as error:
        flash(error.message, "error")
    else:
        flash(_("The photo is added. Access is being set up."), "success")
    return redirect(url_for("visits.show", visit_id=visit.id))


@bp.post("/visits/<int:visit_id>/reapply")
@role_required(Role.HOST)
def reapply(visit_id):
    visit = load_changeable(visit_id)
    try:
        visit_service.reapply(visit, by=current_user)
    except visit_service.VisitStateError as error:
        flash(error.message, "error")
    except QueueUnavailable:
        flash(QUEUE_DOWN_MESSAGE, "error")
    else:
        flash(_("The doors are being asked again to take this visit's access."), "success")
    return redirect(url_for("visits.show", visit_id=visit.id))


# Visit-page forms that upload a photo: endpoint -> (render_visit argument, form class).
PHOTO_FORMS = {
    "visits.retry": ("retry_form", RetryForm),
    "visits.guest_photo": ("photo_form", GuestPhotoForm),
}


@bp.errorhandler(413)
def upload_too_large(error):
    """A photo above MAX_CONTENT_LENGTH: the body was not read, so show the form again."""
    limit_mb = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    message = _("The photo is too large: at most %(num)d MB. Choose a smaller photo.", num=limit_mb)
    if request.endpoint == "visits.new" and current_user.is_authenticated:
        form = visit_form(formdata=None)
        fill_defaults(form)
        form.photo.errors = [message]
        flash(
            _("Nothing was saved: the upload was too large. Please fill in the form again."),
            "error",
        )
        return render_template("visits/new.html", form=form), 413
    visit = None
    if request.endpoint in PHOTO_FORMS and current_user.is_authenticated:
        visit = db.session.get(Visit, request.view_args["visit_id"])
    if visit is not None and visit_service.can_change(current_user, visit):
        argument, form_class = PHOTO_FORMS[request.endpoint]
        form = form_class(formdata=None)
        form.photo.errors = [message]
        return render_visit(visit, status=413, **{argument: form})
    return render_template("error.html", code=413, message=message), 413
