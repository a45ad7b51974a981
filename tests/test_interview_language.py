"""A language is one module: a second one registered from a test runs a whole interview."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from tests.interview_rig import NOW, drive
from voicedial.errors import ConfigError
from voicedial.interview import (
    InterviewState,
    Language,
    continue_interview,
    get_language,
    register_language,
    start_interview,
)
from voicedial.interview.english import ENGLISH

# --- a second language ---------------------------------------------------------------------


def _pirate_yes_no(text: str) -> bool | None:
    words = text.lower().split()
    if "aye" in words:
        return True
    if "nay" in words:
        return False
    return ENGLISH.understanding.parse_yes_no(text)


def _pirate_question(state: InterviewState, variant: int) -> str:
    if state.asking == "name":
        return "What be yer name?"
    return ENGLISH.phrases.question(state, variant)


# A second language as a whole module would define it: English with a few of its own words.
PIRATE = Language(
    code="x-pirate",
    phrases=replace(
        ENGLISH.phrases,
        opening=lambda caller, org: f"Ahoy! A machine o' {org} hails ye. Will ye parley?",
        question=_pirate_question,
        consent_given="Thank ye. ",
        name_heard=lambda name: f"Thank ye, {name.split()[0]}. ",
        stopped_end="Fair winds. Goodbye.",
    ),
    understanding=replace(ENGLISH.understanding, parse_yes_no=_pirate_yes_no),
    signals=replace(ENGLISH.signals, hostility=re.compile(r"\bscallywag\b", re.I)),
    restatements=ENGLISH.restatements,
)


def test_a_registered_language_speaks_and_understands_the_interview() -> None:
    register_language(PIRATE)
    call = drive(["aye", "Anne Bonny, ye scallywag", "I have to go"], language="x-pirate")
    assert call.said == [
        "Ahoy! A machine o' Acme Staffing hails ye. Will ye parley?",
        "Thank ye. What be yer name?",
        "Thank ye, Anne. What is your current job? Please tell me your job title and the "
        "company you work for.",
        "Fair winds. Goodbye.",
    ]
    assert call.state.language == "x-pirate"
    assert call.profile["name"] == "Anne Bonny"
    assert call.profile["adversarial_signals"] == ["hostility"]
    # The same words in English: "aye" is no answer, so consent is asked again.
    assert "yes or no" in drive(["aye"]).said[-1]


def test_languages_are_checked_and_old_states_are_english() -> None:
    with pytest.raises(ConfigError, match="x-klingon"):
        start_interview(caller_name=None, org_name="Acme", now_year=NOW, language="x-klingon")
    register_language(PIRATE)
    with pytest.raises(ValueError, match="already registered"):
        register_language(replace(PIRATE, phrases=ENGLISH.phrases))
    assert get_language("en") is ENGLISH
    state, _ = start_interview(caller_name=None, org_name="Acme", now_year=NOW)
    saved = json.loads(state.model_dump_json())
    del saved["language"]  # as stored before interviews had a language
    old = InterviewState.model_validate(saved)
    assert old.language == "en"
    assert continue_interview(old, "yes", 0.9).say.startswith("Thank you. ")
