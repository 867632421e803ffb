"""Warnings and messages for a person: a few short sentences, whatever the input's size.

A sheet with a million columns must not become a megabyte warning: it would travel in the
session cookie (flash), which browsers drop past 4 KB, and in JSON bodies.
"""

from portal.i18n import N_

MAX_WARNINGS = 10
MAX_TEXT_CHARS = 300
MAX_NAMES = 10
MAX_NAME_CHARS = 40


def cap_text(text, limit=MAX_TEXT_CHARS):
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def cap_warnings(notices):
    """At most MAX_WARNINGS short sentences; a last one says how many more were left out."""
    notices = [cap_text(notice) for notice in notices]
    if len(notices) <= MAX_WARNINGS:
        return notices
    left_out = len(notices) - (MAX_WARNINGS - 1)
    return [
        *notices[: MAX_WARNINGS - 1],
        N_("… and %(count)d more warnings.") % {"count": left_out},
    ]


def name_list(names):
    """A few quoted names, each short, then "and N more" (for "columns not recognized: …")."""
    names = list(names)
    shown = ", ".join(repr(cap_text(name, MAX_NAME_CHARS)) for name in names[:MAX_NAMES])
    if len(names) > MAX_NAMES:
        shown += N_(" and %(count)d more") % {"count": len(names) - MAX_NAMES}
    return shown
