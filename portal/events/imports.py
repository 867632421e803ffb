"""Guest list import pages on the events blueprint: upload, preview, confirm, progress, retry,
discard."""

import math
from functools import partial

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.auth.roles import role_required
from portal.events.views import bp, load_event
from portal.extensions import db
from portal.i18n import current_language, shown
from portal.models import GuestImport, ImportState, Role, VisitState
from portal.page_errors import saved_but_queue_down, service_errors
from portal.services import events as event_service
from portal.services import import_enrollment
from portal.services import imports as import_service
from portal.services.mail import mail_configured
from portal.sheets import GuestRow, errors_csv, template_csv, template_xlsx

ERRORS_PER_PAGE = 100
PREVIEW_PER_PAGE = 50
FAILED_SHOWN = 200
TEMPLATE_TYPES = {
    "csv": "text/csv",  # Werkzeug adds "; charset=utf-8" to text types
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class ListPage:
    """One page of a list, shaped like Flask-SQLAlchemy's Pagination for the macro."""

    def __init__(self, items, page, per_page, shape=None):
        """``shape`` turns each item of the page into what the template shows."""
        self.total = len(items)
        self.per_page = per_page
        self.pages = max(1, math.ceil(self.total / per_page))
        self.page = min(max(page, 1), self.pages)
        start = (self.page - 1) * per_page
        self.items = items[start : start + per_page]
        if shape is not None:
            self.items = [shape(item) for item in self.items]
        self.first = start + 1 if self.items else 0
        self.has_prev, self.has_next = self.page > 1, self.page < self.pages
        self.prev_num, self.next_num = self.page - 1, self.page + 1

    def iter_pages(self, left_edge=1, left_current=2, right_current=2, right_edge=1):
        last = 0
        for number in range(1, self.pages + 1):
            near = self.page - left_current <= number <= self.page + right_current
            if number <= left_edge or number > self.pages - right_edge or near:
                if last + 1 != number:
                    yield None
                yield number
                last = number


def load_import(import_id):
    """The import if the current user may manage its event; 404 otherwise."""
    guest_import = db.get_or_404(GuestImport, import_id)
    if not event_service.can_manage(current_user, guest_import.event):
        abort(404)
    return guest_import


@bp.post("/events/<int:event_id>/imports")
@role_required(Role.ORGANIZER)
def upload_import(event_id):
    event = load_event(event_id)
    sheet = request.files.get("file")
    photos = request.files.get("photos")
    with service_errors() as refusal:
        guest_import = import_service.upload_import(event, current_user, sheet, photos)
    if refusal.error is not None:
        return redirect(url_for("events.show", event_id=event.id), 303)
    # The staging job reads the files; the import page follows it and then shows the preview.
    return redirect(url_for("events.show_import", import_id=guest_import.id), 303)


@bp.get("/imports/<int:import_id>")
@role_required(Role.ORGANIZER)
def show_import(import_id):
    guest_import = load_import(import_id)
    page = ListPage(
        guest_import.errors or [], request.args.get("page", 1, type=int), ERRORS_PER_PAGE
    )
    rows = ListPage(
        guest_import.valid_rows or [],
        request.args.get("rows", 1, type=int),
        PREVIEW_PER_PAGE,
        shape=GuestRow.from_dict,
    )
    job = import_enrollment.import_job(guest_import)
    if job is not None and job.kind == "stage_import" and guest_import.state != ImportState.STAGING:
        job = None  # the check is over: the page shows its outcome
    failed = db.session.scalars(
        import_enrollment.failed_visits(guest_import).limit(FAILED_SHOWN)
    ).all()
    counts = import_enrollment.state_counts(guest_import)
    return render_template(
        "events/import_show.html",
        guest_import=guest_import,
        event=guest_import.event,
        preview=rows,
        errors=page,
        job=job,
        failed=failed,
        failed_count=counts.get(VisitState.FAILED, 0),
        without_photo=import_service.rows_without_photo(guest_import),
        mail_on=mail_configured(),
        counts=counts,
        can_retry=import_service.retry_offered(guest_import, counts),
    )


@bp.get("/imports/<int:import_id>/errors.csv")
@role_required(Role.ORGANIZER)
def import_errors_csv(import_id):
    guest_import = load_import(import_id)
    return Response(
        errors_csv(
            guest_import.errors or [],
            headers=(_("row"), _("column"), _("message")),
            say=shown,
        ),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="import-{guest_import.id}-errors.csv"',
            "Cache-Control": "no-store",
        },
    )


def import_action(import_id, act, done, **queue_down):
    """Run ``act(guest_import, organizer)`` from the import page: flash ``done``, or why not."""
    guest_import = load_import(import_id)
    with service_errors(**queue_down):
        act(guest_import, current_user)
        flash(done, "success")
    return redirect(url_for("events.show_import", import_id=import_id))


@bp.post("/imports/<int:import_id>/confirm")
@role_required(Role.ORGANIZER)
def confirm_import(import_id):
    invite_missing = request.form.get("invite_missing") == "y"
    return import_action(
        import_id,
        partial(import_service.confirm_import, invite_missing=invite_missing),
        _("Guest list confirmed: enrollment has started."),
        queue_down=saved_but_queue_down(_("The guests are saved, but enrollment could not start.")),
    )


@bp.post("/imports/<int:import_id>/retry")
@role_required(Role.ORGANIZER)
def retry_import(import_id):
    return import_action(
        import_id,
        import_service.retry_failed,
        _("Enrollment of the remaining guests has started again."),
    )


@bp.post("/imports/<int:import_id>/discard")
@role_required(Role.ORGANIZER)
def discard_import(import_id):
    guest_import = load_import(import_id)
    event_id, filename = guest_import.event_id, guest_import.filename
    with service_errors() as refusal:
        import_service.discard_import(guest_import)
    if refusal.error is not None:
        return redirect(url_for("events.show_import", import_id=import_id))
    flash(
        _("The upload %(name)s was discarded; no guest was registered from it.", name=filename),
        "success",
    )
    return redirect(url_for("events.show", event_id=event_id))


@bp.get("/imports/template.<fmt>")
@role_required(Role.ORGANIZER)
def import_template(fmt):
    if fmt not in TEMPLATE_TYPES:
        abort(404)
    # The viewer's language unless the link asks for another (?lang=en|ru).
    language = request.args.get("lang") or current_language()
    build = template_csv if fmt == "csv" else template_xlsx
    data = build(language=language, timezone=current_app.config["TIMEZONE"])
    return Response(
        data,
        mimetype=TEMPLATE_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="guests-template.{fmt}"'},
    )
