"""Every page for every role in Russian: no English sentence may be left untranslated.

One world with something of each kind (visits in several states with stored reasons, history,
passages, a notice, a failed job, an event with a checked guest list and its row errors) is
rendered page by page in English and in Russian. A text of the Russian page that still has
English words and reads the same on the English page is untranslated, unless it is data (names,
e-mail addresses, file names) or a product name from the allow-list.
"""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from portal.extensions import db
from portal.i18n import language_choices
from portal.models import JobRecord, VisitState, utcnow
from portal.services import enrollment, notices, passages, visits
from tests.events.imports_support import HEADERS, make_event, sheet, stage_upload, upload
from tests.fixtures.app import client_for
from tests.fixtures.factories import make_guest, make_visit
from tests.test_role_matrix import EXPECTED

ROLES = ("host", "organizer", "security", "admin")
# Pages that are not HTML for people (files, JSON, metrics, photos).
NOT_PAGES = re.compile(r"\.(csv|xlsx|json)$|/photo$|^/metrics$|^/healthz$")
# Words that stay as they are in Russian: product and format names, HTTP and config names.
ALLOWED_WORDS = {
    "gatehouse", "hikcentral", "csv", "xlsx", "excel", "zip", "jpeg", "png", "api", "json",
    "url", "authorization", "bearer", "token", "ctrl", "http", "https", "utc", "id", "openapi",
    "europe", "moscow", "hikcentral_url", "inandouttype", "s", "professional",
}  # fmt: skip
# Data shown as it was typed (emails, URLs, file names, ids, codes).
DATA = re.compile(
    r"[\w.+-]+@[\w.-]+|https?://\S+|[\w-]+\.(?:csv|xlsx|jpg|zip)\b|/artemis/\S*|#\d+|\b\w*_\w*\b"
    r"|\bV\d[\w.]*|\bbuild\d+"
)
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


