"""The guest's language: chosen by the host on the form or through the API, refused when not
offered, and the one the guest's invitation speaks."""

import pytest
from markupsafe import escape
from sqlalchemy import select

from portal.config import from_environment
from portal.extensions import db
from portal.models import Visit
from tests.api.conftest import bearer
from tests.api.test_visits import payload
from tests.i18n.test_mail_walk import invite, link_of
from tests.invitations.test_host_pages import register


@pytest.fixture
def app_config(app_config, mail_config):
    return {**app_config, **mail_config}


def test_the_form_offers_the_sites_language_then_each_language(host_client):
    page = host_client.get("/visits/new").get_data(as_text=True)
    assert (
        '<select id="language" name="language"><option value="">The site&#39;s language (English)'
        '</option><option value="en">English</option><option value="ru">Русский</option></select>'
    ) in page
    russian = host_client.get("/visits/new", headers={"Accept-Language": "ru"})
    assert "Язык гостя" in russian.get_data(as_text=True)


def test_a_host_chooses_a_russian_guests_language_and_the_invitation_is_russian(
    host_client, level, work, smtp_server
):
    assert register(host_client, level, language="ru").status_code == 302
    visit = db.session.scalar(select(Visit))
    assert visit.guest.language == "ru"
    work()
    [invitation] = smtp_server.handler.messages
    assert invitation["Subject"].startswith("Ваш визит ")
    page = host_client.get(f"/visits/{visit.id}").get_data(as_text=True)
    assert "Language of the guest's e-mails and page: Русский." in page


def test_left_to_the_site_the_guests_language_is_none(host_client, level):
    assert register(host_client, level, language="").status_code == 302
    assert db.session.scalar(select(Visit)).guest.language is None


def test_the_api_takes_and_gives_the_guests_language(app, level, host_user):
    api, headers = app.test_client(), bearer(host_user)
    body = payload(level, photo=None, invite=True)
    body["guest"]["language"] = "ru-RU"
    created = api.post("/api/v1/visits", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["guest"]["language"] == "ru"

    body["guest"]["language"] = "xx"
    refused = api.post("/api/v1/visits", json=body, headers=headers)
    assert refused.status_code == 400
    assert refused.get_json()["fields"] == {"guest.language": "Choose a language from the list."}


def test_a_site_notice_per_language_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("PRIVACY_NOTICE_RU", "  Фото используется только для прохода.  ")
    monkeypatch.setenv("PRIVACY_NOTICE_VERSION", "7")
    notices = from_environment()["PRIVACY_NOTICES"]
    assert notices == {"ru": "Фото используется только для прохода."}


def test_the_guest_reads_the_sites_notice_in_their_language(app, host_user, level):
    app.config["PRIVACY_NOTICES"] = {"ru": "Фото используется только для прохода."}
    link = link_of(invite(host_user, level))
    client = app.test_client()
    russian = client.get(link, headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert '<p class="privacy-notice" id="privacy-notice">Фото используется только' in russian
    english = app.test_client().get(link, headers={"Accept-Language": "en"})
    assert str(escape(app.config["PRIVACY_NOTICE"])) in english.get_data(as_text=True)
