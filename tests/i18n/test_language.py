"""Which language a page speaks, Russian plurals, and dates in the viewer's language."""

from datetime import UTC, datetime, timedelta

import pytest
from flask_babel import force_locale, ngettext

from portal.extensions import db
from portal.formatting import local_time, time_range
from portal.i18n import N_, shown
from portal.services.visits import validate_window
from tests.fixtures.app import client_for, csrf_token

RU = {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}


def login_page(client, **kwargs):
    return client.get("/login", **kwargs).get_data(as_text=True)


def test_login_page_follows_the_browser_then_the_default(anon_client):
    assert "Вход в Gatehouse" in login_page(anon_client, headers=RU)
    english = login_page(anon_client, headers={"Accept-Language": "de, en;q=0.5"})
    assert "Log in to Gatehouse" in english and 'lang="en"' in english


@pytest.fixture
def russian_site(app_config):
    return {**app_config, "DEFAULT_LANGUAGE": "ru"}


def test_default_language_applies_when_the_browser_asks_for_nothing_offered(app):
    app.config["DEFAULT_LANGUAGE"] = "ru"
    client = app.test_client()
    assert "Вход в Gatehouse" in login_page(client, headers={"Accept-Language": "de"})
    assert "Вход в Gatehouse" in login_page(client)


def test_the_switch_on_the_login_page_sticks_for_the_session(anon_client):
    page = login_page(anon_client)
    assert 'href="/login?lang=ru"' in page and "Русский" in page
    assert "Вход в Gatehouse" in login_page(anon_client, query_string={"lang": "ru"})
    # The next page keeps the choice, whatever the browser says.
    assert "Вход в Gatehouse" in login_page(anon_client, headers={"Accept-Language": "en"})
    assert "Log in to Gatehouse" in login_page(anon_client, query_string={"lang": "en"})


def test_profile_setting_wins_over_the_browser(app, host_user):
    client = client_for(app, host_user)
    token = csrf_token(client, "/profile")
    answer = client.post("/profile/language", data={"csrf_token": token, "language": "ru"})
    assert answer.status_code == 302
    db.session.refresh(host_user)
    assert host_user.language == "ru"
    page = client.get("/profile", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Язык сохранён." in page and "<h1>Профиль</h1>" in page

    token = csrf_token(client, "/profile")
    client.post("/profile/language", data={"csrf_token": token, "language": ""})
    db.session.refresh(host_user)
    assert host_user.language is None
    assert "<h1>Profile</h1>" in client.get("/profile").get_data(as_text=True)


def test_an_unknown_language_is_refused(app, host_user):
    client = client_for(app, host_user)
    token = csrf_token(client, "/profile")
    answer = client.post("/profile/language", data={"csrf_token": token, "language": "xx"})
    assert answer.status_code == 400
    db.session.refresh(host_user)
    assert host_user.language is None


def test_api_speaks_english_unless_asked(app, host_user):
    host_user.language = "ru"
    db.session.commit()
    token = host_user.rotate_api_token()
    db.session.commit()
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    english = client.get("/api/v1/visits/999999", headers=auth).get_json()
    assert english == {"error": "No such visit.", "fields": {}}
    russian = client.get("/api/v1/visits/999999", headers={**auth, **RU}).get_json()
    assert russian == {"error": "Такого визита нет.", "fields": {}}


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (1, "1 гость"),
        (2, "2 гостя"),
        (5, "5 гостей"),
        (11, "11 гостей"),
        (12, "12 гостей"),
        (21, "21 гость"),
        (22, "22 гостя"),
        (0, "0 гостей"),
    ],
)
def test_russian_plurals(app, count, text):
    with app.test_request_context(), force_locale("ru"):
        assert ngettext("%(num)d guest", "%(num)d guests", count) == text


@pytest.mark.parametrize(
    ("days", "english", "russian"),
    [
        (1, "at most 1 day.", "не больше 1 дня."),
        (2, "at most 2 days.", "не больше 2 дней."),
        (5, "at most 5 days.", "не больше 5 дней."),
        (21, "at most 21 days.", "не больше 21 дня."),
    ],
)
def test_a_stored_sentence_with_a_count_takes_the_languages_plural(app, days, english, russian):
    start = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
    errors = validate_window(start, start + timedelta(days=days + 1), max_days=days)
    stored = errors["ends_at"]
    assert stored == f"A visit can last {english}"  # kept in English, the right English form
    with app.test_request_context(), force_locale("ru"):
        assert shown(stored) == f"Визит может длиться {russian}"


def test_dates_in_the_site_zone_and_the_viewers_language(app):
    moment = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)  # 09:00 in Moscow, the tests' site zone
    with app.test_request_context():
        with force_locale("ru"):
            assert local_time(moment) == "28 нояб. 2026\u202fг., 09:00"
            assert local_time(moment, "date") == "28 нояб. 2026\u202fг."
        with force_locale("en"):
            assert local_time(moment) == "28 Nov 2026, 09:00"
            assert time_range(moment, moment.replace(hour=10)) == "28 Nov 2026, 09:00 – 13:00"
        assert local_time(moment, "%Y%m%d-%H%M") == "20261128-0900"


def test_stored_sentences_are_shown_in_the_viewers_language(app):
    sentence = N_("Cancelled by %(name)s.")
    text = sentence % {"name": "Иван Петров"}
    with app.test_request_context():
        with force_locale("ru"):
            assert shown(text) == "Отменён пользователем Иван Петров."
            assert shown("Registered.") == "Зарегистрирован."
            assert shown("A sentence nobody defined.") == "A sentence nobody defined."
        with force_locale("en"):
            assert shown(text) == text


def test_a_sentence_inside_a_stored_sentence_is_translated_too(app):
    from portal.services.expiry import CLEANUP_FAILED

    inner = N_("HikCentral refused the photo: %(reason)s.") % {"reason": "no face could be found"}
    text = CLEANUP_FAILED % {"error": inner}
    with app.test_request_context(), force_locale("ru"):
        assert shown(text) == (
            "Время визита закончилось; HikCentral не смог удалить гостя: "
            "HikCentral отклонил фото: лицо не найдено."
        )


def test_a_count_named_num_is_filled_once(app):
    from portal.services.accounts import MIN_PASSWORD_LENGTH, password_problem

    stored = password_problem("x")
    assert stored == f"The password must have at least {MIN_PASSWORD_LENGTH} characters."
    with app.test_request_context(), force_locale("ru"):
        assert shown(stored) == (
            f"Пароль должен содержать не меньше {MIN_PASSWORD_LENGTH} символов."
        )
