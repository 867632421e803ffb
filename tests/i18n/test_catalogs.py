"""The catalogs are up to date with the code, complete, and compiled (CI fails otherwise).

Run ``make translations`` after changing a sentence, translate what it reports, and commit the
.po and .mo together.
"""

import re
import shlex

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from portal.config import ROOT
from portal.i18n import LANGUAGES, SOURCE_LANGUAGE, TRANSLATIONS_DIR

TRANSLATED = [code for code in LANGUAGES if code != SOURCE_LANGUAGE]


def makefile_keywords():
    """The extraction keywords of `make translations` (one definition, in the Makefile)."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(r"^BABEL_KEYWORDS := (.+)$", text, re.M)
    assert match, "BABEL_KEYWORDS is missing from the Makefile"
    return shlex.split(match.group(1))


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The message ids of the code today, extracted as `make translations` does."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), *makefile_keywords()]
        + ["--no-location", "-o", str(pot)]
        + [str(ROOT / name) for name in ("portal", "jobs", "templates")]
    )
    with pot.open("rb") as fh:
        return {message.id for message in read_po(fh) if message.id}


def catalog(code):
    with (TRANSLATIONS_DIR / code / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=code)


def test_russian_is_offered_next_to_english():
    assert LANGUAGES[0] == SOURCE_LANGUAGE and "ru" in LANGUAGES


@pytest.mark.parametrize("code", TRANSLATED)
def test_catalog_has_exactly_the_sentences_of_the_code(code, extracted):
    ids = {message.id for message in catalog(code) if message.id}
    missing = sorted(map(str, extracted - ids))
    obsolete = sorted(map(str, ids - extracted))
    assert not missing and not obsolete, (
        f"{code} catalog is out of date; run `make translations`. "
        f"Not in the catalog: {missing[:10]}; no longer in the code: {obsolete[:10]}"
    )


@pytest.mark.parametrize("code", TRANSLATED)
def test_catalog_is_translated_completely(code):
    po = catalog(code)
    untranslated = [
        message.id
        for message in po
        if message.id
        and (
            message.fuzzy
            or not (all(message.string) if message.pluralizable else message.string)
            or (message.pluralizable and len(message.string) != po.num_plurals)
        )
    ]
    assert untranslated == [], f"{code}: {len(untranslated)} untranslated: {untranslated[:10]}"


@pytest.mark.parametrize("code", TRANSLATED)
def test_compiled_catalog_matches_its_source(code):
    def texts(messages):
        return {
            tuple(message.id) if message.pluralizable else message.id: (
                tuple(message.string) if message.pluralizable else message.string
            )
            for message in messages
            if message.id
        }

    po = texts(catalog(code))
    with (TRANSLATIONS_DIR / code / "LC_MESSAGES" / "messages.mo").open("rb") as fh:
        mo = texts(read_mo(fh))
    stale = sorted(str(key) for key in po.keys() | mo.keys() if po.get(key) != mo.get(key))
    assert stale == [], f"{code}: messages.mo is stale, run `make translations`: {stale[:10]}"


@pytest.mark.parametrize("code", TRANSLATED)
def test_translations_keep_their_placeholders(code):
    placeholder = re.compile(r"%\(\w+\)[sd]")
    wrong = []
    for message in catalog(code):
        if not message.id:
            continue
        ids = message.id if message.pluralizable else (message.id,)
        strings = message.string if message.pluralizable else (message.string,)
        wanted = set(placeholder.findall(ids[-1]))
        for text in strings:
            if set(placeholder.findall(text)) - wanted or (
                not message.pluralizable and set(placeholder.findall(text)) != wanted
            ):
                wrong.append(ids[0])
    assert wrong == [], f"{code}: placeholders differ from the English: {wrong[:10]}"


# Words that may follow a count in a sentence without plural forms: units and prepositions
# that do not change with the number ("32 МБ", "5 мин", "от 7 до 15").
UNINFLECTED = {"МБ", "мин", "пикс", "до", "из", "больше"}
COUNT_AND_WORD = re.compile(r"%\(\w+\)d\s+([^\W\d_]+)")


@pytest.mark.parametrize("code", TRANSLATED)
def test_a_count_followed_by_a_noun_has_plural_forms(code):
    """A count sentence is an ngettext entry, or its noun is out of the count's way."""
    single = [
        message.id
        for message in catalog(code)
        if message.id and not message.pluralizable
        for word in COUNT_AND_WORD.findall(message.string)
        if word not in UNINFLECTED
    ]
    assert single == [], f"{code}: counts without plural forms: {single[:10]}"
