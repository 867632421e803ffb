"""Numbers from the outside that fit the database: ids, page numbers and nesting depth.

PostgreSQL's integer columns end at 2^31 - 1 and SQLite's at 2^63 - 1; a larger number in a URL,
a form or a JSON body must answer 404 or 400, never reach the database and fail there.
"""

from flask import abort, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

MAX_DB_INT = 2**31 - 1


def db_int(value):
    """``value`` as an int that fits an integer column, or None (text, bool, too large, < 0)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isascii() or not value.isdigit() or len(value) > len(str(MAX_DB_INT)):
            return None
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= MAX_DB_INT:
        return None
    return value


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` in URLs: an id beyond the database's integers matches no route (404)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_DB_INT)
        super().__init__(map, *args, **kwargs)


class JsonTooDeep(ValueError):
    """A JSON body nested deeper than the decoder's recursion allows: invalid input, not a crash."""


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, turning a too-deep document into invalid JSON (400) instead of a 500."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise JsonTooDeep("JSON nested too deeply") from None


def refuse_huge_page_number():
    """Before a page: a ``page`` number beyond any real page is a page that does not exist."""
    raw = request.args.get("page", "").strip()
    if raw.isdigit() and db_int(raw) is None and not request.path.startswith("/api/"):
        abort(404)  # the API answers 400 naming the parameter (portal.api.paging)


def register(app):
    """Bounded ids in every URL rule, page numbers and JSON nesting in every request."""
    app.url_map.converters["int"] = DatabaseIdConverter
    app.before_request(refuse_huge_page_number)
    app.json_provider_class = BoundedJSONProvider
    app.json = BoundedJSONProvider(app)
