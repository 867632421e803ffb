"""Views of the events blueprint: organizers' events and their guest lists."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from portal.auth.roles import role_required
from portal.events.forms import EventForm
from portal.extensions import db
from portal.formatting import local_to_utc, utc_to_local
from portal.i18n import shown
from portal.models import AccessLevel, Event, Role, VisitState
from portal.queue import QUEUE_DOWN_MESSAGE, QueueUnavailable
from portal.services import events as event_service
from portal.services import invitations
from portal.services import passages as passage_service
from portal.services.mail import mail_configured
from portal.services.visits import VisitStateError
from portal.visits.forms import CHOOSE
from portal.visits.views import job_poll_url

bp = Blueprint("events", __name__)


def load_event(event_id):
    event = db.get_or_404(Event, event_id)
    if not event_service.can_manage(current_user, event):
        abort(404)
    return event


def event_form(event=None):
    form = EventForm(obj=None)
    form.access_level.choices = [(0, CHOOSE)] + [
        (level.id, level.name) for level in event_service.active_access_levels()
    ]
    if event is not None and request.method == "GET":
        form.name.data, form.location.data = event.name, event.location
        form.starts_at.data = utc_to_local(event.starts_at)
        form.ends_at.data = utc_to_local(event.ends_at)
        form.access_level.data = event.access_level_id
    return form


def form_fields(form):
    return dict(
        name=form.name.data,
        location=form.location.data,
        starts_at=local_to_utc(form.starts_at.data),
        ends_at=local_to_utc(form.ends_at.data),
        access_level=db.session.get(AccessLevel, form.access_level.data or 0),
    )


def show_errors(form, fields):
    for name, message in fields.items():
        getattr(form, name).errors = [*getattr(form, name).errors, message]


@bp.get("/events")
@role_required(Role.ORGANIZER)
def index():
    page = db.paginate(event_service.visible_events(current_user), per_page=25)
    counts = event_service.guest_counts([event.id for event in page.items])
    return render_template("events/index.html", page=page, counts=counts)


@bp.route("/events/new", methods=["GET", "POST"])
@role_required(Role.ORGANIZER)
def new():
    form = event_form()
    if form.validate_on_submit():
        try:
            event = event_service.create_event(current_user, **form_fields(form))
        except event_service.EventValidationError as error:
            show_errors(form, error.fields)
        else:
            flash(
                _("Event “%(name)s” created. Upload its guest list next.", name=event.name),
                "success",
            )
            return redirect(url_for("events.show", event_id=event.id))
    return render_template("events/form.html", form=form, event=None)


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@role_required(Role.ORGANIZER)
def edit(event_id):
    event = load_event(event_id)
    if event.cancelled_at is not None:
        flash(event_service.CANCELLED, "warning")
        return redirect(url_for("events.show", event_id=event.id))
    form = event_form(event)
    if form.validate_on_submit():
        try:
            change = event_service.update_event(event, **form_fields(form), by=current_user)
        except event_service.EventValidationError as error:
            show_errors(form, error.fields)
        except QueueUnavailable:
            flash(
                _("The event is saved; its guests' doors are not yet.")
                + " "
                + shown(QUEUE_DOWN_MESSAGE),
                "warning",
            )
            return redirect(url_for("events.show", event_id=event.id))
        else:
            flash(saved_sentence(change), "success")
            return redirect(url_for("events.show", event_id=event.id))
    return render_template("events/form.html", form=form, event=event)


def saved_sentence(change):
    """What saving an event did, in one sentence."""
    said = [_("Event saved.")]
    if change.guests:
        said.append(
            ngettext(
                "%(num)d guest moved with the event's time.",
                "%(num)d guests moved with the event's time.",
                change.guests,
            )
        )
    if change.relevelled:
        said.append(
            ngettext(
                "%(num)d guest took the event's new access level.",
                "%(num)d guests took the event's new access level.",
                change.relevelled,
            )
        )
    if change.job:
        said.append(_("HikCentral is being updated."))
    return " ".join(said)


@bp.post("/events/<int:event_id>/cancel")
@role_required(Role.ORGANIZER)
def cancel(event_id):
    event = load_event(event_id)
    try:
        change = event_service.cancel_event(event, by=current_user)
    except event_service.EventStateError as error:
        flash(error.message, "warning")
    except QueueUnavailable:
        flash(
            _("The event is cancelled, but its guests still have access.")
            + " "
            + shown(QUEUE_DOWN_MESSAGE),
            "error",
        )
    else:
        said = ngettext(
            "The event was cancelled with its %(num)d guest.",
            "The event was cancelled with its %(num)d guests.",
            change.guests,
        )
        if change.job:
            said = " ".join((said, _("Their access is being removed.")))
        flash(said, "success")
    return redirect(url_for("events.show", event_id=event.id))


@bp.get("/events/<int:event_id>")
@role_required(Role.ORGANIZER)
def show(event_id):
    event = load_event(event_id)
    q = request.args.get("q", "").strip()
    state = request.args.get("state") or None
    if state not in {None, *VisitState}:
        state = None
    page = db.paginate(event_service.event_visits(event, q=q, state=state), per_page=50)
    invite_job = invitations.latest_event_invitation_job(event)
    counts = event_service.guest_counts([event.id])[event.id]
    return render_template(
        "events/show.html",
        event=event,
        page=page,
        q=q,
        state=state,
        states=list(VisitState),
        counts=counts,
        attendance=passage_service.attendance_counts(counts),
        imports=event_service.event_imports(event),
        photos=event_service.photo_counts(event),
        invitable=len(invitations.event_invitable(event.id)),
        invite_off=None if mail_configured() else invitations.MAIL_OFF,
        invite_job=invite_job,
        invite_job_url=job_poll_url(invite_job),
        job=event_service.latest_job(event),
    )


@bp.post("/events/<int:event_id>/invite")
@role_required(Role.ORGANIZER)
def invite_guests(event_id):
    event = load_event(event_id)
    try:
        invitations.invite_event_guests(event, by=current_user)
    except VisitStateError as error:
        flash(error.message, "error")
    except QueueUnavailable:
        flash(QUEUE_DOWN_MESSAGE, "error")
    else:
        flash(_("The invitations are being sent; follow the progress below."), "success")
    return redirect(url_for("events.show", event_id=event.id))


from portal.events import imports  # noqa: E402,F401  (registers the import routes)
