"""What every command shares: the options declared once, settings loading, the duration parser,
the reporter choice, the stderr console, and `run`, which runs one library call and turns a
`VoicedialError` into one red line and its exit code.

Start-up: every command, `--help` and shell completion import this module and all the command
modules, so none of them imports a heavy library module (pydantic-settings, redis, pandas, twilio,
starlette, openai, structlog ...) at its top. A command imports what it calls inside its body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from voicedial.cli.view import LiveReporter, LogReporter
from voicedial.errors import UsageError, VoicedialError

if TYPE_CHECKING:
    from pydantic import ValidationError

    from voicedial.settings import Settings

__all__ = [
    "EXIT_WORK_LEFT",
    "CampaignArg",
    "HostOpt",
    "JsonOpt",
    "NameOpt",
    "PortOpt",
    "ProviderOpt",
    "RedisGraceOpt",
    "check_port",
    "err",
    "get_settings",
    "options_error",
    "parse_duration",
    "port_checked",
    "reporter",
    "run",
]

T = TypeVar("T")

EXIT_WORK_LEFT = 75
"""Work is left (out of time, out of window, interrupted, some deliveries failed): run again."""

err = Console(stderr=True)
"""Errors and progress go to stderr; stdout carries only a command's result."""

# -- options declared once ---------------------------------------------------------------------
NameOpt = Annotated[
    str | None,
    typer.Option(
        "--name", help="Campaign name (default: the CSV file's stem). Re-running a name resumes it."
    ),
]
ProviderOpt = Annotated[
    str | None,
    typer.Option(
        "--provider", help="twilio or sim (default: twilio when TWILIO_* are set, else sim)."
    ),
]


def check_port(port: int, flag: str = "--port") -> int:
    """`port` if it is one (0: any free port); UsageError otherwise."""
    if not 0 <= port <= 65535:
        raise UsageError(f"{flag} {port}: use 1 to 65535, or 0 for any free port")
    return port


def port_checked(value: int | None) -> int | None:
    """A --port option's check, before the command runs: one line and exit 2 when it is
    not a port."""
    if value is not None:
        try:
            check_port(value)
        except UsageError as exc:
            raise fail(exc) from None
    return value


PortOpt = Annotated[
    int,
    typer.Option("--port", callback=port_checked, help="Callback server port (0: any free port)."),
]
HostOpt = Annotated[str, typer.Option("--host", help="Callback server address to bind.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
RedisGraceOpt = Annotated[
    str | None,
    typer.Option(
        "--redis-grace",
        help="Ride out Redis being unreachable this long (dialling pauses, callers hear a "
        "holding turn); past it, calls in progress are hung up and the run exits 75 "
        "(default 30s, or VOICEDIAL_REDIS_GRACE).",
    ),
]
CampaignArg = Annotated[str, typer.Argument(help="Campaign name.")]


def fail(exc: VoicedialError) -> typer.Exit:
    """Print `exc` as one red line on stderr; the `typer.Exit` of its exit code, to raise."""
    err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def run(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one library call; VoicedialError -> one red line and its exit code; Ctrl-C -> 75."""
    import asyncio  # not at the top: --help and completion never run a coroutine

    from voicedial.process import tune_gc

    # Here, not at start-up: the command has imported what it runs by now (lazily, for a fast
    # --help), and the tuning freezes those modules' objects out of every later collection.
    tune_gc()
    try:
        return asyncio.run(make())
    except VoicedialError as exc:
        raise fail(exc) from None
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_WORK_LEFT) from None


def get_settings(**overrides: Any) -> Settings:
    """The settings from the environment and `.env` with non-None `overrides`, or exit 2."""
    # pydantic-settings costs a quarter of a second: only commands that run pay for it.
    from voicedial.settings import load_settings

    try:
        return load_settings(**overrides)
    except VoicedialError as exc:
        raise fail(exc) from None


def options_error(exc: ValidationError) -> UsageError:
    """The first problem of a `CampaignOptions` validation as one line naming its option
    (`max_concurrent` -> `--max-concurrent`, `retry_delay_s` -> `--retry-delay`)."""
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first.get("loc") else "option"
    flag = "--" + field.removesuffix("_s").replace("_", "-")
    return UsageError(f"{flag} {first.get('input')!r}: {first['msg'].lower()}")


def parse_duration(text: str | None, what: str) -> float | None:
    """'90', '90s', '15m', '2h', '1d' -> seconds; None -> None."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not match:
        raise UsageError(f"{what} {text!r}: use a number of seconds or 30s, 15m, 2h, 1d")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def reporter(live: bool) -> LiveReporter | LogReporter:
    """The live view on an interactive terminal when `live`, else JSON log lines on stdout."""
    # structlog costs a fifth of a second: only commands that dial or serve pay for it.
    from voicedial.logs import configure_logging

    console = Console()
    interactive = live and console.is_terminal
    configure_logging(json_lines=not interactive)
    if interactive:
        return LiveReporter(console)
    return LogReporter()
