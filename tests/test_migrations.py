"""Alembic brings an empty database to head and back, and head matches the models."""

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from portal import create_app
from portal.extensions import db


@pytest.fixture
def empty_app(tmp_path, redis_url):
    app = create_app(
        {
            "GATEHOUSE_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": os.environ.get(
                "TEST_DATABASE_URL", f"sqlite:///{tmp_path / 'migrations.db'}"
            ),
            "REDIS_URL": redis_url,
        }
    )
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        yield app
        db.session.remove()
        db.engine.dispose()


def test_upgrade_to_head_matches_models_and_downgrade_empties(empty_app):
    upgrade()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    assert "visits" in inspect(db.engine).get_table_names()

    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
