"""Flask command: bench."""

import click


@click.group("bench")
def bench():
    """Not built yet."""
    raise click.ClickException("bench is not built yet")
