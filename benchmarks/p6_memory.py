"""P6: peak RSS of `voicedial campaign run --dry-run` over a generated million-row list.

The peak is the child's own `VmHWM` (read from /proc as it exits), not `ru_maxrss`: Linux folds
the pre-exec image of a forked child (a copy of this benchmark process, over a gigabyte after
P1) into `ru_maxrss`, which once reported 1.5 GB for a 340 MB run.
"""

from __future__ import annotations

import os
import subprocess
import sys

from benchmarks.common import Result, fresh_redis, scratch
from benchmarks.data import write_contact_csv

__all__ = ["run"]

# `python -m voicedial ARGS`, writing the process's peak RSS (kB) to argv[1] on the way out.
_WRAPPER = """
import atexit, re, runpy, sys
out = sys.argv.pop(1)
def peak():
    status = open('/proc/self/status').read()
    open(out, 'w').write(re.search(r'VmHWM:\\s+(\\d+)', status).group(1))
atexit.register(peak)
sys.argv[0] = 'voicedial'
runpy.run_module('voicedial', run_name='__main__', alter_sys=True)
"""


def run(rows: int = 1_000_000) -> list[Result]:
    """Import `rows` contacts in a child process (dry run) and read its peak RSS."""
    with scratch("p6") as home, fresh_redis(home / "redis") as url:
        path = write_contact_csv(home / "big.csv", rows)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TWILIO_", "OPENAI_", "AWS_", "VOICEDIAL_"))
        }
        env.update(
            REDIS_URL=url,
            VOICEDIAL_HOME=str(home / "home"),
            VOICEDIAL_STORAGE_URL=f"file://{home / 'data'}",
        )
        peak_file = home / "peak"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WRAPPER,
                str(peak_file),
                "campaign",
                "run",
                str(path),
                "--dry-run",
                "--provider",
                "sim",
                "--no-live",
            ],
            env=env,
            cwd=home,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        stderr = ""
        if proc.stderr:
            stderr = proc.stderr.read()
            proc.stderr.close()
        peak_mb = int(peak_file.read_text()) / 1024 if peak_file.exists() else float("nan")
    return [
        Result(
            id="P6",
            what=f"peak RSS, campaign run --dry-run, {rows:,} rows",
            figure=round(peak_mb, 1),
            unit="MB",
            target="<= 300 MB",
            passed=peak_mb <= 300 and proc.returncode == 0,
            details={
                "exit_code": proc.returncode,
                "stderr_tail": stderr[-300:],
                "ru_maxrss_mb_incl_fork_image": round(usage.ru_maxrss / 1024, 1),
            },
        )
    ]
