"""baton user ...: create users and tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from baton.accounts import service as accounts
from baton.cli.common import DataDirOption, console, fail, open_runtime
from baton.core.errors import BatonError

app = typer.Typer(help="Users and their API tokens.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, '-', '_', '.').")],
    admin: Annotated[bool, typer.Option("--admin", help="Make the user a site admin (operator).")] = False,
    org: Annotated[str | None, typer.Option("--org", help="Also add the user to this organization.")] = None,
    role: Annotated[str, typer.Option("--role", help="Role in --org: read, write or admin.")] = "write",
    data_dir: DataDirOption = None,
) -> None:
    """Create a user; prints the new API token as the last line (it is shown only once)."""
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            user = accounts.create_user(session, name, is_admin=admin)
            if org:
                organization = accounts.find_account(session, org)
                if organization is None:
                    organization = accounts.create_organization(session, org, creator=user)
                    console.print(f"created organization [bold]{org}[/bold] with {name} as admin")
                else:
                    accounts.set_membership(session, organization, user, role)
            issued = accounts.issue_token(session, user, name="cli")
        console.print(f"created user [bold]{name}[/bold]" + (" (admin)" if admin else ""))
        typer.echo(issued.value)
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="Existing user.")],
    token_name: Annotated[str, typer.Option("--name", help="A label for the token.")] = "cli",
    read_only: Annotated[bool, typer.Option("--read-only", help="A token that can only read.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Issue another token for a user; prints it as the last line."""
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            user = accounts.get_account(session, name)
            issued = accounts.issue_token(
                session, user, name=token_name, role="read" if read_only else "write"
            )
        typer.echo(issued.value)
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()
