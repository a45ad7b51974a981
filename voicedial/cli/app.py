"""The Typer app: every command of the command line registered in one place, and `main`, the
console-script entry point.

The commands live in one module per group (`campaign`, `status`, `servers`, `delivery`, `eval`),
their shared options and helpers in `common`; none of them imports this module.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated

import typer

from voicedial import __version__
from voicedial.cli import campaign, delivery, servers, status
from voicedial.cli import eval as evaluation  # the module, named apart from the builtin
from voicedial.cli.common import err

__all__ = ["app", "main"]

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    help="Batch dialer with an AI phone interviewer. Calls a CSV of contacts "
    "through Twilio (or its emulator), interviews each consenting person about "
    "their work history, and stores and delivers a worker profile.",
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"voicedial {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    # Typer takes the app's help from `typer.Typer(help=...)` above; this only adds --version.
    pass


campaign_app = typer.Typer(no_args_is_help=True, help="Run and control campaigns.")
campaign_app.command("run")(campaign.campaign_run)
campaign_app.command("list")(campaign.campaign_list)
campaign_app.command("pause")(campaign.campaign_pause)
campaign_app.command("resume")(campaign.campaign_resume)
campaign_app.command("cancel")(campaign.campaign_cancel)
campaign_app.command("purge")(campaign.campaign_purge)
app.add_typer(campaign_app, name="campaign")

app.command("status")(status.status)
app.command("sim")(servers.sim)
app.command("serve")(servers.serve)
app.command("worker")(servers.worker)
app.command("doctor")(servers.doctor)
app.command("replay-outbox")(delivery.replay)
app.command("export")(delivery.export)
app.command("eval")(evaluation.eval_command)


def main() -> None:
    """Console-script entry point: unexpected errors become one line and exit 1."""
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:
        err.print(
            f"[red]unexpected error:[/] {type(exc).__name__}: {exc}",
            highlight=False,
            soft_wrap=True,
        )
        if "--debug" in sys.argv or os.environ.get("VOICEDIAL_DEBUG"):
            traceback.print_exc()
        sys.exit(1)
