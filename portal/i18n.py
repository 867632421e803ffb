"""Languages: Flask-Babel, the choice of a request's language, stored sentences shown translated.

A request's language is, in order: the signed-in user's setting (profile), the language picked
with the switch on the log-in or guest page (kept in the session), the language a page knows its
reader speaks (``prefer_language``: the guest's, chosen by their host), the browser's
``Accept-Language``, then ``DEFAULT_LANGUAGE``. The languages offered are English (the source
language) plus every catalog under ``portal/translations/``: adding a language is adding a
catalog (architecture §10).

Services and jobs speak English: every sentence they raise, return or store (a validation
error, a visit's reason, a job's error, a notice) is a message id marked with ``N_()`` and
filled with ``%``, so the database, the logs and the API keep English whoever caused it. The
edge translates: ``shown(text)`` (the ``shown`` template filter, also applied to flashes and
field errors) turns an English sentence back into its message id and parameters and renders it
in the viewer's language when a page shows it, so a sentence a worker stored at night is read
in Russian by a Russian host and in English by an English one.
"""

import re
from pathlib import Path

from babel import Locale
from flask import current_app, g, has_request_context, request, session
from flask_babel import (
    Babel,
    force_locale,
    format_decimal,
    get_locale,
    gettext,
    ngettext,
    refresh,
)
from flask_login import current_user

from portal.layout import JOB_STATE_LABELS

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
SOURCE_LANGUAGE = "en"
SESSION_KEY = "language"
# The query argument of the language switch (log-in and guest pages).
SWITCH_ARG = "lang"
API_PREFIX = "/api/"

babel = Babel()


def available_languages():
    """The source language plus every language with a catalog, in a stable order."""
    found = {
        path.parent.parent.name
        for path in TRANSLATIONS_DIR.glob("*/LC_MESSAGES/messages.po")
        if path.parent.parent.name != SOURCE_LANGUAGE
    }
    return [SOURCE_LANGUAGE, *sorted(found)]


LANGUAGES = available_languages()


def language_name(code):
    """A language's name in that language ("English", "Русский")."""
    return Locale.parse(code).get_display_name(code).capitalize()


def language_choices():
    return [(code, language_name(code)) for code in LANGUAGES]


def normalize(code):
    """``code`` if it names an offered language ("ru", "ru-RU" -> "ru"), else None."""
    if not code:
        return None
    code = str(code).strip().replace("-", "_").split("_")[0].lower()
    return code if code in LANGUAGES else None


def select_locale():
    """The language of this request (see the module's docstring)."""
    if not has_request_context():
        return current_app.config["DEFAULT_LANGUAGE"]
    if request.path.startswith(API_PREFIX):
        # The API speaks English unless the client asks otherwise.
        return request.accept_languages.best_match(LANGUAGES) or SOURCE_LANGUAGE
    user = current_user
    if user is not None and getattr(user, "is_authenticated", False):
        chosen = normalize(getattr(user, "language", None))
        if chosen:
            return chosen
    chosen = normalize(session.get(SESSION_KEY)) or normalize(g.get("preferred_language"))
    if chosen:
        return chosen
    best = request.accept_languages.best_match(LANGUAGES)
    return best or current_app.config["DEFAULT_LANGUAGE"]


def select_timezone():
    return current_app.config["GATEHOUSE_TIMEZONE"]


def remember_switch():
    """The ``?lang=`` switch: keep the picked language in the session for the next pages.

    Only for visitors who are not signed in (the log-in and guest pages); a signed-in user
    chooses on the profile, and ``?lang=`` elsewhere (a sheet template) means only that file.
    """
    if getattr(current_user, "is_authenticated", False):
        return
    chosen = normalize(request.args.get(SWITCH_ARG))
    if chosen:
        session[SESSION_KEY] = chosen
        refresh()


def prefer_language(code):
    """This page's reader is known to speak ``code`` (None: unknown): it wins over the browser.

    The guest's page: the language their host chose for them, which their e-mail spoke too.
    """
    g.preferred_language = code
    refresh()


