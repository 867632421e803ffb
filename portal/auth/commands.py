"""Flask command group ``users``: create users, list them, issue API tokens."""

import click
from flask.cli import with_appcontext

from portal.i18n import LANGUAGES
from portal.services import accounts


@click.group("users")
def users():
    """Manage user accounts."""


@users.command("create")
@click.option("--email", required=True, help="Log-in email (unique, case-insensitive).")
@click.option("--name", required=True, help="Full name shown on pages.")
@click.option(
    "--role",
    default="host",
    show_default=True,
    help=f"One of: {accounts.ROLE_NAMES}.",
)
@click.option("--password", help="Prompted for (hidden) when not given.")
@click.option(
    "--language",
    help=f"Their pages' and e-mails' language, one of: {', '.join(LANGUAGES)} "
    "(default: their browser's; e-mails then use DEFAULT_LANGUAGE).",
)
@with_appcontext
def create(email, name, role, password, language):
    """Create a user."""
    if password is None:
        password = click.prompt(
            "Password", hide_input=True, confirmation_prompt=True, default="", show_default=False
        )
    try:
        user = accounts.create_user(
            email=email, name=name, role=role, password=password, language=language
        )
    except accounts.AccountError as error:
        raise click.ClickException(f"{error.field or 'user'}: {error.message}") from None
    click.echo(f"Created user {user.email} ({user.role}) with id {user.id}.")


@users.command("token")
@click.option("--email", required=True, help="Whose token to replace.")
@with_appcontext
def token(email):
    """Replace the user's API token and print it (the last word of the output)."""
    user = accounts.find_user(email)
    if user is None:
        raise click.ClickException(f"email: no user with the email {email.strip()}.")
    if not user.active:
        raise click.ClickException(f"email: the user {user.email} is disabled.")
    had_token = user.api_token_hash is not None
    plain = accounts.rotate_token(user)
    replaced = " (the previous one no longer works)" if had_token else ""
    click.echo(f"New API token for {user.email}{replaced}: {plain}")


@users.command("list")
@with_appcontext
def list_users():
    """List every user with role, state and whether an API token exists."""
    rows = accounts.all_users()
    if not rows:
        click.echo("No users yet: create one with `users create`.")
        return
    click.echo(f"{'id':>4}  {'email':<32} {'role':<10} {'active':<7} {'token':<6} name")
    for user in rows:
        click.echo(
            f"{user.id:>4}  {user.email:<32} {user.role:<10} "
            f"{'yes' if user.active else 'no':<7} {'yes' if user.api_token_hash else 'no':<6} "
            f"{user.name}"
        )


@users.command("set-role")
@click.option("--email", required=True)
@click.option("--role", required=True, help=f"One of: {accounts.ROLE_NAMES}.")
@with_appcontext
def set_role(email, role):
    """Change a user's role."""
    user = accounts.find_user(email)
    if user is None:
        raise click.ClickException(f"email: no user with the email {email.strip()}.")
    try:
        accounts.set_role(user, role)
    except accounts.AccountError as error:
        raise click.ClickException(f"{error.field or 'user'}: {error.message}") from None
    click.echo(f"{user.email} is now {user.role}.")
