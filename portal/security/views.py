"""Views of the security blueprint: the live passage log, who is on site now, the roll-call, and
check-in / check-out by hand. Security and admin only."""

import io
from datetime import datetime

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select

from portal import i18n, layout
from portal.auth.roles import role_required
from portal.extensions import db
from portal.formatting import local_time, local_to_utc
from portal.models import Door, Event, Role, Visit, VisitState, utcnow
from portal.services import notices
from portal.services import passages as passage_service
from portal.sheets.export import _csv_bytes, csv_safe

bp = Blueprint("security", __name__, url_prefix="/security")

PER_PAGE = 50
EXPORT_LIMIT = 50_000
REFRESH_SECONDS = 3
DIRECTION_LABELS = layout.DIRECTION_LABELS
KIND_LABELS = layout.KIND_LABELS
EXPORT_HEADERS = (
    "time",
    "door",
    "direction",
    "result",
    "guest",
    "company",
    "host",
    "event",
    "visit",
    "note",
)


@bp.app_context_processor
def unread_notices():
    """The bell's count in every page's navigation."""

    def count():
        if not current_user.is_authenticated:
            return 0
        return notices.unread_count(current_user)

    return {"unread_notice_count": count}


def _parse_local(raw):
    if not raw:
        return None, None
    try:
        return local_to_utc(datetime.fromisoformat(raw.strip())), None
    except ValueError:
        return None, i18n.N_("Enter a date and time like 2030-01-31T09:00.")


def _int(raw):
    try:
        return int(raw) if raw not in (None, "") else None
    except ValueError:
        return None


def read_filters(args):
    """(PassageFilters, the values to show in the form, problems by field)."""
    problems = {}
    since, error = _parse_local(args.get("since"))
    if error:
        problems["since"] = error
    until, error = _parse_local(args.get("until"))
    if error:
        problems["until"] = error
    direction = args.get("direction") if args.get("direction") in DIRECTION_LABELS else None
    kind = args.get("kind") if args.get("kind") in KIND_LABELS else None
    shown = {
        "since": args.get("since", ""),
        "until": args.get("until", ""),
        "door": args.get("door", ""),
        "direction": direction or "",
        "kind": kind or "",
        "guest": args.get("guest", "").strip(),
        "host": args.get("host", "").strip(),
        "event": args.get("event", ""),
    }
    filters = passage_service.PassageFilters(
        since=since,
        until=until,
        door_id=_int(args.get("door")),
        direction=direction,
        kind=kind,
        guest=shown["guest"] or None,
        host=shown["host"] or None,
        event_id=_int(args.get("event")),
    )
    return filters, shown, problems


def _choices():
    doors = db.session.scalars(select(Door).order_by(Door.active.desc(), Door.name)).all()
    events = db.session.scalars(select(Event).order_by(Event.starts_at.desc()).limit(100)).all()
    return doors, events


@bp.get("/passages")
@role_required(Role.SECURITY)
def passages():
    filters, shown, problems = read_filters(request.args)
    page = max(1, _int(request.args.get("page")) or 1)
    rows, has_next = passage_service.page_of(passage_service.passage_query(filters), page, PER_PAGE)
    if request.args.get("fragment") == "rows":
        return render_template("security/_passage_rows.html", rows=rows)
    doors, events = _choices()
    args = {k: v for k, v in request.args.items() if k not in ("page", "fragment")}
    return render_template(
        "security/passages.html",
        rows=rows,
        page=page,
        has_next=has_next,
        shown=shown,
        problems=problems,
        doors=doors,
        events=events,
        directions=DIRECTION_LABELS,
        kinds=KIND_LABELS,
        args=args,
        refresh_seconds=REFRESH_SECONDS,
    )


