"""P1: import a generated contact list into Redis, against `pandas.read_csv` of the same file
and against the per-row phonenumbers path (which must accept and reject exactly the same)."""

from __future__ import annotations

import asyncio
import csv
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import phonenumbers
import redis.asyncio as aioredis

from benchmarks.common import Result, fresh_redis, scratch
from benchmarks.data import write_contact_csv
from voicedial.campaign.importer import import_csv
from voicedial.contacts.parse import read_contacts
from voicedial.contacts.phones import analyse, contact_id_for, phone_hash
from voicedial.state import keys
from voicedial.state.store import CampaignStore

__all__ = ["run"]

_KEY = b"benchmark-phone-hash-key-0123456"


def _per_row_rate(raws: list[str]) -> float:
    """Rows per second of a plain per-row phonenumbers parse + validate."""
    started = time.perf_counter()
    for raw in raws:
        try:
            number = phonenumbers.parse(raw, "US")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return len(raws) / (time.perf_counter() - started)


def _analyse_many(raws: list[str]) -> list[tuple[str, tuple[str, ...]] | None]:
    return [analyse(raw, "US") if raw else None for raw in raws]


def _reference(path: Path, dnc: set[str]) -> tuple[set[str], dict[int, str]]:
    """The per-row path: every distinct phone string through phonenumbers (two processes),
    then DNC and first-row-wins dedupe. Returns (accepted contact ids, row -> reason)."""
    frame = pd.read_csv(path, dtype=str, na_filter=False)
    raws = [p.strip() for p in frame["phone"].tolist()]
    distinct = sorted(set(raws))
    half = len(distinct) // 2
    with ProcessPoolExecutor(2) as pool:
        parts = list(pool.map(_analyse_many, [distinct[:half], distinct[half:]]))
    parsed = dict(zip(distinct, parts[0] + parts[1], strict=True))
    seen: dict[str, int] = {}
    accepted: set[str] = set()
    reasons: dict[int, str] = {}
    for row, raw in enumerate(raws, start=1):
        result = parsed[raw] if raw else None
        if not raw:
            reasons[row] = "missing number"
        elif result is None:
            reasons[row] = "invalid number"
        elif result[0] in dnc:
            reasons[row] = "do not call"
        elif result[0] in seen:
            reasons[row] = f"duplicate of row {seen[result[0]]}"
        else:
            seen[result[0]] = row
            accepted.add(contact_id_for(phone_hash(result[0], _KEY)))
    return accepted, reasons


def _redis_cpu(info: dict[str, float]) -> tuple[float, float]:
    """Seconds of CPU used by the Redis server itself, and by its children (AOF rewrites)."""
    return (
        info["used_cpu_user"] + info["used_cpu_sys"],
        info["used_cpu_user_children"] + info["used_cpu_sys_children"],
    )


async def _import(
    path: Path, url: str, home: Path, dnc: set[str], redis_dnc: list[str], *, dry_run: bool = False
) -> tuple[float, object, set[str], dict[str, float]]:
    # The socket timeout of `voicedial` itself (runtime.open_redis), not redis-py's 5 s.
    client = aioredis.from_url(url, socket_timeout=30)
    try:
        if redis_dnc:
            pipe = client.pipeline(transaction=False)
            for phone_hash in redis_dnc:
                pipe.sadd(keys.dnc_shard(phone_hash), phone_hash)
            await pipe.execute()
        store = CampaignStore(client, "p1")
        redis_before = _redis_cpu(await client.info("cpu"))
        cpu_started = time.process_time()
        started = time.perf_counter()
        summary = await import_csv(
            store,
            path,
            region="US",
            hash_key=_KEY,
            dnc=dnc,
            rejects_dir=home / "rejects",
            dry_run=dry_run,
        )
        wall = time.perf_counter() - started
        cpu = {"python_cpu_s": time.process_time() - cpu_started}
        redis_after = _redis_cpu(await client.info("cpu"))
        cpu["redis_cpu_s"] = redis_after[0] - redis_before[0]
        cpu["aof_rewrite_cpu_s"] = redis_after[1] - redis_before[1]
        ids = {raw.decode() for raw in await client.zrange(store.keys.due, 0, -1)}
        return wall, summary, ids, {k: round(v, 2) for k, v in cpu.items()}
    finally:
        await client.aclose()


