"""The caller "brain": it plays one persona through a call, answering what the agent says.

What the agent asks is understood by `hearing` (intent, and which field of a job); the brain
decides which job is meant (named in the question, else the one being talked about, else the
current one) and what to answer. Cooperative callers vary how they say things (see
`phrasing`): years in several spoken forms, companies with and without "at"/"for", fillers,
self-corrections, one-word answers.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from voicedial.emulator.hearing import NOW_HINTS, asked_field, classify, last_question
from voicedial.emulator.persona_model import Job, Persona
from voicedial.emulator.phrasing import (
    FILLERS,
    INJECTIONS,
    job_sentence,
    spoken_year,
    with_article,
)

__all__ = ["CallerBrain", "CallerReply"]

_YEAR = re.compile(r"\b(19|20)\d\d\b")


@dataclass(frozen=True)
class CallerReply:
    """What the caller does at a Gather: speak, press digits, stay silent, or hang up."""

    speech: str | None = None
    digits: str | None = None
    confidence: float = 0.0
    hangup: bool = False


class CallerBrain:
    """Plays one persona through a call: one `reply()` per Gather, deterministic per
    (seed, phone, turn)."""

    def __init__(self, persona: Persona, *, seed: int = 0) -> None:
        self.persona = persona
        self.seed = seed
        self.turns = 0
        self._jobs = persona.jobs_newest_first()
        self._topic: Job | None = None  # the job being talked about
        self._corrections = 0

    def voicemail_greeting(self) -> str:
        """What an answering machine plays."""
        first = self.persona.name.split()[0]
        return f"Hi, you've reached {first}. I can't come to the phone, leave a message."

    def reply(self, heard: str, *, speech: bool = True, dtmf: bool = False) -> CallerReply:
        """Answer the text heard since the previous answer."""
        p = self.persona
        if p.answer != "human" or p.style == "silent":
            return CallerReply()
        if p.hangup_after_turns is not None and self.turns >= p.hangup_after_turns:
            return CallerReply(hangup=True)
        rng = random.Random(f"reply|{self.seed}|{p.phone}|{self.turns}")
        self.turns += 1
        intent = classify(heard)
        if not speech and dtmf:
            return CallerReply(digits=self._digits(heard, intent))
        text = self._speech(rng, intent, heard)
        confidence = rng.uniform(0.55, 0.8) if p.style == "prankster" else rng.uniform(0.82, 0.98)
        return CallerReply(speech=text, confidence=round(confidence, 4))

    def _digits(self, heard: str, intent: str) -> str:
        options: list[str] = re.findall(r"press (\d)", heard.lower())
        yes = not (intent == "consent" and (not self.persona.consent or self.persona.opt_out))
        if options:
            return options[0] if yes or len(options) == 1 else options[1]
        return "1" if yes else "2"

    def _speech(self, rng: random.Random, intent: str, heard: str) -> str:
        p = self.persona
        if p.opt_out:
            return rng.choice(
                [
                    "Please don't call me again, take me off your list.",
                    "No. Take me off your list and don't call me again.",
                    "Stop calling me. Put me on your do not call list.",
                ]
            )
        if intent == "consent":
            return self._consent(rng)
        if intent == "goodbye":
            return rng.choice(["No, that's everything. Bye.", "Nope, bye now.", "Thanks, bye."])
        style = p.style
        if style == "hostile":
            return rng.choice(
                [
                    "None of your damn business.",
                    "Why the hell do you want to know?",
                    "Screw off, I'm not telling you that.",
                    "This is bullshit. I'm not answering that.",
                ]
            )
        if style == "evasive":
            return rng.choice(
                [
                    "I'd rather not say.",
                    "Oh, this and that, you know.",
                    "It's complicated. Here and there.",
                    "I don't really want to get into that.",
                    "Hard to say, really.",
                ]
            )
        if style == "prankster":
            return self._prank(rng, intent)
        terse = style == "terse"
        answer = self._answer(rng, intent, heard, terse=terse)
        if not terse and intent != "confirm" and rng.random() < 0.3:
            answer = (
                rng.choice(FILLERS) + answer[:1].lower() + answer[1:]
                if not answer.startswith(("I ", "I'"))
                else rng.choice(FILLERS) + answer
            )
        if style == "injection" and (self.turns % 2 == 1 or intent == "confirm"):
            answer = f"{answer} {rng.choice(INJECTIONS)}"
        return answer

    def _consent(self, rng: random.Random) -> str:
        if not self.persona.consent:
            return rng.choice(
                [
                    "No, I don't want to do this.",
                    "No thanks, I'm not interested.",
                    "No, I do not consent.",
                ]
            )
        if self.persona.style == "terse":
            return rng.choice(["Yes.", "Sure.", "Okay."])
        if self.persona.style == "hostile":
            return rng.choice(["Yeah, whatever, fine.", "Fine. Make it quick, damn it."])
        return rng.choice(
            [
                "Yes, that's fine.",
                "Sure, go ahead.",
                "Okay, yes, I agree.",
                "Yeah, that's okay with me.",
            ]
        )

    def _prank(self, rng: random.Random, intent: str) -> str:
        if intent == "name":
            return rng.choice(["Batman.", "Queen Elizabeth the Fifth.", "Mickey Mouse."])
        if intent == "skills":
            return rng.choice(
                [
                    "I can breathe underwater and speak fluent dolphin.",
                    "Time travel, mostly. Licensed by the galactic council.",
                ]
            )
        return rng.choice(
            [
                "I'm an astronaut at NASA, since 1850.",
                "I was the king of France from 1700 to 1990.",
                "Professional unicorn wrangler at Hogwarts since 1492.",
                "I'm the CEO of the Moon. Started in 3021.",
            ]
        )

    # -- cooperative and terse answers ---------------------------------------------------
    def _answer(self, rng: random.Random, intent: str, heard: str, *, terse: bool) -> str:
        p = self.persona
        question = last_question(heard)
        if intent == "name":
            first = p.name.split()[0]
            return (
                p.name + "."
                if terse
                else rng.choice(
                    [
                        f"My name is {p.name}.",
                        f"It's {p.name}.",
                        f"{p.name}. You can call me {first}.",
                        f"This is {p.name}.",
                    ]
                )
            )
        if intent == "current":
            return self._job_answer(rng, question, terse=terse)
        if intent == "previous":
            return self._previous(rng, question, terse=terse)
        if intent == "gap":
            return self._gap(rng, question, terse)
        if intent == "skills":
            if not p.skills:
                return (
                    "None."
                    if terse
                    else rng.choice(["Nothing special, really.", "No, not really."])
                )
            if terse:
                return p.skills[0][:1].upper() + p.skills[0][1:] + "."
            listed = (
                ", ".join(p.skills[:-1]) + (" and " if len(p.skills) > 1 else "") + p.skills[-1]
            )
            return rng.choice(
                [
                    f"I have {listed}.",
                    f"Let's see, {listed}.",
                    f"Skills-wise: {listed}.",
                    f"Yes, {listed}.",
                ]
            )
        if intent == "confirm":
            return self._confirm(rng, heard, terse=terse)
        return "Okay." if terse else rng.choice(["Okay.", "Sure.", "Uh-huh, go on."])

    def _current(self) -> Job | None:
        return self._jobs[0] if self._jobs and self._jobs[0].end_year is None else None

    def _named_job(self, question: str) -> Job | None:
        """The job a question names by company (else by title, the longest match)."""
        for job in self._jobs:
            if job.company.lower() in question:
                return job
        titled = [j for j in self._jobs if j.title.lower() in question]
        return max(titled, key=lambda j: len(j.title)) if titled else None

    def _job_answer(self, rng: random.Random, question: str, *, terse: bool) -> str:
        job = self._named_job(question)
        if job is None:
            job = (
                self._current()
                if NOW_HINTS.search(question) or self._topic is None
                else self._topic
            )
        if job is None:
            return (
                "Nothing."
                if terse
                else rng.choice(
                    [
                        "I'm not working at the moment.",
                        "I'm between jobs right now.",
                        "I don't have a job right now, I'm out of work.",
                    ]
                )
            )
        self._topic = job
        field = asked_field(question)
        if field == "start":
            return self._year_answer(rng, job.start_year, "start", terse=terse)
        if field == "end":
            if job.end_year is None:
                return "I still work there." if terse else "I haven't left, I still work there."
            return self._year_answer(rng, job.end_year, "end", terse=terse)
        if terse:
            if field == "company":
                return f"{job.company}."
            if field == "title":
                return f"{job.title}."
            return f"{job.title}, {job.company}."
        if field == "company":
            return rng.choice(
                [
                    f"{job.company}.",
                    f"It's {job.company}.",
                    f"I work for {job.company}."
                    if job.end_year is None
                    else f"That was {job.company}.",
                ]
            )
        if field == "title" and rng.random() < 0.5:
            return rng.choice(
                [
                    f"I'm {with_article(job.title)}."
                    if job.end_year is None
                    else f"I was {with_article(job.title)}.",
                    f"{job.title}.",
                ]
            )
        return job_sentence(rng, job, current=job.end_year is None)

    def _year_answer(self, rng: random.Random, year: int, which: str, *, terse: bool) -> str:
        said = spoken_year(year, rng)
        if terse:
            return f"{said}."
        if which == "start" and rng.random() < 0.2:
            wrong = spoken_year(year - 1, rng)
            return rng.choice(
                [f"I started in {wrong}, no wait, {said}.", f"{wrong}. Sorry, I mean {said}."]
            )
        if which == "start":
            return rng.choice(
                [
                    f"I started in {said}.",
                    f"{said}.",
                    f"Since {said}.",
                    f"Around {said}, I think it was {said}.",
                    f"In {said}.",
                ]
            )
        return rng.choice(
            [
                f"I left in {said}.",
                f"{said}.",
                f"Until {said}.",
                f"I think it was {said}.",
                f"In {said}.",
            ]
        )

    def _previous(self, rng: random.Random, question: str, *, terse: bool) -> str:
        base = self._named_job(question) or self._topic or self._current()
        index = self._jobs.index(base) + 1 if base is not None else 0
        past = [j for j in self._jobs[index:] if j.end_year is not None]
        if not past:
            return (
                "No."
                if terse
                else rng.choice(
                    [
                        "No, that was it. Nothing before that.",
                        "That's all, no other jobs.",
                        "No, that was my first job.",
                        "Nope, nothing else.",
                    ]
                )
            )
        job = past[0]
        self._topic = job
        if terse:
            return rng.choice([f"{job.title}, {job.company}.", f"Yes. {job.title}, {job.company}."])
        return job_sentence(rng, job, current=False)

    def _gap(self, rng: random.Random, question: str, terse: bool) -> str:
        years = sorted(int(m.group(0)) for m in _YEAR.finditer(question))
        low, high = (years[0], years[-1]) if years else (0, 10_000)
        gap = next((g for g in self.persona.gaps if g.start_year < high and low < g.end_year), None)
        if gap is None:
            worked = next(
                (j for j in self._jobs if j.start_year < high and low < (j.end_year or 10_000)),
                None,
            )
            if worked is not None:
                self._topic = worked
                return job_sentence(rng, worked, current=worked.end_year is None)
            return "I don't remember." if terse else "Honestly, I don't remember."
        if terse:
            return " ".join(gap.explanation.split()[-3:]).capitalize() + "."
        reason = gap.explanation[:1].lower() + gap.explanation[1:]
        return rng.choice(
            [
                f"From {gap.start_year} to {gap.end_year} {reason}.",
                f"Oh, that. {gap.explanation[:1].upper()}{gap.explanation[1:]}.",
                f"{gap.explanation[:1].upper()}{gap.explanation[1:]}, between "
                f"{gap.start_year} and {gap.end_year}.",
                f"Well, {reason}.",
            ]
        )

    def _confirm(self, rng: random.Random, heard: str, *, terse: bool) -> str:
        """Check a read-back against the truth; correct one mistake, else confirm."""
        if self._corrections < 3 and (fix := self._mistake(heard)):
            self._corrections += 1
            return fix
        return (
            "Yes."
            if terse
            else rng.choice(["Yes, that's right.", "Yep, correct.", "That's correct."])
        )

    def _mistake(self, heard: str) -> str | None:
        text = heard.lower()
        if (m := re.search(r"your name is ([^.]+)\.", text)) and m[
            1
        ].strip() != self.persona.name.lower():
            return f"No, my name is {self.persona.name}."
        for job in self._jobs:
            at = text.find(job.company.lower())
            if at < 0:
                continue
            segment = re.split(r"[;.]", text[at:], maxsplit=1)[0]
            heard_years = [int(y) for y in re.findall(r"\b(?:19|20)\d\d\b", segment)]
            if heard_years and heard_years[0] != job.start_year:
                return f"No, I started at {job.company} in {job.start_year}."
            if len(heard_years) > 1 and job.end_year and heard_years[1] != job.end_year:
                return f"No, I left {job.company} in {job.end_year}."
        return None
