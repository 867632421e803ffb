from portal.extensions import db
from portal.models import Role, User
from tests.fixtures.factories import make_user


def test_seed_demo_creates_the_admin_once_and_prints_how_to_log_in(app):
    app.config["GATEHOUSE_ADMIN_PASSWORD"] = "a long demo password 42"
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "admin@gatehouse.local / a long demo password 42" in first.output
    admin = db.session.scalars(db.select(User)).one()
    assert admin.role == Role.ADMIN and admin.check_password("a long demo password 42")

    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0
    assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_seed_demo_leaves_an_existing_site_alone(app):
    make_user(Role.HOST, email="someone@example.test")
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0
    assert "or another existing account" in result.output
    assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_seed_demo_refuses_a_weak_configured_password(app):
    app.config["GATEHOUSE_ADMIN_PASSWORD"] = "short"
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0
    assert "demo admin:" in result.output
    assert db.session.scalars(db.select(User)).all() == []
