"""Language tests: the e-mail walk runs its jobs in the invitation tests' burst worker."""

from tests.invitations.conftest import work  # noqa: F401  (a fixture, used by name)
