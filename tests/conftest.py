"""Test fixtures: the app from the factory, a real Redis, clients per role, the simulator."""

pytest_plugins = [
    "tests.fixtures.redis",
    "tests.fixtures.app",
    "tests.fixtures.simulator",
    "tests.fixtures.factories",
    "tests.fixtures.sheets",
    "tests.fixtures.smtp",
]
