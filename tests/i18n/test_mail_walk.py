"""Every e-mail and every state of the guest's page in English and in Russian: no English left.

The e-mails go the whole way: a job of a real (burst) worker renders each one, outside any
request, and a local SMTP server receives it; each is read in the recipient's language. The
guest's page is walked in each of its states (the form, its errors, done, every refused link).
The detector is the page walk's (``tests/i18n/test_walk.py``): a Russian text that still has
English words and reads the same in English is untranslated, data and product names aside.
"""

import io
from datetime import timedelta

import pytest
from PIL import Image

from portal.extensions import db
from portal.formatting import local_time
from portal.models import VisitState, utcnow
from portal.services import enrollment, host_notices, invitation_mail, invitations
from portal.services import visits as visit_service
from portal.services.mail import one_line
from tests.fixtures.app import CSRF_FIELD
from tests.i18n.test_walk import texts_of, untranslated, untranslated_texts
from tests.invitations.conftest import guest_photo
from tests.services.test_face_check import jpeg

LANGUAGES = ("en", "ru")
GUEST, COMPANY, HOST = "Ирина Гостева", "ООО Ромашка", "Анна Смирнова"
LEVEL = "Посетители – вестибюль"


@pytest.fixture
def app_config(app_config, mail_config):
    return {**app_config, **mail_config}


@pytest.fixture
def site(app, host_user, access_level):
    """Names in Cyrillic, so that data never looks like English."""
    host_user.name, access_level.name = HOST, LEVEL
    db.session.commit()
    return host_user, access_level


def invite(host, level, *, language=None, email="irina@example.com", starts_in=48, hours=6):
    """A visit whose guest is invited to send their photo (the e-mail is queued)."""
    start = utcnow() + timedelta(hours=starts_in)
    return visit_service.register_visit(
        host,
        full_name=GUEST,
        email=email,
        company=COMPANY,
        starts_at=start,
        ends_at=start + timedelta(hours=hours),
        access_level=level,
        language=language,
    )


def link_of(visit):
    return "/g/" + invitations.token_for(invitations.current_invitation(visit))


# --- e-mails ----------------------------------------------------------------------------------


def mail_texts(message):
    """What a recipient reads: the subject, the plain-text lines and the HTML's texts."""
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    lines = [" ".join(line.split()) for line in plain.splitlines() if line.strip()]
    return [str(message["Subject"]), *lines, *texts_of(html)]


def every_mail(host, level, language, work, sink):
    """Each e-mail the portal sends, to a host and a guest who both read ``language``."""
    host.language = language
    db.session.commit()
    sink.clear()
    visit = invite(host, level, language=language, starts_in=2)
    work()
    assert invitation_mail.send_reminders()["reminded"] == 1
    visit.checked_in_at = utcnow()
    visit.state_reason = enrollment.NO_FACE  # a stored English sentence, shown translated
    db.session.commit()
    for kind in (host_notices.GUEST_COMPLETED, host_notices.ENROLLMENT_FAILED):
        host_notices.notify(visit, kind)
    host_notices.guest_arrived(visit.id)
    work()
    # The invitation, the reminder, then the three host notices in the order queued.
    assert len(sink.messages) == 5
    return list(sink.messages)


def test_every_email_in_russian_has_no_english_left(site, work, smtp_server, app):
    host, level = site
    english = every_mail(host, level, "en", work, smtp_server.handler)
    russian = every_mail(host, level, "ru", work, smtp_server.handler)
    data = [GUEST, COMPANY, HOST, LEVEL]
    found = {}
    for english_mail, russian_mail in zip(english, russian, strict=True):
        missing = untranslated_texts(mail_texts(russian_mail), mail_texts(english_mail), data)
        if missing:
            found[english_mail["Subject"]] = missing
    count = sum(len(texts) for texts in found.values())
    print(f"walked {len(russian)} e-mails in Russian; untranslated texts: {count}")
    assert found == {}, f"{count} English texts left in Russian e-mails: {found}"
    subjects = [str(message["Subject"]) for message in russian]
    assert subjects[2:] == [
        f"Гость {GUEST} прислал фото",
        f"Не удалось настроить доступ для гостя {GUEST}",
        f"Гость {GUEST} пришёл",
    ]
    failed_text = russian[3].get_body(("plain",)).get_content()
    assert "HikCentral не нашёл лицо на фото" in failed_text


