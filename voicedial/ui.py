"""What the person at the terminal sees: a Rich live table while dialling, or JSON log lines
when stdout is not a terminal (cron). Both render snapshots; neither reads Redis itself."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .importer import ImportSummary
from .keys import ACTIVE_STATES, TERMINAL_STATES

__all__ = ["LiveReporter", "LogReporter", "render_status"]


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_status(status: dict[str, Any]) -> Table:
    """One campaign's snapshot as a table."""
    table = Table(title=f"campaign {status['campaign']} ({status.get('control', 'running')})",
                  show_header=True, header_style="bold", expand=False)
    table.add_column("state")
    table.add_column("contacts", justify="right")
    states: dict[str, int] = status.get("states", {})
    for state in (*ACTIVE_STATES, *TERMINAL_STATES):
        if states.get(state):
            style = "cyan" if state in ACTIVE_STATES else ""
            table.add_row(Text(state, style=style), str(states[state]))
    table.add_section()
    table.add_row("total", str(status.get("contacts", 0)))
    pace = status.get("pace", {})
    conc = status.get("concurrency", {})
    outbox = status.get("outbox", {})
    table.add_row("calls placed", str(status.get("calls_placed", 0)))
    table.add_row("pace (10 s / target)", f"{pace.get('cps_10s', 0)} / {pace.get('target_cps')}")
    table.add_row("calls in progress / cap", f"{conc.get('active', 0)} / {conc.get('cap')}")
    table.add_row("due now / next due", f"{status.get('due_now', 0)} / "
                  f"{_when(status.get('next_due_at'))}")
    table.add_row("outbox pending / stored / dead",
                  f"{outbox.get('pending', 0)} / {outbox.get('stored', 0)} / "
                  f"{outbox.get('dead', 0)}")
    return table


class LiveReporter:
    """A Rich live view for an interactive terminal."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._live: Live | None = None
        self._latest: dict[str, Any] | None = None

    def notice(self, message: str) -> None:
        self.console.print(f"[dim]{message}[/]")

    def imported(self, summary: ImportSummary, *, final: bool) -> None:
        if not final:
            return
        line = (f"imported {summary.rows} rows in {summary.seconds:.1f} s: {summary.added} new, "
                f"{summary.existing} already in the campaign, {summary.rejected} rejected")
        self.console.print(line)
        if summary.reasons:
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted(summary.reasons.items()))
            self.console.print(f"  rejected ({reasons}) -> {summary.rejects_path}")

    def update(self, status: dict[str, Any]) -> None:
        self._latest = status
        if self._live is None:
            self._live = Live(render_status(status), console=self.console,
                              refresh_per_second=4, transient=False)
            self._live.start()
        else:
            self._live.update(Group(render_status(status)))

    def close(self) -> None:
        """Stop the live display, leaving the last frame on screen."""
        if self._live is not None:
            self._live.stop()
            self._live = None


class LogReporter:
    """JSON lines on stdout: a notice per event, a progress line every `every_s` seconds."""

    def __init__(self, *, every_s: float = 10.0, stream: Any = None) -> None:
        self.every_s = every_s
        self.stream = stream or sys.stdout
        self._last = 0.0

    def _emit(self, event: str, **fields: Any) -> None:
        record = {"ts": datetime.now(UTC).isoformat(timespec="seconds"), "event": event, **fields}
        self.stream.write(json.dumps(record) + "\n")
        self.stream.flush()

    def notice(self, message: str) -> None:
        self._emit("notice", message=message)

    def imported(self, summary: ImportSummary, *, final: bool) -> None:
        if final:
            self._emit("imported", rows=summary.rows, added=summary.added,
                       existing=summary.existing, rejected=summary.rejected,
                       reasons=summary.reasons, seconds=round(summary.seconds, 3),
                       rejects_file=str(summary.rejects_path) if summary.rejects_path else None)

    def update(self, status: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self._last < self.every_s:
            return
        self._last = now
        self._emit("progress", states=status["states"], remaining=status["remaining"],
                   calls_placed=status["calls_placed"], pace=status["pace"],
                   active=status["concurrency"]["active"], outbox=status["outbox"])

    def close(self) -> None:
        """Nothing to release."""
