"""baton user ...: create users, set their passwords, and manage their tokens."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from baton.accounts import service as accounts
from baton.accounts import web_sessions
from baton.cli.common import DataDirOption, emit, fail, note, open_runtime, print_table, say
from baton.core.database import utcnow
from baton.core.errors import BatonError

app = typer.Typer(help="Users, their passwords and their API tokens.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, '-', '_', '.').")],
    admin: Annotated[bool, typer.Option("--admin", help="Make the user a site admin (operator).")] = False,
    org: Annotated[str | None, typer.Option("--org", help="Also add the user to this organization.")] = None,
    role: Annotated[str, typer.Option("--role", help="Role in --org: read, write or admin.")] = "write",
    data_dir: DataDirOption = None,
) -> None:
    """Create a user; prints the new API token, alone on stdout (it is shown only once)."""
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            user = accounts.create_user(session, name, is_admin=admin)
            if org:
                organization = accounts.find_account(session, org)
                if organization is None:
                    organization = accounts.create_organization(session, org, creator=user)
                    note(f"created organization [bold]{org}[/bold] with {name} as admin")
                else:
                    accounts.set_membership(session, organization, user, role)
            issued = accounts.issue_token(session, user, name="cli")
        note(f"created user [bold]{name}[/bold]" + (" (admin)" if admin else ""))
        emit(issued.value)
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@app.command("set-password")
def set_password(
    name: Annotated[str, typer.Argument(help="Existing user.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from the first line of stdin (for scripts)."),
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Set or reset a user's web sign-in password (asked twice, not shown); signs the user out of every browser."""
    if password_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    else:
        password = typer.prompt(f"New password for {name}", hide_input=True, confirmation_prompt=True)
    runtime = open_runtime(data_dir)
    try:
        change = web_sessions.reset_password(runtime, name, password)
        ended = f"; {change.sessions_ended} web session(s) signed out" if change.sessions_ended else ""
        say(f"password set for [bold]{name}[/bold]{ended}")
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


token_app = typer.Typer(help="A user's API tokens: create, list, revoke.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def create_token(
    name: Annotated[str, typer.Argument(help="Existing user.")],
    token_name: Annotated[str, typer.Option("--name", help="A label for the token.")] = "cli",
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="What the token may do: read, write, admin, vote, review (repeat or comma-separate; "
            "'write' grants them all). Default: write.",
        ),
    ] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="Same as --scope read.")] = False,
    expires_in: Annotated[
        int, typer.Option("--expires-in", help=f"Days until it expires (at most {accounts.MAX_TOKEN_DAYS}).")
    ] = accounts.DEFAULT_TOKEN_DAYS,
    data_dir: DataDirOption = None,
) -> None:
    """Issue another token for a user; prints it, alone on stdout (it is shown only once)."""
    scopes = ["read"] if read_only else (scope or ["write"])
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            user = accounts.get_account(session, name)
            issued = accounts.issue_token(session, user, name=token_name, scopes=scopes, expires_in_days=expires_in)
            note(
                f"token {issued.token.id} for [bold]{name}[/bold]: scopes {issued.token.scopes}, "
                f"expires {issued.token.expires_at:%Y-%m-%d}"
            )
        emit(issued.value)
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@token_app.command("list")
def list_tokens(
    name: Annotated[str, typer.Argument(help="Existing user.")],
    data_dir: DataDirOption = None,
) -> None:
    """List a user's tokens (never the tokens themselves: their ids, labels, scopes and state)."""
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session() as session:
            user = accounts.get_account(session, name)
            now = utcnow()
            table = Table("id", "name", "prefix", "scopes", "created", "expires", "state")
            for token in accounts.list_tokens(session, user):
                state = "revoked" if token.revoked else ("expired" if token.expires_at <= now else "active")
                table.add_row(
                    str(token.id),
                    token.name,
                    token.display_prefix + "...",
                    token.scopes,
                    f"{token.created_at:%Y-%m-%d}",
                    f"{token.expires_at:%Y-%m-%d}",
                    state,
                )
        print_table(table)
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@token_app.command("revoke")
def revoke_token(
    name: Annotated[str, typer.Argument(help="Existing user.")],
    token_id: Annotated[int, typer.Argument(help="The token's id (see `baton user token list NAME`).")],
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a token at once: requests, signed upload links and web sign-ins made with it stop working."""
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            user = accounts.get_account(session, name)
            token = accounts.revoke_token(session, user, token_id)
            say(f"revoked token {token.id} ({token.name}) of [bold]{name}[/bold]")
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()
