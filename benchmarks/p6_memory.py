"""P6: peak RSS of `voicedial campaign run --dry-run` over a generated million-row list."""

from __future__ import annotations

import os
import subprocess
import sys

from benchmarks.common import Result, fresh_redis, scratch
from benchmarks.data import write_contact_csv

__all__ = ["run"]


def run(rows: int = 1_000_000) -> list[Result]:
    """Import `rows` contacts in a child process (dry run) and read its peak RSS."""
    with scratch("p6") as home, fresh_redis(home / "redis") as url:
        path = write_contact_csv(home / "big.csv", rows)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TWILIO_", "OPENAI_", "AWS_", "VOICEDIAL_"))}
        env.update(REDIS_URL=url, VOICEDIAL_HOME=str(home / "home"),
                   VOICEDIAL_STORAGE_URL=f"file://{home / 'data'}")
        proc = subprocess.Popen([sys.executable, "-m", "voicedial", "campaign", "run", str(path),
                                 "--dry-run", "--provider", "sim", "--no-live"],
                                env=env, cwd=home, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        # wait4 gives this child's own peak (RUSAGE_CHILDREN would mix in earlier children).
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        stderr = proc.stderr.read() if proc.stderr else ""
        peak_mb = usage.ru_maxrss / 1024
    return [Result(id="P6", what=f"peak RSS, campaign run --dry-run, {rows:,} rows",
                   figure=round(peak_mb, 1), unit="MB", target="<= 300 MB",
                   passed=peak_mb <= 300 and proc.returncode == 0,
                   details={"exit_code": proc.returncode, "stderr_tail": stderr[-300:]})]