def run(rows: int = 1_000_000, *, check: bool = True) -> list[Result]:
    """Generate `rows` contacts, import them, compare with the baselines and the reference."""
    with scratch("p1") as home:
        path = write_contact_csv(home / "contacts.csv", rows)
        # The baseline reads what the importer must read: every cell as text, "" for empty
        # (`dtype=str, na_filter=False`; numbers must never become floats). pandas' default
        # read (pyarrow-backed type inference) is reported beside it for reference.
        started = time.perf_counter()
        pd.read_csv(path)
        default_read_s = time.perf_counter() - started
        started = time.perf_counter()
        frame = pd.read_csv(path, dtype=str, na_filter=False)
        read_s = time.perf_counter() - started
        sample = [str(p) for p in frame["phone"].head(min(rows, 30_000)).tolist()]
        per_row = _per_row_rate(sample)
        # 1 % of the list on the --dnc file, 0.5 % on the shared DNC set in Redis.
        first = next(read_contacts(path, region="US", hash_key=_KEY, chunk_rows=rows))
        dnc = set(first.contacts.e164.to_pylist()[::100])
        redis_dnc = first.contacts.phone_hash.to_pylist()[50::200]
        del first, frame
        with fresh_redis(home / "redis") as url:
            # Parsing alone: the same import as a dry run (nothing written to Redis).
            parse_s, *_ = asyncio.run(
                _import(path, url, home / "dry", dnc, redis_dnc, dry_run=True)
            )
        with fresh_redis(home / "redis") as url:
            wall, summary, ids, cpu = asyncio.run(_import(path, url, home, dnc, redis_dnc))
        identical = None
        if check:
            accepted, reasons = _reference(path, dnc)
            redis_dnc_set = set(redis_dnc)
            got: dict[int, str] = {}
            rejects_path = summary.rejects_path  # type: ignore[attr-defined]
            if rejects_path:
                with open(rejects_path, newline="", encoding="utf-8") as handle:
                    for record in csv.DictReader(handle):
                        got[int(record["row"])] = record["reason"]
            # Rows on the Redis DNC set are accepted by the reference; drop them from both.
            dnc_rows = {r for r, why in got.items() if why == "do not call"} - {
                r for r, why in reasons.items() if why == "do not call"
            }
            expected_ids = {i for i in accepted} - {contact_id_for(h) for h in redis_dnc_set}
            identical = (
                ids == expected_ids
                and {r: w for r, w in got.items() if r not in dnc_rows} == reasons
            )
    s = summary  # type: ignore[assignment]
    ratio = wall / read_s
    per_row_s = rows / per_row
    passed = wall <= 10.0 * rows / 1_000_000 and ratio <= 15 and identical is not False
    return [
        Result(
            id="P1",
            what=f"import {rows:,} rows (normalise, dedupe, zone, DNC, Redis)",
            figure=round(wall, 2),
            unit="s",
            baseline=round(read_s, 3),
            baseline_what="pandas.read_csv(dtype=str, na_filter=False)",
            ratio=round(ratio, 1),
            target="<= 10 s per 1M rows, <= 15x read_csv, identical to per-row path",
            passed=passed,
            details={
                "rows_per_s": round(rows / wall),
                "parse_only_s": round(parse_s, 2),
                **cpu,
                "read_csv_default_dtypes_s": round(default_read_s, 3),
                "per_row_phonenumbers_rows_per_s": round(per_row),
                "per_row_estimated_s": round(per_row_s, 1),
                "speedup_vs_per_row": round(per_row_s / wall, 1),
                "added": s.added,
                "rejected": s.rejected,  # type: ignore[attr-defined]
                "reasons": s.reasons,
                "identical_to_per_row": identical,
            },
        )
    ]  # type: ignore[attr-defined]
