"""Personas: the JSON Lines file, generation from a seed, and the caller brain."""

from __future__ import annotations

from pathlib import Path

import phonenumbers
import pytest

from voicedial.emulator import CallerBrain, Gap, Job, Persona, generate_persona, load_personas
from voicedial.emulator.hearing import classify
from voicedial.errors import InputFileError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "personas.jsonl"

NURSE = Persona(
    phone="+12015550123",
    name="Maria Garcia",
    style="cooperative",
    jobs=[
        Job(title="Registered Nurse", company="Mercy General", start_year=2019),
        Job(title="Home Health Aide", company="CareFirst", start_year=2012, end_year=2016),
    ],
    gaps=[Gap(start_year=2016, end_year=2019, explanation="I went back to school")],
    skills=["CPR", "Spanish"],
)


def test_example_file_has_every_style_and_fictional_numbers() -> None:
    personas = load_personas(EXAMPLES)
    assert len(personas) >= 9
    styles = {p.style for p in personas.values()}
    assert styles >= {
        "cooperative",
        "terse",
        "evasive",
        "hostile",
        "prankster",
        "injection",
        "silent",
    }
    answers = {p.answer for p in personas.values()}
    assert {"machine", "busy", "no-answer"} <= answers
    assert any(not p.consent for p in personas.values())
    assert any(p.opt_out for p in personas.values())
    for phone in personas:
        number = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(number)
        assert phone[5:9] == "5550" and 100 <= int(phone[-4:]) <= 199  # 555-01XX


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "invalid JSON"),
        ('{"phone": "+12015550123", "style": "chatty"}', "style"),
        ('{"phone": "12", "style": "terse"}', "phone"),
        ('{"phone": "+12015550123", "shoe_size": 9}', "shoe_size"),
    ],
)
def test_bad_personas_file_names_file_and_line(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "personas.jsonl"
    path.write_text('{"phone": "+13125550142"}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InputFileError) as info:
        load_personas(path)
    message = str(info.value)
    assert f"{path}:3:" in message and reason in message and "\n" not in message


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError):
        load_personas(tmp_path / "nope.jsonl")


def test_generated_personas_are_deterministic_and_mostly_cooperative_humans() -> None:
    phones = [f"+1201555{n:04d}" for n in range(100, 200)]
    first = [generate_persona(p, seed=3) for p in phones]
    assert first == [generate_persona(p, seed=3) for p in phones]
    assert first != [generate_persona(p, seed=4) for p in phones]
    humans = [p for p in first if p.answer == "human"]
    assert len(humans) > 60
    assert sum(p.style == "cooperative" for p in first) > 50
    assert all(1 <= len(p.jobs) <= 3 for p in first)
    assert all(p.jobs_newest_first()[0].end_year is None for p in first)


@pytest.mark.parametrize(
    "question",
    [
        "What do you do for work these days?",
        "Who is your current employer?",
        "Could you tell me your job title and where you work?",
        "So, what's your occupation right now?",
    ],
)
def test_current_job_questions_in_any_wording(question: str) -> None:
    answer = CallerBrain(NURSE, seed=1).reply(question).speech or ""
    assert "Mercy General" in answer or "Registered Nurse" in answer.title()


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("This call may be recorded. Do we have your permission to continue?", "consent"),
        ("Is it okay if I ask a few questions?", "consent"),
        ("What should I call you?", "name"),
        ("And before that, where did you work?", "previous"),
        ("What was your previous position?", "previous"),
        ("I noticed nothing between 2016 and 2019. What were you doing?", "gap"),
        ("Do you hold any licences or certifications?", "skills"),
        ("You're a nurse at Mercy General since 2019, is that correct?", "confirm"),
        ("That's all I have. Thank you for your time, goodbye!", "goodbye"),
    ],
)
def test_intents_are_understood_not_matched_verbatim(question: str, intent: str) -> None:
    assert classify(question) == intent


def test_cooperative_walks_through_history() -> None:
    brain = CallerBrain(NURSE, seed=2)
    assert "CareFirst" in (brain.reply("What do you do now? And before that?").speech or "")
    gap = brain.reply("There's a gap between 2016 and 2019, what were you doing?").speech or ""
    assert "school" in gap
    skills = brain.reply("Any special skills?").speech or ""
    assert "CPR" in skills and "Spanish" in skills


def test_replies_are_deterministic_per_seed_phone_and_turn() -> None:
    questions = ["Is it okay to record?", "What do you do?", "Before that?", "Skills?"]

    def run(seed: int) -> list[str | None]:
        brain = CallerBrain(NURSE, seed=seed)
        return [brain.reply(q).speech for q in questions]

    assert run(1) == run(1)
    assert any(run(1) != run(s) for s in range(2, 6))


def test_styles() -> None:
    consent_q = "This call is recorded, do you consent?"
    job_q = "What is your current job?"

    def say(persona: Persona, *questions: str) -> list[str]:
        brain = CallerBrain(persona, seed=0)
        return [brain.reply(q).speech or "" for q in questions]

    terse = say(NURSE.model_copy(update={"style": "terse"}), consent_q, job_q)
    assert all(len(a.split()) <= 2 for a in terse)
    hostile = say(NURSE.model_copy(update={"style": "hostile"}), job_q, job_q, job_q)
    assert all("Mercy" not in a for a in hostile)
    prank = say(NURSE.model_copy(update={"style": "prankster"}), job_q)[0]
    assert "Mercy" not in prank
    injection = say(NURSE.model_copy(update={"style": "injection"}), job_q, job_q)
    markers = ("ignore", "disregard", "system:")
    assert any(m in a.lower() for a in injection for m in markers)
    declines = say(NURSE.model_copy(update={"consent": False}), consent_q)[0]
    assert declines.lower().startswith("no")
    opt_out = say(NURSE.model_copy(update={"opt_out": True}), consent_q)[0]
    assert "call" in opt_out.lower() and "list" in opt_out.lower()
    assert CallerBrain(NURSE.model_copy(update={"style": "silent"})).reply(job_q).speech is None


def test_hangup_after_turns() -> None:
    brain = CallerBrain(NURSE.model_copy(update={"hangup_after_turns": 2}), seed=0)
    assert [brain.reply("What do you do?").hangup for _ in range(3)] == [False, False, True]
