"""Render the live view of a sample snapshot to docs/live-view.svg (for the README).

Run: python docs/screenshot.py
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from voicedial.cli.view import render_live

SAMPLE = {
    "schema_version": 1,
    "campaign": "spring-hiring",
    "exists": True,
    "control": "running",
    "provider": "twilio",
    "states": {
        "pending": 812,
        "waiting_window": 140,
        "retry_wait": 37,
        "dialling": 1,
        "in_call": 9,
        "completed": 402,
        "incomplete": 18,
        "declined": 41,
        "opted_out": 6,
        "no_answer": 22,
        "voicemail": 11,
        "busy": 3,
    },
    "attempts": {
        "pending": 0,
        "waiting_window": 31,
        "retry_wait": 52,
        "dialling": 1,
        "in_call": 11,
        "completed": 431,
        "incomplete": 18,
        "declined": 44,
        "opted_out": 6,
        "no_answer": 66,
        "voicemail": 27,
        "busy": 9,
    },
    "contacts": 1502,
    "remaining": 999,
    "done": False,
    "calls_placed": 696,
    "pace": {"target_cps": 1.0, "cps_10s": 1.0, "cps_60s": 0.98},
    "concurrency": {"active": 10, "cap": 10},
    "due_now": 812,
    "next_due_at": 1795086000000,
    "outbox": {"pending": 1, "stored": 420, "delivered": 419, "dead": 0},
    "recent": [
        {"contact": "4f9a1c2b3d4e", "disposition": "completed", "attempt": 1, "duration_s": 171},
        {"contact": "0b77d1e9a6c3", "disposition": "voicemail", "attempt": 2, "duration_s": 9},
        {"contact": "d2a48f1c07be", "disposition": "declined", "attempt": 1, "duration_s": 21},
        {"contact": "9e3c55a0f412", "disposition": "completed", "attempt": 1, "duration_s": 188},
    ],
    "in_progress": [
        {"contact": "a1b2c3d4e5f6", "state": "in_call", "elapsed_s": 95, "turns": 7},
        {"contact": "c0ffee12ab34", "state": "in_call", "elapsed_s": 41, "turns": 3},
        {"contact": "77e1a9d0b2c5", "state": "dialling", "elapsed_s": 4, "turns": 0},
    ],
    "queue_time_ms": 0,
    "eta_s": 1019,
}

if __name__ == "__main__":
    console = Console(record=True, width=100, force_terminal=True)
    console.print(render_live(SAMPLE, elapsed_s=612))
    out = Path(__file__).with_name("live-view.svg")
    out.write_text(console.export_svg(title="voicedial campaign run"))
    print(f"wrote {out}")
