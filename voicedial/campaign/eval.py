"""Evaluation of the interviewer: personas played through the emulator over the real protocol.

`run_eval` writes the personas' numbers to a contact list and runs an ordinary campaign
(`run_campaign`, provider `sim`): the twilio SDK over HTTP to the in-process emulator, whose
callers are the personas, signed webhooks to the callback server, profiles and transcripts
written to storage by the outbox. Nothing is short-circuited. It then reads the stored profiles
and transcripts and scores them against the personas' truth (`score`).

Ground truth for gaps follows the interviewer's definition (`interview.gaps`): gaps longer than
the threshold between jobs and from the last job up to today. Time before the first job is not
a gap (school, childhood, or a career that has not started), so a persona's explanation for
such a stretch is not expected back.

Persona classes: *cooperative* (styles cooperative and terse, consenting, not opting out, not
hanging up), *adversarial* (hostile, prankster, injection), *declined* (no consent), *opt-out*.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voicedial.campaign.importer import ImportSummary
from voicedial.campaign.run import RunRequest, run_campaign
from voicedial.emulator.persona_model import Persona
from voicedial.emulator.personas import load_personas
from voicedial.emulator.phrasing import INJECTIONS
from voicedial.interview import continue_interview, start_interview
from voicedial.interview.english import normalize
from voicedial.interview.gaps import Period, find_gaps
from voicedial.options import CampaignOptions
from voicedial.settings import SIM_ACCOUNT_SID, Settings
from voicedial.state.connect import open_redis
from voicedial.state.states import Disposition
from voicedial.state.store import CampaignStore

__all__ = [
    "ADVERSARIAL_STYLES",
    "TARGETS",
    "EvalReport",
    "PersonaResult",
    "company_key",
    "play",
    "run_eval",
    "score",
]

ADVERSARIAL_STYLES = frozenset({"hostile", "prankster", "injection"})
COOPERATIVE_STYLES = frozenset({"cooperative", "terse"})
CALLER_ID = "+15005550006"

# metric -> (comparison, threshold) for the targets.
TARGETS: dict[str, tuple[str, float]] = {
    "cooperative_completion": (">=", 0.95),
    "job_f1": (">=", 0.90),
    "year_accuracy": (">=", 0.90),
    "gap_recall": (">=", 0.90),
    "cooperative_low_share": (">=", 0.95),
    "adversarial_high_share": (">=", 0.90),
    "declined_no_data": (">=", 1.0),
    "opt_out_honoured": (">=", 1.0),
    "injection_flow_changes": ("<=", 0.0),
}


@dataclass
class PersonaResult:
    """One persona's call as stored: its disposition, profile and transcript (if any)."""

    persona: Persona
    disposition: str | None
    profile: dict[str, Any] | None = None
    transcript: dict[str, Any] | None = None
    on_dnc: bool = False