def current_language():
    return str(get_locale() or SOURCE_LANGUAGE)


# --- sentences stored in English, translated when shown --------------------------------------

_PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")
_stored = {}
# Each form of a sentence marked with N_plural -> (singular, plural).
_plurals = {}


def _pattern(msgid):
    parts, pos = [], 0
    for match in _PLACEHOLDER.finditer(msgid):
        parts.append(re.escape(msgid[pos : match.start()]))
        name, kind = match.groups()
        parts.append(rf"(?P<{name}>-?\d+)" if kind == "d" else rf"(?P<{name}>.+?)")
        pos = match.end()
    parts.append(re.escape(msgid[pos:]))
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def N_(msgid):  # noqa: N802  (the usual gettext name for "mark now, translate when shown")
    """Mark ``msgid`` as an English sentence translated when shown; returns it unchanged.

    Extracted by `make translations` and recognized by ``shown``. Fill parameters with ``%``:
    ``N_("Cancelled by %(name)s.") % {"name": user.name}``; ``%(x)d`` parameters are numbers.
    """
    if _PLACEHOLDER.search(msgid) and msgid not in _stored:
        _stored[msgid] = _pattern(msgid)
        # The most specific sentence (the most fixed text) is tried first.
        ordered = sorted(_stored.items(), key=lambda item: -len(_PLACEHOLDER.sub("", item[0])))
        _stored.clear()
        _stored.update(ordered)
    return msgid


def N_plural(singular, plural, num):  # noqa: N802  (N_ for a sentence with a count)
    """Mark a sentence with its singular and plural forms; returns the English form for ``num``.

    Fill it with ``%`` like an ``N_`` sentence. ``shown`` translates it with the language's
    plural rule ("1 день", "2 дня", "5 дней"); its count is its first ``%(x)d`` parameter (a
    parameter named ``num`` must be that count).
    """
    for form in (singular, plural):
        _plurals[form] = (singular, plural)
        N_(form)
    return singular if num == 1 else plural


def _translated(msgid, params):
    if msgid not in _plurals:
        return gettext(msgid, **params)
    singular, plural = _plurals[msgid]
    count = next(name for name, kind in _PLACEHOLDER.findall(singular) if kind == "d")
    # ngettext names its count ``num`` and fills a ``num`` parameter itself.
    others = {name: value for name, value in params.items() if name != "num"}
    return ngettext(singular, plural, params[count], **others)


def shown(text):
    """An English sentence of the code in the viewer's language (other text is left as is)."""
    if not text:
        return text
    text = str(text)
    translated = gettext(text)
    if translated != text:
        return translated
    for msgid, pattern in _stored.items():
        match = pattern.match(text)
        if match:
            params = {
                name: int(value)
                if value.lstrip("-").isdigit() and f"%({name})d" in msgid
                # a parameter may itself be a sentence (an error inside a reason)
                else shown(value)
                for name, value in match.groupdict().items()
            }
            return _translated(msgid, params)
    return text


def script_texts():
    """The sentences the page scripts write, in the page's language (read from <body>)."""
    return {
        "copied": gettext("Copied"),
        "selected": gettext("Selected: press Ctrl-C"),
        "states": {state.value: str(label) for state, label in JOB_STATE_LABELS.items()},
        "progress": gettext("%(done)s of %(total)s"),
        "progressFailed": gettext("%(num)s failed"),
        "liveUpdated": gettext("Live: updated %(time)s."),
        "livePaused": gettext("Live updates paused: the server did not answer; retrying."),
    }


def register(app):
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.before_request(remember_switch)
    app.add_template_filter(shown, "shown")
    app.add_template_global(current_language)
    app.add_template_global(format_decimal)
    app.add_template_global(script_texts)
    app.add_template_global(language_choices)
    app.add_template_global(SWITCH_ARG, "LANGUAGE_SWITCH_ARG")


def in_language(code):
    """A context manager rendering in ``code`` (an e-mail in its recipient's language)."""
    return force_locale(normalize(code) or current_app.config["DEFAULT_LANGUAGE"])
