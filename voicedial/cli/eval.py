"""`voicedial eval PERSONAS.jsonl`: play personas through the emulator and score the interviewer.
Registered on the app by `voicedial.cli.app`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from voicedial.cli.common import get_settings, run
from voicedial.errors import UsageError

if TYPE_CHECKING:
    from voicedial.campaign.eval import EvalReport

__all__ = ["eval_command", "render_report"]


def render_report(report: EvalReport, *, title: str = "Interviewer evaluation") -> Table:
    """The report as a Rich table: metric, value, target, pass."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_column("ok", justify="center")
    for name, value in report.metrics.items():
        ok = report.passed(name)
        target = report.as_json()["metrics"][name]["target"] or ""
        mark = "" if ok is None else ("[green]yes[/]" if ok else "[red]no[/]")
        table.add_row(name, f"{value:g}", target, mark)
    table.caption = ", ".join(f"{k} {v}" for k, v in report.counts.items())
    return table


def eval_command(
    personas: Annotated[
        Path,
        typer.Argument(
            help="Personas (JSON Lines, one caller per line; see examples/personas.jsonl).",
            show_default=False,
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    agent: Annotated[str, typer.Option(help="scripted or openai.")] = "scripted",
    speed: Annotated[float, typer.Option(help="Emulator time compression.")] = 100.0,
    seed: Annotated[int, typer.Option(help="Seed of the callers' phrasing.")] = 0,
    notes: Annotated[bool, typer.Option(help="List each miss under the table.")] = False,
) -> None:
    """Play PERSONAS through the Twilio emulator over the real protocol (a `sim` campaign) and
    print completion, job precision/recall, year, title and gap accuracy, adversarial
    separation, consent and opt-out correctness against the interviewer's targets."""
    # The emulator, the interviewer and the whole campaign stack: imported here so that the
    # start-up of every command, --help and completion stays fast.
    from voicedial.campaign.eval import run_eval

    settings = get_settings()

    async def go() -> EvalReport:
        if agent not in ("scripted", "openai"):
            raise UsageError(f"--agent {agent!r}: use scripted or openai")
        if not personas.exists():
            raise UsageError(f"{personas}: no such file")
        return await run_eval(settings, personas, agent=agent, speed=speed, seed=seed)

    report = run(go)
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
        return
    console = Console()
    console.print(render_report(report, title=f"Interviewer evaluation: {personas.name}"))
    if notes:
        for line in report.notes:
            console.print(f"  {line}", highlight=False)
