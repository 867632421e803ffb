"""Reading what HikCentral answers: values in odd shapes, and paged reads (architecture.md §8).

Live servers answer harsher than the simulator: ids as numbers, keys in another case, ``total``
as a string, missing or wrong, ``data: ""`` or no ``list`` when nothing matches, a smaller page
than asked for, and pages past the end that come back empty or repeat the last one.
"""

import logging
from itertools import chain

from portal.hikvision.errors import ProtocolError

log = logging.getLogger(__name__)

PAGE_SIZE = 500  # the documented maximum
MAX_PAGES = 10_000  # a server that never ends a paged read must not keep us reading forever


def text(value):
    """A non-empty string id/name from a string or number, else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, str):
        return value.strip() or None
    return None


def field(mapping, *names):
    """The value of the first of ``names`` the mapping has, matched case-insensitively."""
    if not isinstance(mapping, dict):
        return None
    for name in names:
        if name in mapping:
            return mapping[name]
    lowered = {str(k).lower(): v for k, v in mapping.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def as_int(value):
    """A whole number from an int, a whole float or a numeric string, else None (bools too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def pages(client, path, body=None, *, page_size=PAGE_SIZE):
    """Each page of a paged read as a list of its object items, from pageNo 1 to the end.

    The read ends on an empty page, when the items seen reach a believable ``total``, without
    one on a page shorter than the server's page size, or on a page that repeats the one before
    (answered past the end; not yielded twice). A repeat before ``total`` is a ProtocolError.
    """
    seen, previous = 0, None
    for page_no in range(1, MAX_PAGES + 1):
        data = client.call(path, {**(body or {}), "pageNo": page_no, "pageSize": page_size})
        listed = _listed(data, path)
        if listed and listed == previous:
            _check_repeat(data, seen, path, page_no)
            return
        yield [item for item in listed if isinstance(item, dict)]
        seen += len(listed)
        if not listed or _last_page(data, len(listed), seen, page_size):
            return
        previous = listed
    raise ProtocolError(f"more than {MAX_PAGES} pages: the read does not end", path=path)


def items(client, path, body=None, *, page_size=PAGE_SIZE):
    """Every object item of a paged read (see ``pages``)."""
    return chain.from_iterable(pages(client, path, body, page_size=page_size))


def _listed(data, path):
    """A page's list: ``data: ""`` (None) and a missing list are empty; anything else is read
    as an error, since an unreadable answer taken for "nothing there" would lose every row."""
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ProtocolError("a paged answer's data is not an object", path=path)
    listed = field(data, "list")
    if listed is None:
        return []
    if not isinstance(listed, list):
        raise ProtocolError("a paged answer's list is not a list", path=path)
    return listed


def _total(data, seen):
    """The answer's ``total``, or None when it is missing or below the items already received
    (a wrong total: the page sizes decide then)."""
    total = as_int(field(data, "total"))
    return total if total is not None and total >= seen else None


def _check_repeat(data, seen, path, page_no):
    """A repeated page ends the read, unless the total says items are still missing."""
    total = _total(data, seen)
    if total is not None and seen < total:
        raise ProtocolError(
            f"page {page_no} repeats the one before with items missing: pageNo ignored", path=path
        )
    log.warning("paged read of %s: page %d repeats the one before; done", path, page_no)


def _last_page(data, count, seen, page_size):
    total = _total(data, seen)
    if total is not None:
        # A short page below the total is a server capping pageSize: read on.
        return seen >= total
    answered_size = as_int(field(data, "pageSize"))
    if answered_size is not None and 0 < answered_size < page_size:
        page_size = answered_size
    return count < page_size