def test_each_recipient_reads_their_own_language(site, work, smtp_server, app):
    """A Russian guest of an English host: the invitation in Russian, the host's notice in
    English; dates through Babel in the site's zone."""
    host, level = site
    host.language = "en"
    db.session.commit()
    visit = invite(host, level, language="ru")
    work()
    [invitation] = smtp_server.handler.messages
    date = local_time(visit.starts_at, "date", language="ru")
    # A header is one line of plain spaces (Babel writes a narrow no-break space before "г.").
    assert invitation["Subject"] == f"Ваш визит {one_line(date)}: добавьте фото"
    assert date.endswith("г.")  # Babel's Russian medium date ("30 нояб. 2026 г.")
    body = invitation.get_body(("plain",)).get_content()
    assert f"Здравствуйте, {GUEST}!" in body and "Принимающий: Анна Смирнова" in body
    assert 'lang="ru"' in invitation.get_body(("html",)).get_content()

    visit.state_reason = enrollment.NO_FACE
    db.session.commit()
    host_notices.notify(visit, host_notices.ENROLLMENT_FAILED)
    work()
    notice = smtp_server.handler.messages[-1]
    assert notice["Subject"] == f"Access for {GUEST} could not be set up"
    assert enrollment.NO_FACE in notice.get_body(("plain",)).get_content()


def test_without_a_chosen_language_the_guest_is_written_in_the_sites(site, work, smtp_server, app):
    host, level = site
    host.language = "en"  # the host's own language is not the guest's
    app.config["DEFAULT_LANGUAGE"] = "ru"
    db.session.commit()
    invite(host, level)
    work()
    [invitation] = smtp_server.handler.messages
    assert invitation["Subject"].startswith("Ваш визит ")


# --- the guest's page -------------------------------------------------------------------------


def post(client, url, headers, photo=b"", **fields):
    page = client.get(url, headers=headers).get_data(as_text=True)
    data = {
        "csrf_token": CSRF_FIELD.search(page).group(1),
        "full_name": GUEST,
        "company": COMPANY,
        "consent": "y",
        "photo": (io.BytesIO(photo), "me.jpg") if photo else (io.BytesIO(b""), ""),
        **fields,
    }
    return client.post(url, data=data, headers=headers, content_type="multipart/form-data")


def guest_page_states(app, host, level, language):
    """Every state of the guest's page, rendered for a browser that asks for ``language``."""
    client = app.test_client()
    headers = {"Accept-Language": language}
    link = link_of(invite(host, level))
    answers = {
        "page": client.get(link, headers=headers),
        "missing everything": post(client, link, headers, full_name="", consent=""),
        "no face": post(client, link, headers, photo=jpeg(Image.new("RGB", (640, 480), "white"))),
        "not an image": post(client, link, headers, photo=b"%PDF-1.4 not a photo" * 20),
        "no CSRF token": client.post(link, data={"consent": "y"}, headers=headers),
    }
    limit, app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_CONTENT_LENGTH"], 1024 * 1024
    answers["too large"] = post(client, link, headers, photo=b"\xff\xd8" + b"0" * 2 * 1024 * 1024)
    app.config["MAX_CONTENT_LENGTH"] = limit
    answers["done"] = post(client, link, headers, photo=guest_photo())
    answers["used"] = client.get(link, headers=headers)
    answers["invalid"] = client.get("/g/not-a-link", headers=headers)

    replaced = invite(host, level)
    old_link = link_of(replaced)
    invitations.invite(replaced, by=host)
    answers["replaced"] = client.get(old_link, headers=headers)
    cancelled = invite(host, level)
    visit_service.cancel_visit(cancelled, by=host)
    answers["cancelled"] = client.get(link_of(cancelled), headers=headers)
    expired = invite(host, level)
    expired.starts_at = utcnow() - timedelta(hours=3)
    expired.ends_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    answers["expired"] = client.get(link_of(expired), headers=headers)
    return answers


