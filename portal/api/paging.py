"""Paged lists of the API: {"items": [...], "next": url or null} with ?page=&per_page=."""

from flask import request, url_for

from portal.api.errors import ApiError
from portal.bounds import MAX_DB_INT
from portal.extensions import db
from portal.i18n import N_

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200


def _positive_int(name, default, maximum=None):
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw) if len(raw) <= len(str(MAX_DB_INT)) else 0
    except ValueError:
        value = 0
    if value < 1 or (maximum is not None and value > maximum):
        if maximum is None:
            field = N_("Must be an integer from 1.")
        else:
            field = N_("Must be an integer from 1 and at most %(max)d.") % {"max": maximum}
        raise ApiError(
            400, N_("The %(name)s parameter is not valid.") % {"name": name}, {name: field}
        )
    return value


def page_args():
    """``(page, per_page)`` from the query string; 400 naming the parameter when invalid."""
    page = _positive_int("page", 1, MAX_DB_INT)
    per_page = _positive_int("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    return page, per_page


def paged(statement, serialize):
    """One page of the rows of ``statement`` as the API's list document.

    ``serialize`` turns the page's rows (a list) into its items, so it can load what the rows
    need in one query instead of one per row.
    """
    page, per_page = page_args()
    # One extra row tells whether a next page exists without a COUNT query.
    rows = db.session.scalars(statement.limit(per_page + 1).offset((page - 1) * per_page)).all()
    next_url = None
    if len(rows) > per_page:
        args = request.args.to_dict()
        args.update(page=page + 1, per_page=per_page)
        next_url = url_for(request.endpoint, **(request.view_args or {}), **args)
    return {"items": serialize(rows[:per_page]), "next": next_url}
