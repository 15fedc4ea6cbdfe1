"""The ``baton`` command: one sub-command group per noun."""

from __future__ import annotations

import typer

from baton.cli import challenge as challenge_cli
from baton.cli import commons as commons_cli
from baton.cli import evaluation, hub, org, provenance, serve, user, worker
from baton.cli import talent as talent_cli
from baton.cli import variants as variants_cli

app = typer.Typer(help="Baton: staged AI challenges and the commons hub.", no_args_is_help=True)
app.command("serve")(serve.serve)
app.command("demo")(serve.demo)
app.command("init")(serve.init)
app.add_typer(user.app, name="user")
app.add_typer(org.app, name="org")
app.add_typer(hub.app, name="hub")
app.command("worker")(worker.worker)
app.add_typer(worker.jobs_app, name="jobs")
app.add_typer(provenance.app, name="provenance")
app.add_typer(evaluation.app, name="eval")
app.add_typer(talent_cli.app, name="talent")
app.add_typer(challenge_cli.app, name="challenge")
app.add_typer(commons_cli.app, name="commons")
app.add_typer(variants_cli.app, name="variants")

if __name__ == "__main__":
    app()