class Texts(HTMLParser):
    """The texts a person reads: text nodes and the attributes shown or spoken."""

    SHOWN_ATTRS = {"title", "placeholder", "aria-label", "alt", "data-confirm", "data-label"}

    def __init__(self):
        super().__init__()
        self.texts = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in self.SHOWN_ATTRS and value:
                self._add(value)
            if name == "value" and dict(attrs).get("type") in ("submit", "button"):
                self._add(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self._add(data)

    def _add(self, text):
        text = " ".join(text.split())
        if text:
            self.texts.append(text)


def texts_of(html):
    parser = Texts()
    parser.feed(html)
    return parser.texts


def english_words(text, data_values):
    """The words of ``text`` that would need a translation (data and allowed words removed)."""
    for value in data_values:
        text = text.replace(value, " ")
    text = DATA.sub(" ", text)
    return [w for w in LATIN_WORD.findall(text) if w.lower() not in ALLOWED_WORDS]


def untranslated(russian_html, english_html, data_values):
    """The texts of a Russian page left in English (see the module's docstring)."""
    return untranslated_texts(texts_of(russian_html), texts_of(english_html), data_values)


def untranslated_texts(russian_texts, english_texts, data_values):
    """The Russian texts that have English words and read the same in English."""
    english = set(english_texts)
    return sorted(
        {text for text in russian_texts if english_words(text, data_values) and text in english}
    )


@pytest.fixture
def world(app, sim, level, host_user, organizer_user, security_user, admin_user):
    """Something of each kind, named in Cyrillic so that data never looks like English."""
    host_user.name, organizer_user.name = "Анна Смирнова", "Олег Орлов"
    security_user.name, admin_user.name = "Пётр Охранов", "Админ Главный"
    level.name = "Посетители – вестибюль"
    db.session.commit()
    now = utcnow()
    on_site = make_visit(
        host_user,
        level,
        guest=make_guest("Иван Петров", company="ООО Ромашка"),
        starts_in=timedelta(hours=-1),
        state=VisitState.ENROLLED.value,
        delivery="applied",
    )
    passages.check_in(on_site, by=security_user, reason="считыватель не узнал", now=now)
    notices.guest_arrived(on_site, now)
    failed = make_visit(
        host_user, level, guest=make_guest("Мария Иванова"), state=VisitState.FAILED.value
    )
    failed.state_reason = enrollment.NO_FACE
    cancelled = make_visit(host_user, level, guest=make_guest("Сергей Кузнецов"))
    visits.cancel_visit(cancelled, by=host_user)
    job = JobRecord(
        rq_job_id="walk-job",
        kind="enroll_visit",
        subject_type="visit",
        subject_id=failed.id,
        created_by=host_user,
        state="failed",
        error=enrollment.NO_FACE,
    )
    db.session.add(job)
    event = make_event(organizer_user, level, name="Форум")
    rows = [
        ["Елена Соколова", "elena@example.com", "+7 900 1234567", "ООО Ромашка", ""],
        ["", "bad-address", "12", "", "photo.jpg"],
    ]
    guest_import = stage_upload(event, organizer_user, upload(sheet(rows), "гости.csv"), None)
    db.session.commit()
    ids = {
        "visit": on_site.id,
        "event": event.id,
        "guest_import": guest_import.id,
        "job": job.id,
    }
    extra = {
        "host": [f"/visits/{failed.id}", f"/visits/{cancelled.id}", f"/jobs/{job.id}"],
        "organizer": [],
        "security": ["/security/passages?fragment=rows"],
        "admin": [f"/visits/{failed.id}", "/no-such-page"],
    }
    # Shown as they are: the sheet's own column headers, the languages' own names.
    data = [level.name, *HEADERS, *(name for _, name in language_choices())]
    return ids, extra, data


def pages_for(role, ids, extra):
    column = ROLES.index(role) + 1
    pages = [
        pattern.format(**ids)
        for pattern, statuses in EXPECTED.items()
        if statuses[column] == 200 and not NOT_PAGES.search(pattern)
    ]
    return pages + extra[role]


def test_every_page_for_every_role_is_russian(app, world, host_user, organizer_user,
                                               security_user, admin_user):  # fmt: skip
    ids, extra, data = world
    users = {
        "host": host_user,
        "organizer": organizer_user,
        "security": security_user,
        "admin": admin_user,
    }
    found, walked = {}, 0
    for role, user in users.items():
        client = client_for(app, user)
        for url in pages_for(role, ids, extra):
            english = client.get(url, headers={"Accept-Language": "en"})
            russian = client.get(url, headers={"Accept-Language": "ru"})
            assert russian.status_code == english.status_code, url
            # The page's language, for the browser (its date pickers, hyphenation, speech);
            # a fragment (a list's rows refreshed in place) has no <html> of its own.
            page = russian.get_data(as_text=True)
            assert "<html" not in page or '<html lang="ru">' in page, url
            walked += 1
            missing = untranslated(
                russian.get_data(as_text=True), english.get_data(as_text=True), data
            )
            if missing:
                found[f"{role} {url}"] = missing
    anonymous = app.test_client()
    for url in ("/login", "/no-such-page"):
        english = anonymous.get(url, headers={"Accept-Language": "en"})
        russian = anonymous.get(url, headers={"Accept-Language": "ru"})
        walked += 1
        missing = untranslated(russian.get_data(as_text=True), english.get_data(as_text=True), data)
        if missing:
            found[f"anonymous {url}"] = missing
    count = sum(len(texts) for texts in found.values())
    print(f"walked {walked} pages in Russian; untranslated texts: {count}")
    assert walked >= 40
    assert found == {}, f"{count} English texts left on Russian pages: {found}"


def test_the_walk_catches_an_english_text(app, host_user):
    """The detector itself: an English sentence on a Russian page is reported, data is not."""
    english = "<p>Guest list</p><p>Иван Петров</p><p>ivan@example.com</p><p>Visit</p>"
    russian = "<p>Список гостей</p><p>Иван Петров</p><p>ivan@example.com</p><p>Visit</p>"
    assert untranslated(russian, english, []) == ["Visit"]


def test_a_russian_host_sees_russian_words_and_dates(app, world, host_user):
    host_user.language = "ru"
    db.session.commit()
    page = client_for(app, host_user).get("/visits").get_data(as_text=True)
    assert "<h1>Мои визиты</h1>" in page and "Иван Петров" in page
    assert "На объекте" in page and "г.," in page  # a badge and a Babel date ("28 нояб. 2026 г.")
    visit = client_for(app, host_user).get(f"/visits/{world[0]['visit']}").get_data(as_text=True)
    assert "Впущен вручную (Пётр Охранов): считыватель не узнал" in visit


def test_a_russian_organizer_downloads_russian_template_headers(app, organizer_user):
    organizer_user.language = "ru"
    db.session.commit()
    client = client_for(app, organizer_user)
    russian = client.get("/imports/template.csv").get_data().decode("utf-8-sig")
    assert russian.splitlines()[0].startswith("ФИО;")
    english = client.get("/imports/template.csv?lang=en").get_data().decode("utf-8-sig")
    assert english.splitlines()[0].startswith("full_name,")


def test_row_errors_download_in_the_viewers_language(app, world, organizer_user):
    organizer_user.language = "ru"
    db.session.commit()
    client = client_for(app, organizer_user)
    data = client.get(f"/imports/{world[0]['guest_import']}/errors.csv").get_data()
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == "строка;столбец;сообщение"
    assert "неверный адрес эл. почты" in text


def test_russian_users_read_the_same_stored_sentence_in_russian(app, world, admin_user):
    admin_user.language = "ru"
    db.session.commit()
    job_page = client_for(app, admin_user).get(f"/jobs/{world[0]['job']}")
    assert "HikCentral не нашёл лицо на фото" in job_page.get_data(as_text=True)