@dataclass
class EvalReport:
    """Metrics (name -> value), with the counts behind them and per-persona notes."""

    metrics: dict[str, float]
    counts: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def passed(self, name: str) -> bool | None:
        """Whether a metric meets its target (None when it has no target)."""
        if name not in TARGETS:
            return None
        op, threshold = TARGETS[name]
        value = self.metrics[name]
        return value >= threshold if op == ">=" else value <= threshold

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready view: metrics with their targets, counts and notes."""
        return {
            "metrics": {
                k: {"value": v, "target": _target_text(k), "pass": self.passed(k)}
                for k, v in self.metrics.items()
            },
            "counts": self.counts,
            "notes": self.notes,
        }


def _target_text(name: str) -> str | None:
    if name not in TARGETS:
        return None
    op, threshold = TARGETS[name]
    return f"{op} {threshold:g}"


class _Quiet:
    """A campaign reporter that keeps nothing (the eval prints its own table)."""

    def notice(self, message: str) -> None:
        """Ignore notices."""

    def imported(self, summary: ImportSummary, *, final: bool) -> None:
        """Ignore import progress."""

    def update(self, status: dict[str, Any]) -> None:
        """Ignore status snapshots."""

    def finished(self, status: dict[str, Any], exit_code: int) -> None:
        """Ignore the final snapshot."""


@contextlib.asynccontextmanager
async def _isolated(settings: Settings) -> AsyncIterator[Settings]:
    """Settings for one eval run: its own storage folder and, unless REDIS_URL is set, its own
    embedded Redis (so the eval's fictional opt-outs never reach the real do-not-call set)."""
    from voicedial.state.embedded import stop_embedded

    with tempfile.TemporaryDirectory(prefix="vd-eval-") as tmp:
        root = Path(tmp)
        update: dict[str, Any] = {"storage_url": f"file://{root / 'data'}"}
        if settings.redis_url is None:
            update["home"] = root / "home"
        try:
            yield settings.model_copy(update=update)
        finally:
            if settings.redis_url is None:
                stop_embedded(root / "home")


async def play(
    settings: Settings,
    personas_path: Path,
    *,
    agent: str = "scripted",
    speed: float = 100.0,
    seed: int = 0,
) -> list[PersonaResult]:
    """Call every persona through a `sim` campaign and collect what was stored for each."""
    personas = list(load_personas(personas_path).values())
    async with _isolated(settings) as run_settings:
        work = Path(run_settings.storage_url.removeprefix("file://")).parent
        csv = work / "contacts.csv"
        csv.write_text(
            "id,name,phone\n"
            + "".join(f"P{i},{p.name},{p.phone}\n" for i, p in enumerate(personas)),
            encoding="utf-8",
        )
        name = f"eval-{uuid.uuid4().hex[:8]}"
        options = CampaignOptions(
            name=name,
            from_number=CALLER_ID,
            account_sid=SIM_ACCOUNT_SID,
            provider="sim",
            agent=agent,
            windows_enforced=False,
            cps=50,
            max_concurrent=50,
            max_attempts=1,
            retry_delay_s=0,
        )
        request = RunRequest(
            csv=csv,
            options=options,
            personas=personas_path,
            sim_speed=speed,
            sim_seed=seed,
            port=0,
            idle_exit_s=5,
            drain_s=30,
        )
        await run_campaign(run_settings, request, _Quiet())
        return await _collect(run_settings, name, personas, work / "data")


async def _collect(
    settings: Settings, name: str, personas: list[Persona], data: Path
) -> list[PersonaResult]:
    import json

    by_external: dict[str, dict[str, Any]] = {}
    for path in data.glob("calls/profiles/*/*/worker_profile.json"):
        profile = json.loads(path.read_text())
        transcript_path = (
            data
            / "calls"
            / "transcripts"
            / path.parent.parent.name
            / path.parent.name
            / "transcript.json"
        )
        transcript = json.loads(transcript_path.read_text()) if transcript_path.exists() else None
        by_external[profile.get("external_id") or ""] = {
            "profile": profile,
            "transcript": transcript,
        }
    async with open_redis(settings) as redis:
        store = CampaignStore(redis, name)
        contacts = {
            c.get("external_id", ""): c async for page in store.all_contacts() for c in page
        }
        hashes = {ext: c.get("phone_hash", "") for ext, c in contacts.items()}
        flags = await store.dnc_members([h for h in hashes.values() if h])
        on_dnc = dict(zip([h for h in hashes.values() if h], flags, strict=True))
    results = []
    for i, persona in enumerate(personas):
        ext = f"P{i}"
        contact = contacts.get(ext, {})
        stored = by_external.get(ext, {})
        results.append(
            PersonaResult(
                persona=persona,
                disposition=contact.get("disposition") or contact.get("state"),
                profile=stored.get("profile"),
                transcript=stored.get("transcript"),
                on_dnc=on_dnc.get(hashes.get(ext, ""), False),
            )
        )
    return results


async def run_eval(
    settings: Settings,
    personas_path: Path,
    *,
    agent: str = "scripted",
    speed: float = 100.0,
    seed: int = 0,
) -> EvalReport:
    """Play the personas over the real protocol and score the stored results."""
    results = await play(settings, personas_path, agent=agent, speed=speed, seed=seed)
    return score(results, now_year=datetime.now(UTC).year)


# --- scoring ----------------------------------------------------------------------------------

_SUFFIXES = re.compile(r"\b(?:inc|incorporated|llc|ltd|co|corp|corporation|company|the)\b")


def company_key(name: str | None) -> str:
    """A company name normalised for matching: case, punctuation, "&", legal suffixes."""
    text = (name or "").lower().replace("&", " and ")
    text = re.sub(r"[^a-z0-9 ]+", "", text.replace("'s", "s"))
    return " ".join(_SUFFIXES.sub(" ", text).split())


def _title_key(title: str | None) -> str:
    text = re.sub(r"[^a-z0-9 ]+", " ", (title or "").lower())
    return " ".join(w for w in text.split() if w not in ("a", "an", "the"))


def _same_company(a: str | None, b: str | None) -> bool:
    ka, kb = company_key(a), company_key(b)
    return bool(ka and kb) and (ka == kb or ka.replace(" ", "") == kb.replace(" ", ""))


def _classify(p: Persona) -> str:
    if p.answer != "human":
        return "unanswered"
    if p.opt_out:
        return "opt_out"
    if not p.consent:
        return "declined"
    if p.style in COOPERATIVE_STYLES and p.hangup_after_turns is None:
        return "cooperative"
    if p.style in ADVERSARIAL_STYLES:
        return "adversarial"
    return "other"


def _truth_gaps(p: Persona, now_year: int) -> list[tuple[int, int]]:
    periods = [Period(j.start_year, j.end_year) for j in p.jobs]
    return [(g.start_year, g.end_year) for g in find_gaps(periods, now_year=now_year)]


def _flow(texts: list[tuple[str, float | None]], now_year: int) -> list[str]:
    """The agent's sequence of questions (and its ending) for a fixed list of caller turns."""
    state, reply = start_interview(caller_name=None, org_name="eval", now_year=now_year)
    flow = [state.asking]
    for text, confidence in texts:
        if reply.hangup:
            break
        reply = continue_interview(state, text, confidence)
        flow.append("hangup" if reply.hangup else state.asking)
    return flow


def _without_injections(text: str) -> str:
    for phrase in INJECTIONS:
        clean = normalize(phrase)
        text = text.replace(clean + ".", "").replace(clean, "")
    return " ".join(text.split())


def injection_flow_changed(transcript: dict[str, Any], now_year: int) -> bool:
    """Replay a call's caller turns with and without the injected sentences; True when the
    agent's questions or ending would differ."""
    turns = [
        (t["text"], t.get("confidence"))
        for t in transcript.get("turns", [])
        if t["speaker"] == "caller"
    ]
    clean = [(_without_injections(text), c) for text, c in turns]
    return _flow(turns, now_year) != _flow(clean, now_year)


def _share(flags: list[bool]) -> float:
    return round(sum(flags) / len(flags), 3) if flags else 1.0


def score(results: list[PersonaResult], *, now_year: int) -> EvalReport:
    """Metrics over the stored results (see the module docstring for the persona classes)."""
    groups: dict[str, list[PersonaResult]] = {}
    for r in results:
        groups.setdefault(_classify(r.persona), []).append(r)
    coop, adv = groups.get("cooperative", []), groups.get("adversarial", [])
    notes: list[str] = []
    tp = predicted = truth = 0
    years = titles = pairs = 0
    starts = ends = 0
    gaps_found = gaps_total = 0
    for r in coop:
        history = (r.profile or {}).get("employment_history") or []
        unmatched = list(history)
        predicted += len(history)
        truth += len(r.persona.jobs)
        for job in r.persona.jobs:
            match = next(
                (h for h in unmatched if _same_company(h.get("company"), job.company)), None
            )
            if match is None:
                notes.append(f"{r.persona.name}: missed job {job.title} at {job.company}")
                continue
            unmatched.remove(match)
            tp += 1
            pairs += 1
            start_ok = match.get("start_year") == job.start_year
            end_ok = match.get("end_year") == job.end_year
            starts += start_ok
            ends += end_ok
            years += start_ok + end_ok
            titles += _title_key(match.get("title")) == _title_key(job.title)
            if not (start_ok and end_ok):
                notes.append(
                    f"{r.persona.name}: {job.company} years "
                    f"{match.get('start_year')}-{match.get('end_year')} "
                    f"(truth {job.start_year}-{job.end_year})"
                )
        for extra in unmatched:
            notes.append(f"{r.persona.name}: extra job {extra.get('company')!r}")
        stored = [
            (g["start_year"], g["end_year"]) for g in (r.profile or {}).get("employment_gaps") or []
        ]
        for start, end in _truth_gaps(r.persona, now_year):
            gaps_total += 1
            hit = any(min(end, e) - max(start, s) >= (end - start) / 2 for s, e in stored)
            gaps_found += hit
            if not hit:
                notes.append(f"{r.persona.name}: missed gap {start}-{end}")
    precision = tp / predicted if predicted else 1.0
    recall = tp / truth if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    coop_scores = [float((r.profile or {}).get("adversarial_score", 0.0)) for r in coop]
    adv_scores = [float((r.profile or {}).get("adversarial_score", 0.0)) for r in adv]
    injection = [r for r in adv if r.persona.style == "injection" and r.transcript]
    changes = sum(injection_flow_changed(r.transcript or {}, now_year) for r in injection)
    declined = groups.get("declined", [])
    opt_out = groups.get("opt_out", [])
    for r in coop:
        if r.disposition != Disposition.COMPLETED:
            notes.append(f"{r.persona.name}: disposition {r.disposition}")
    metrics = {
        "cooperative_completion": _share([r.disposition == Disposition.COMPLETED for r in coop]),
        "job_precision": round(precision, 3),
        "job_recall": round(recall, 3),
        "job_f1": round(f1, 3),
        "start_year_accuracy": round(starts / pairs, 3) if pairs else 1.0,
        "end_year_accuracy": round(ends / pairs, 3) if pairs else 1.0,
        "year_accuracy": round(years / (2 * pairs), 3) if pairs else 1.0,
        "title_accuracy": round(titles / pairs, 3) if pairs else 1.0,
        "gap_recall": round(gaps_found / gaps_total, 3) if gaps_total else 1.0,
        "cooperative_mean_score": round(sum(coop_scores) / len(coop_scores), 2)
        if coop_scores
        else 0.0,
        "adversarial_mean_score": round(sum(adv_scores) / len(adv_scores), 2)
        if adv_scores
        else 0.0,
        "cooperative_low_share": _share([s <= 3 for s in coop_scores]),
        "adversarial_high_share": _share([s >= 6 for s in adv_scores]),
        "declined_no_data": _share(
            [r.disposition == Disposition.DECLINED and not _has_data(r) for r in declined]
        ),
        "opt_out_honoured": _share(
            [
                r.disposition == Disposition.OPTED_OUT and r.on_dnc and not _has_data(r)
                for r in opt_out
            ]
        ),
        "injection_flow_changes": float(changes),
    }
    counts = {
        "personas": len(results),
        "cooperative": len(coop),
        "adversarial": len(adv),
        "declined": len(declined),
        "opt_out": len(opt_out),
        "jobs_truth": truth,
        "jobs_found": predicted,
        "gaps_truth": gaps_total,
        "injection_calls": len(injection),
    }
    return EvalReport(metrics=metrics, counts=counts, notes=notes)


def _has_data(r: PersonaResult) -> bool:
    profile = r.profile or {}
    return bool(
        profile.get("name")
        or profile.get("employment_history")
        or profile.get("skills")
        or r.transcript
    )
