"""baton talent ...: the talent pool from the server's shell (operators' tasks and data-subject requests)."""

from __future__ import annotations

import shlex
from typing import Annotated

import typer
from rich.table import Table

from baton.accounts import service as accounts
from baton.cli.common import DataDirOption, emit, fail, note, open_runtime, print_json, say
from baton.core.errors import BadRequestError, BatonError
from baton.talent import consent as notices
from baton.talent import matchmaking, retention, service
from baton.talent.taxonomy import load_taxonomy

app = typer.Typer(help="Talent pool: retention, requests, reviews, matching.", no_args_is_help=True)

OperatorOption = Annotated[str, typer.Option("--operator", help="Site admin acting as the operator.")]


@app.command("purge-expired")
def purge_expired(data_dir: DataDirOption = None) -> None:
    """Destroy every profile past its retention period (and stale invitations) now."""
    runtime = open_runtime(data_dir)
    try:
        counts = retention.purge_expired_in(runtime)
        say(
            f"destroyed {counts['profiles_destroyed']} expired profile(s), "
            f"deleted {counts['invitations_deleted']} stale invitation(s)"
        )
        print_json(counts)
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@app.command("skills")
def skills(
    query: Annotated[str, typer.Argument(help="Words to look for, in English or Korean.")],
    lang: Annotated[str | None, typer.Option("--lang", help="en or ko (default: both).")] = None,
    limit: int = 10,
) -> None:
    """Find ACM CCS skill codes for a profile or an opening."""
    try:
        found = load_taxonomy().search(query, lang=lang, limit=limit)
    except BatonError as error:
        fail(error)
        return
    table = Table("code", "English", "한국어")
    for concept in found:
        table.add_row(concept.code, concept.label("en"), concept.label("ko"))
    note(table)  # for the person; the codes on stdout are for scripts
    for concept in found:
        emit(concept.code)


@app.command("notices")
def show_notices(lang: Annotated[str, typer.Option("--lang", help="ko or en.")] = "ko") -> None:
    """Print the current consent notices (purpose, items, retention, right to refuse)."""
    try:
        print_json([notices.current_notice(purpose).render(lang) for purpose in notices.PURPOSES])
    except BatonError as error:
        fail(error)


@app.command("export")
def export(
    user: Annotated[str, typer.Argument(help="The person's user name.")], data_dir: DataDirOption = None
) -> None:
    """Answer an access request: everything the pool holds about USER, as JSON (logged)."""
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:  # the audit record, append-only
            service.record_export(session, accounts.act_as(session, user))
        with runtime.database.session() as session:
            data = service.export_profile(session, accounts.act_as(session, user))
        print_json(data)
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@app.command("delete")
def delete(
    user: Annotated[str, typer.Argument(help="The person's user name.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: the deletion cannot be undone.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Carry out a deletion request received outside Baton: delete USER's profile and every record of them."""
    if not yes:
        fail(
            BadRequestError(
                f"Refused to delete {user}'s profile: the deletion cannot be undone.",
                hint=f"To carry it out: baton talent delete {shlex.quote(user)} --yes",
            )
        )
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            result = service.delete_profile(session, accounts.act_as(session, user))
        say(result["message"])
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@app.command("reviews")
def reviews(
    operator: OperatorOption, show_all: bool = typer.Option(False, "--all"), data_dir: DataDirOption = None
) -> None:
    """The human-review queue (open requests; --all for answered ones too)."""
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session() as session:
            rows = service.list_reviews(
                session, accounts.act_as(session, operator), status=None if show_all else "open"
            )
            print_json([service.review_for_operator(session, row) for row in rows])
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@app.command("answer")
def answer(
    review: Annotated[int, typer.Argument(help="Review request id.")],
    text: Annotated[str, typer.Argument(help="The outcome of the human review.")],
    operator: OperatorOption,
    data_dir: DataDirOption = None,
) -> None:
    """Record the answer to a human-review request."""
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            row = service.answer_review(session, accounts.act_as(session, operator), review, text)
            say(f"review {row.id} answered")
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@app.command("match")
def match(operator: OperatorOption, data_dir: DataDirOption = None) -> None:
    """Compute a non-binding matching over consenting people and open openings; reports blocking pairs."""
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            result = matchmaking.run_matching(session, accounts.act_as(session, operator))
        say(
            f"run {result['id']}: {result['matched']} of {result['people']} people matched to "
            f"{result['openings']} openings; {len(result['blocking_pairs'])} blocking pair(s) (non-binding)"
        )
        print_json(result)
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@app.command("exposure")
def exposure(operator: OperatorOption, top_k: int = 10, data_dir: DataDirOption = None) -> None:
    """How often each former team's people are recommended, against their share of the pool."""
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session() as session:
            print_json(matchmaking.exposure(session, accounts.act_as(session, operator), top_k=top_k))
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@app.command("placements")
def placements(
    challenge: Annotated[str | None, typer.Option("--challenge")] = None, data_dir: DataDirOption = None
) -> None:
    """How many people of each former team found a new place."""
    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session() as session:
            print_json(service.placements_by_team(session, challenge))
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()