EXPECTED_STATUS = {
    "page": 200,
    "missing everything": 422,
    "no face": 422,
    "not an image": 422,
    "no CSRF token": 400,
    "too large": 413,
    "done": 200,
    "used": 410,
    "invalid": 410,
    "replaced": 410,
    "cancelled": 410,
    "expired": 410,
}


def test_every_state_of_the_guests_page_in_russian_has_no_english_left(site, app):
    host, level = site
    english = guest_page_states(app, host, level, "en")
    russian = guest_page_states(app, host, level, "ru")
    data = [GUEST, COMPANY, HOST, LEVEL, "English", "Русский"]
    found = {}
    for state, status in EXPECTED_STATUS.items():
        assert english[state].status_code == status, state
        assert russian[state].status_code == status, state
        russian_html = russian[state].get_data(as_text=True)
        assert '<html lang="ru">' in russian_html, state
        missing = untranslated(russian_html, english[state].get_data(as_text=True), data)
        if missing:
            found[state] = missing
    count = sum(len(texts) for texts in found.values())
    print(f"walked {len(EXPECTED_STATUS)} guest page states in Russian; untranslated: {count}")
    assert found == {}, f"{count} English texts left on the Russian guest page: {found}"
    assert "Ваше фото используется только" in russian["page"].get_data(as_text=True)
    assert "Мы не нашли лицо" in russian["no face"].get_data(as_text=True)
    assert "не более 1 МБ" in russian["too large"].get_data(as_text=True)


def test_the_guests_page_speaks_the_guests_language_and_switches(site, app):
    host, level = site
    visit = invite(host, level, language="ru")
    client = app.test_client()
    english_browser = {"Accept-Language": "en"}
    page = client.get(link_of(visit), headers=english_browser).get_data(as_text=True)
    assert "<h1>Ваш визит</h1>" in page and 'hreflang="en"' in page
    switched = client.get(link_of(visit), query_string={"lang": "en"}, headers=english_browser)
    assert "<h1>Your visit</h1>" in switched.get_data(as_text=True)
    # The switch is kept for the next page, whatever the guest's language.
    again = client.get(link_of(visit), headers={"Accept-Language": "ru"})
    assert "<h1>Your visit</h1>" in again.get_data(as_text=True)


def test_without_a_chosen_language_the_guests_page_follows_the_browser(site, app):
    host, level = site
    link = link_of(invite(host, level))
    russian = app.test_client().get(link, headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    assert "<h1>Ваш визит</h1>" in russian.get_data(as_text=True)
    english = app.test_client().get(link, headers={"Accept-Language": "en-GB"})
    assert "<h1>Your visit</h1>" in english.get_data(as_text=True)


def test_the_refused_page_has_the_switch_too(app):
    page = app.test_client().get("/g/not-a-link", query_string={"lang": "ru"})
    text = page.get_data(as_text=True)
    assert page.status_code == 410 and "Ссылка недействительна" in text
    assert 'href="/g/not-a-link?lang=en"' in text


def test_a_guest_completed_in_russian_reads_russian_dates(site, app):
    host, level = site
    visit = invite(host, level, language="ru")
    answer = post(app.test_client(), link_of(visit), {}, photo=guest_photo())
    db.session.refresh(visit)
    assert visit.state == VisitState.PENDING
    start = local_time(visit.starts_at, language="ru")
    assert f"с {start} до " in answer.get_data(as_text=True)
