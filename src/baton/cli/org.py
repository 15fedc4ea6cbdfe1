"""baton org ...: organizations and their members."""

from __future__ import annotations

from typing import Annotated

import typer

from baton.accounts import service as accounts
from baton.cli.common import DataDirOption, fail, open_runtime, say
from baton.core.errors import BatonError

app = typer.Typer(help="Organizations and memberships.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Organization name.")],
    admin: Annotated[str, typer.Option("--admin", help="Existing user who becomes its first admin.")],
    data_dir: DataDirOption = None,
) -> None:
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            accounts.create_organization(session, name, creator=accounts.get_account(session, admin))
        say(f"created organization [bold]{name}[/bold] (admin: {admin})")
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@app.command("add")
def add(
    org: Annotated[str, typer.Argument(help="Organization.")],
    user: Annotated[str, typer.Argument(help="User to add or change.")],
    role: Annotated[str, typer.Option("--role", help="read, write or admin.")] = "write",
    data_dir: DataDirOption = None,
) -> None:
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            accounts.set_membership(
                session, accounts.get_account(session, org), accounts.get_account(session, user), role
            )
        say(f"{user} is now '{role}' in {org}")
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()
