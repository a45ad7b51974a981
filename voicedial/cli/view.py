"""What the person at the terminal sees: a Rich live view while dialling, or JSON log lines when
stdout is not a terminal (cron). Both render status snapshots; neither reads Redis itself, so
rendering never slows dialling."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from voicedial.state.states import ACTIVE_STATES, TERMINAL_STATES, ContactState

if TYPE_CHECKING:
    from voicedial.campaign.importer import ImportSummary

__all__ = ["LiveReporter", "LogReporter", "render_live", "render_status"]


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def render_status(status: dict[str, Any]) -> Table:
    """One campaign's snapshot as a compact table (`voicedial status`)."""
    table = Table(
        title=f"campaign {status['campaign']} ({status.get('control', 'running')})",
        show_header=True,
        header_style="bold",
        expand=False,
    )
    table.add_column("state")
    table.add_column("contacts", justify="right")
    table.add_column("calls", justify="right")
    states: dict[str, int] = status.get("states", {})
    attempts: dict[str, int] = status.get("attempts", {})
    for state in (*ACTIVE_STATES, *TERMINAL_STATES):
        if states.get(state):
            style = "cyan" if state in ACTIVE_STATES else ""
            table.add_row(Text(state, style=style), str(states[state]), str(attempts.get(state, 0)))
    table.add_section()
    table.add_row("total", str(status.get("contacts", 0)))
    pace = status.get("pace", {})
    conc = status.get("concurrency", {})
    outbox = status.get("outbox", {})
    table.add_row("calls placed", str(status.get("calls_placed", 0)))
    table.add_row("pace (10 s / target)", f"{pace.get('cps_10s', 0)} / {pace.get('target_cps')}")
    table.add_row("calls in progress / cap", f"{conc.get('active', 0)} / {conc.get('cap')}")
    table.add_row(
        "due now / next due", f"{status.get('due_now', 0)} / {_when(status.get('next_due_at'))}"
    )
    table.add_row(
        "outbox pending / delivered / dead",
        f"{outbox.get('pending', 0)} / {outbox.get('delivered', 0)} / {outbox.get('dead', 0)}",
    )
    return table


