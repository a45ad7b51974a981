"""The command line as a user runs it: real subprocesses, the embedded Redis, the emulator."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import shutil
import tempfile
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from tests.conftest import EXAMPLES
from tests.support import json_lines, voicedial
from voicedial.cli.app import app
from voicedial.cli.campaign import SIM_NOTICE
from voicedial.emulator import load_personas
from voicedial.state.embedded import embedded_url, stop_embedded
from voicedial.state.keys import PHONE_HASH_KEY


def _consenting_humans() -> set[str]:
    people = load_personas(EXAMPLES / "personas.jsonl").values()
    return {
        p.phone
        for p in people
        if p.answer == "human" and p.consent and not p.opt_out and p.style != "silent"
    }


@pytest.mark.timeout(120)
async def test_readme_quickstart_runs_to_exit_0_with_a_profile_per_consenting_human(
    tmp_path: Path,
) -> None:
    """`voicedial campaign run examples/contacts.csv` on a machine with nothing configured;
    `status` from another directory finds the same campaign (the user's state directory)."""
    # A short state directory: the embedded server's unix socket lives under it.
    state = Path(tempfile.mkdtemp(prefix="vdq-", dir="/tmp"))
    home = state / "voicedial"
    env = {k: v for k, v in __import__("os").environ.items()} | {"XDG_STATE_HOME": str(state)}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    try:
        run = await voicedial(
            "campaign", "run", str(EXAMPLES / "contacts.csv"), env=env, cwd=tmp_path, timeout=110
        )
        assert run.code == 0, run.stderr
        first = json_lines(run.stdout)[0]
        assert first["message"] == SIM_NOTICE
        # The phone_hash key is kept in Redis, shared by every process on it.
        kept = redis.Redis.from_url(embedded_url(home))
        key = kept.get(PHONE_HASH_KEY)
        kept.close()
        assert isinstance(key, bytes)
        hashes = {
            hmac.new(key, n.encode(), hashlib.sha256).hexdigest() for n in _consenting_humans()
        }
        profiles = [
            json.loads(p.read_text())
            for p in (tmp_path / "voicedial-data").glob("calls/profiles/*/*/worker_profile.json")
        ]
        assert {p["phone_hash"] for p in profiles} == hashes
        assert len(profiles) == len(hashes)
        everything = "".join(
            p.read_text() for p in (tmp_path / "voicedial-data").rglob("*") if p.is_file()
        )
        for persona in load_personas(EXAMPLES / "personas.jsonl"):
            assert persona[2:] not in everything  # no raw number, with or without +1

        status = await voicedial("status", "contacts", "--json", env=env, cwd=elsewhere)
        assert status.code == 0, status.stderr
        assert not (elsewhere / ".voicedial").exists()
        snapshot = json.loads(status.stdout)
        assert snapshot["contacts"] == 13 and snapshot["remaining"] == 0
        assert sum(snapshot["states"].values()) == 13
        assert snapshot["states"]["completed"] + snapshot["states"].get("incomplete", 0) == len(
            hashes
        )

        again = await voicedial(
            "campaign", "run", str(EXAMPLES / "contacts.csv"), env=env, cwd=tmp_path, timeout=60
        )
        assert again.code == 0
        rerun = json.loads(
            (await voicedial("status", "contacts", "--json", env=env, cwd=tmp_path)).stdout
        )
        assert rerun["calls_placed"] == snapshot["calls_placed"]  # nothing dialled again
    finally:
        stop_embedded(home)
        shutil.rmtree(state, ignore_errors=True)


def test_junk_rows_duplicates_bom_and_semicolons_go_to_rejects(
    tmp_path: Path, redis_url: str
) -> None:
    text = (
        "\ufeffName;Mobile;notes\r\n"
        'Ann;(201) 555-0101;"first; quoted"\r\n'
        "Bob;not a number;x\r\n"
        "Cy;201.555.0101;dup of Ann\r\n"
        "Di;+1 312 555 0102;ok\r\n"
        "Ed;;missing\r\n"
    )
    path = tmp_path / "list.csv"
    path.write_bytes(text.encode("utf-8"))
    result = CliRunner().invoke(app, ["campaign", "run", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = json_lines(result.output)
    imported = next(line for line in lines if line["event"] == "imported")
    assert imported["added"] == 2 and imported["rejected"] == 3
    with open(imported["rejects_file"], newline="") as handle:
        rows = {int(r["row"]): r["reason"] for r in csv.DictReader(handle)}
    assert rows[2] == "invalid number"
    assert rows[3].startswith("duplicate of row 1")
    assert rows[5] == "missing number"


def test_file_without_phone_column_exits_2_with_one_line(tmp_path: Path, redis_url: str) -> None:
    path = tmp_path / "people.csv"
    path.write_text("name,email\nAnn,ann@example.com\n")
    result = CliRunner().invoke(app, ["campaign", "run", str(path)])
    assert result.exit_code == 2
    assert "no phone column" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["campaign", "run", "missing.csv"], "file not found"),
        (["campaign", "run", "x.csv", "--hours", "9-5"], "--hours"),
        (["campaign", "run", "x.csv", "--days", "someday"], "--days"),
        (["campaign", "run", "x.csv", "--max-duration", "soon"], "--max-duration"),
        (["campaign", "run", "x.csv", "--provider", "twilio"], "TWILIO_ACCOUNT_SID"),
        (["campaign", "run", "x.csv", "--agent", "openai"], "OPENAI_API_KEY"),
        (["campaign", "run", "x.csv", "--agent", "gpt"], "--agent"),
        (["campaign", "pause", "nope"], "no campaign named"),
        (["status", "nope"], "no campaign named"),
        (["sim", "--fault-create-429", "2"], "--fault-create-429"),
        (["sim", "--fault-slow-create-s", "-1"], "--fault-slow-create-s"),
        (["campaign", "run", "x.csv", "--cps", "-1"], "--cps"),
        (["campaign", "run", "x.csv", "--cps", "0"], "--cps"),
        (["campaign", "run", "x.csv", "--max-attempts", "0"], "--max-attempts"),
        (["campaign", "run", "x.csv", "--max-concurrent", "0"], "--max-concurrent"),
        (["campaign", "run", "x.csv", "--port", "99999"], "--port 99999"),
        (["campaign", "run", "x.csv", "--hours", "22:00-23:00"], "outside 08:00-21:00"),
        (["campaign", "run", "x.csv", "--partitions", "0"], "--partitions"),
        (["campaign", "run", "x.csv", "--retain", "forever"], "--retain"),
        (["serve", "--port", "70000"], "--port 70000"),
        (["worker", "x", "--port", "-1"], "--port -1"),
        (["sim", "--port", "65536"], "--port 65536"),
        (["doctor", "--port", "99999"], "--port 99999"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    tmp_path: Path, redis_url: str, args: list[str], message: str
) -> None:
    (tmp_path / "x.csv").write_text("phone\n+12015550101\n")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    with redis.Redis.from_url(redis_url) as client:  # refused before anything was imported
        assert client.dbsize() == 0


def test_status_without_campaigns(redis_url: str) -> None:
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == []


def test_version_is_printed_from_the_package() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"voicedial {version('voicedial')}\n"


def test_an_unusable_home_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("VOICEDIAL_HOME", str(blocker / "home"))
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 2, result.output
    assert "VOICEDIAL_HOME" in result.stderr and "not a writable directory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_default_home_is_the_users_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voicedial.settings import default_home

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_home() == tmp_path / "xdg" / "voicedial"
    (tmp_path / ".voicedial" / "redis").mkdir(parents=True)  # an earlier version's home
    assert default_home() == Path(".voicedial")
