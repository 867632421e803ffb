"""Flask command: users."""

import click


@click.group("users")
def users():
    """Not built yet."""
    raise click.ClickException("users is not built yet")
