"""Benchmark: import (not built yet)."""

import click


@click.command("import")
def import_():
    """Not built yet."""
    raise click.ClickException("bench import is not built yet")