def render_live(status: dict[str, Any], *, elapsed_s: float | None = None) -> RenderableType:
    """The live view of `campaign run`: states, pace, calls in progress, last outcomes."""
    pace = status.get("pace", {})
    conc = status.get("concurrency", {})
    outbox = status.get("outbox", {})
    states: dict[str, int] = status.get("states", {})
    head = Text.assemble(
        (f"campaign {status['campaign']}", "bold"),
        f"  {status.get('provider') or ''}",
        f"  {status.get('control', 'running')}",
        f"  elapsed {_duration(elapsed_s)}  ETA {_duration(status.get('eta_s'))}",
    )

    attempts: dict[str, int] = status.get("attempts", {})
    counts = Table(title="contacts", title_justify="left", show_edge=False, pad_edge=False)
    counts.add_column("state")
    counts.add_column("n", justify="right")
    counts.add_column("calls", justify="right")
    for state in (*ACTIVE_STATES, *TERMINAL_STATES):
        if states.get(state):
            counts.add_row(
                Text(state, style="cyan" if state in ACTIVE_STATES else ""),
                str(states[state]),
                str(attempts.get(state, 0)),
            )
    counts.add_row(
        Text("total", style="bold"), str(status.get("contacts", 0)), str(sum(attempts.values()))
    )

    queue = status.get("queue_time_ms")
    gauges = Table(
        title="dialling", title_justify="left", show_edge=False, show_header=False, pad_edge=False
    )
    gauges.add_column()
    gauges.add_column(justify="right")
    gauges.add_row("calls/s target", str(pace.get("target_cps")))
    gauges.add_row("calls/s last 10 s", f"{pace.get('cps_10s', 0):.2f}")
    gauges.add_row("Twilio queue time", "-" if queue is None else f"{queue} ms")
    gauges.add_row("in progress / cap", f"{conc.get('active', 0)} / {conc.get('cap')}")
    gauges.add_row("calls placed", str(status.get("calls_placed", 0)))
    gauges.add_row("waiting for window", str(states.get(ContactState.WAITING_WINDOW, 0)))
    gauges.add_row("next due", _when(status.get("next_due_at")))
    gauges.add_row("outbox pending", str(outbox.get("pending", 0)))
    gauges.add_row("delivered / dead", f"{outbox.get('delivered', 0)} / {outbox.get('dead', 0)}")

    calls = Table(title="calls in progress", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("contact", "state", "elapsed", "turns"):
        calls.add_column(column, justify="right" if column in ("elapsed", "turns") else "left")
    for call in status.get("in_progress", []):
        calls.add_row(
            call["contact"], call["state"], _duration(call["elapsed_s"]), str(call["turns"])
        )

    recent = Table(title="last outcomes", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("contact", "outcome", "attempt", "duration"):
        recent.add_column(column)
    for item in status.get("recent", [])[:6]:
        recent.add_row(
            str(item.get("contact", "")),
            str(item.get("disposition", "")),
            str(item.get("attempt", "")),
            "-" if item.get("duration_s") is None else f"{item['duration_s']} s",
        )

    top = Table.grid(padding=(0, 4))
    top.add_row(counts, gauges)
    bottom = Table.grid(padding=(0, 4))
    bottom.add_row(calls, recent)
    return Group(head, Text(""), top, Text(""), bottom)


class LiveReporter:
    """A Rich live view for an interactive terminal, with a progress bar while importing."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._live: Live | None = None
        self._progress: Progress | None = None
        self._task: Any = None
        self._started = time.monotonic()

    def notice(self, message: str) -> None:
        self.console.print(f"[dim]{message}[/]")

    def imported(self, summary: ImportSummary, *, final: bool) -> None:
        if not final:
            if self._progress is None:
                self._progress = Progress(
                    TextColumn("importing"),
                    BarColumn(),
                    TextColumn("{task.completed:,} rows"),
                    TimeElapsedColumn(),
                    console=self.console,
                    transient=True,
                )
                self._progress.start()
                self._task = self._progress.add_task("import", total=None)
            self._progress.update(self._task, completed=summary.rows)
            return
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        self.console.print(
            f"imported {summary.rows:,} rows in {summary.seconds:.1f} s: {summary.added:,} new, "
            f"{summary.existing:,} already in the campaign, {summary.rejected:,} rejected"
        )
        if summary.reasons:
            reasons = ", ".join(f"{k}: {v:,}" for k, v in sorted(summary.reasons.items()))
            self.console.print(f"  rejected ({reasons}) -> {summary.rejects_path}")
        self._started = time.monotonic()

    def update(self, status: dict[str, Any]) -> None:
        view = render_live(status, elapsed_s=time.monotonic() - self._started)
        if self._live is None:
            self._live = Live(view, console=self.console, refresh_per_second=4, transient=False)
            self._live.start()
        else:
            self._live.update(view)

    def finished(self, status: dict[str, Any], exit_code: int) -> None:
        """Show the last frame and a closing line."""
        self.update(status)
        self.close()
        left = status["remaining"]
        self.console.print(
            f"done: {status['contacts']} contacts, {left} left, "
            f"{status['calls_placed']} calls placed (exit {exit_code})"
        )

    def close(self) -> None:
        """Stop the live display, leaving the last frame on screen."""
        if self._progress is not None:
            self._progress.stop()
        if self._live is not None:
            self._live.stop()
            self._live = None


class LogReporter:
    """Structured JSON lines (structlog) on stdout: one per event, and a progress line every
    `every_s` seconds. Contacts appear only by their hash; no setting or secret is logged."""

    def __init__(self, *, every_s: float = 10.0, stream: TextIO | None = None) -> None:
        import structlog  # a fifth of a second: paid only by commands that log, not by --help

        self.every_s = every_s
        self._last = 0.0
        self._log = structlog.wrap_logger(
            structlog.PrintLogger(stream or sys.stdout),
            processors=[
                structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
                structlog.processors.JSONRenderer(),
            ],
        )

    def notice(self, message: str) -> None:
        self._log.info("notice", message=message)

    def imported(self, summary: ImportSummary, *, final: bool) -> None:
        if final:
            self._log.info(
                "imported",
                rows=summary.rows,
                added=summary.added,
                existing=summary.existing,
                rejected=summary.rejected,
                reasons=summary.reasons,
                seconds=round(summary.seconds, 3),
                rejects_file=str(summary.rejects_path) if summary.rejects_path else None,
            )

    def update(self, status: dict[str, Any], *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        self._log.info(
            "progress",
            states=status["states"],
            remaining=status["remaining"],
            calls_placed=status["calls_placed"],
            pace=status["pace"],
            active=status["concurrency"]["active"],
            outbox=status["outbox"],
            eta_s=status.get("eta_s"),
        )

    def finished(self, status: dict[str, Any], exit_code: int) -> None:
        """The closing line: final counts and the exit code."""
        self._log.info(
            "finished",
            exit_code=exit_code,
            states=status["states"],
            remaining=status["remaining"],
            calls_placed=status["calls_placed"],
            outbox=status["outbox"],
        )

    def close(self) -> None:
        """Nothing to release."""
