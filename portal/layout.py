"""Template helpers for the page layout: links that may not exist yet, page links."""

from flask import request, url_for
from werkzeug.routing import BuildError

# Visit state -> the words shown in its badge.
STATE_LABELS = {
    "pending": "Pending",
    "enrolling": "Enrolling",
    "enrolled": "Enrolled",
    "on_site": "On site",
    "left": "Left",
    "cancelled": "Cancelled",
    "expired": "Expired",
    "failed": "Failed",
    # Job states share the badge styles.
    "queued": "Queued",
    "started": "Running",
    "finished": "Finished",
}


def nav_url(*endpoints, **values):
    """The URL of the first endpoint that exists, else None (the link is then hidden)."""
    for endpoint in endpoints:
        try:
            return url_for(endpoint, **values)
        except BuildError:
            continue
    return None


def nav_active(url):
    """Whether ``url`` is the current page or a page under it."""
    if not url:
        return False
    path = request.path
    return path == url or (url != "/" and path.startswith(url.rstrip("/") + "/"))


def page_url(number, param="page"):
    """The current page's URL with ``param`` set to ``number`` (other query args kept)."""
    args = request.args.to_dict()
    args[param] = number
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def state_label(state):
    """A human label for a visit or job state."""
    state = str(state or "")
    return STATE_LABELS.get(state, state.replace("_", " ").capitalize())


def register(app):
    app.add_template_global(nav_url)
    app.add_template_global(nav_active)
    app.add_template_global(page_url)
    app.add_template_filter(state_label, "state_label")