def _export_rows(filters):
    rows = db.session.scalars(passage_service.passage_query(filters).limit(EXPORT_LIMIT)).unique()
    for p in rows:
        visit = p.visit
        yield (
            local_time(p.occurred_at, "%Y-%m-%d %H:%M:%S"),
            p.door.name if p.door else (p.door_hik_id or (_("By hand") if p.manual else "")),
            str(DIRECTION_LABELS.get(p.direction, p.direction)),
            _("%(result)s (by hand)", result=KIND_LABELS[p.kind])
            if p.manual and p.kind in KIND_LABELS
            else str(KIND_LABELS.get(p.kind, p.kind)),
            visit.guest.full_name if visit else "",
            (visit.guest.company or "") if visit else "",
            visit.host.name if visit else "",
            visit.event.name if visit and visit.event else "",
            visit.id if visit else "",
            i18n.shown(p.note) or "",
        )


@bp.get("/passages.<any(csv, xlsx):fmt>")
@role_required(Role.SECURITY)
def export_passages(fmt):
    filters, _shown, _problems = read_filters(request.args)
    stamp = local_time(utcnow(), "%Y%m%d-%H%M")
    rows = list(_export_rows(filters))
    if fmt == "csv":
        data = _csv_bytes([EXPORT_HEADERS, *rows], ",")
        mimetype = "text/csv"
    else:
        data = _xlsx(rows)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return send_file(
        io.BytesIO(data),
        mimetype=mimetype,
        as_attachment=True,
        download_name=f"passages-{stamp}.{fmt}",
    )


def _xlsx(rows):
    book = Workbook()
    sheet = book.active
    sheet.title = "Passages"
    sheet.append(list(EXPORT_HEADERS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        # Text that starts like a formula stays text (formula injection).
        sheet.append([csv_safe(v) if isinstance(v, str) else v for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- on site now ------------------------------------------------------------------------------


def _expected(now):
    """Enrolled guests (or ones who left) whose window is open now: they may be checked in."""
    return db.session.scalars(
        select(Visit)
        .where(
            Visit.state.in_([VisitState.ENROLLED.value, VisitState.LEFT.value]),
            Visit.starts_at <= now,
            Visit.ends_at > now,
        )
        .join(Visit.guest)
        .order_by(Visit.starts_at, Visit.id)
        .limit(200)
    ).all()


@bp.get("/onsite")
@role_required(Role.SECURITY)
def onsite():
    now = utcnow()
    visits = passage_service.on_site(now)
    overstays = [v for v in visits if passage_service.is_overstay(v, now)]
    return render_template(
        "security/onsite.html",
        visits=visits,
        overstays=overstays,
        inside=[v for v in visits if v not in overstays],
        expected=_expected(now),
        now=now,
    )


@bp.get("/onsite/roll-call")
@role_required(Role.SECURITY)
def roll_call():
    now = utcnow()
    visits = sorted(passage_service.on_site(now), key=lambda v: v.guest.full_name.casefold())
    return render_template("security/roll_call.html", visits=visits, now=now)


def _visit_or_404(visit_id):
    visit = db.session.get(Visit, visit_id)
    if visit is None:
        abort(404)
    return visit


def _back(visit):
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect(url_for("security.onsite"))


@bp.post("/visits/<int:visit_id>/<any('check-in', 'check-out'):action>")
@role_required(Role.SECURITY)
def check(visit_id, action):
    visit = _visit_or_404(visit_id)
    reason = request.form.get("reason", "")
    act = passage_service.check_in if action == "check-in" else passage_service.check_out
    try:
        act(visit, by=current_user, reason=reason)
    except passage_service.PassageError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        if action == "check-in":
            said = _("%(name)s was checked in by hand.", name=visit.guest.full_name)
        else:
            said = _("%(name)s was checked out by hand.", name=visit.guest.full_name)
        flash(said, "success")
    return _back(visit)


# --- the bell ---------------------------------------------------------------------------------


def register_notices(app):
    """The bell's pages, for every user, at the top level (called by ``create_app``)."""
    app.add_url_rule("/notices", "notices", role_required(Role.HOST)(show_notices), methods=["GET"])
    app.add_url_rule(
        "/notices/read", "notices_read", role_required(Role.HOST)(read_notices), methods=["POST"]
    )


def show_notices():
    items = notices.recent(current_user)
    unread = {n.id for n in items if n.read_at is None}
    return render_template("notices.html", items=items, unread=unread)


def read_notices():
    notices.mark_all_read(current_user)
    return redirect(url_for("notices"))
