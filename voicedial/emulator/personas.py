"""The emulator's callers: the persona model, its JSON Lines file and generation from a seed.

The caller "brain" that plays a persona through a call lives in `brain` (and how it phrases
things in `phrasing`); its names are re-exported here for existing imports.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from voicedial.emulator.brain import CallerBrain, CallerReply, asked_field, classify
from voicedial.emulator.phrasing import INJECTIONS, spoken_year
from voicedial.errors import InputFileError

__all__ = [
    "INJECTIONS",
    "CallerBrain",
    "CallerReply",
    "Gap",
    "Job",
    "Persona",
    "asked_field",
    "classify",
    "generate_persona",
    "load_personas",
    "spoken_year",
]

Answer = Literal["human", "machine", "busy", "no-answer", "failed"]
Style = Literal["cooperative", "terse", "evasive", "hostile", "prankster", "injection", "silent"]


class Job(BaseModel):
    """One job in a persona's history; `end_year` is None for the current job."""

    model_config = ConfigDict(extra="forbid")

    title: str
    company: str
    start_year: int
    end_year: int | None = None


class Gap(BaseModel):
    """A stretch without work, with the persona's explanation for it."""

    model_config = ConfigDict(extra="forbid")

    start_year: int
    end_year: int
    explanation: str


class Persona(BaseModel):
    """One emulated callee (SPEC section 7)."""

    model_config = ConfigDict(extra="forbid")

    phone: str
    answer: Answer = "human"
    consent: bool = True
    name: str = "Alex Morgan"
    jobs: list[Job] = Field(default_factory=list)
    gaps: list[Gap] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    style: Style = "cooperative"
    hangup_after_turns: int | None = Field(default=None, ge=0)
    opt_out: bool = False

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str) -> str:
        try:
            number = phonenumbers.parse(value, "US")
        except phonenumbers.NumberParseException as exc:
            raise ValueError(f"not a phone number: {value!r}") from exc
        if not phonenumbers.is_valid_number(number):
            raise ValueError(f"not a valid phone number: {value!r}")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def jobs_newest_first(self) -> list[Job]:
        """Jobs ordered current first, then by end and start year, newest first."""
        return sorted(self.jobs, key=lambda j: (j.end_year or 10_000, j.start_year), reverse=True)


def load_personas(path: str | Path) -> dict[str, Persona]:
    """Read a personas JSON Lines file into a dict keyed by E.164 phone number.

    Raises `InputFileError` with a one-line ``file:line: reason`` on anything unusable.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot read personas file: {exc}") from exc
    personas: dict[str, Persona] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            persona = Persona.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InputFileError(f"{path}:{lineno}: invalid JSON: {exc.msg}") from exc
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(part) for part in err["loc"]) or "persona"
            raise InputFileError(f"{path}:{lineno}: {where}: {err['msg']}") from exc
        if persona.phone in personas:
            raise InputFileError(f"{path}:{lineno}: duplicate phone {persona.phone}")
        personas[persona.phone] = persona
    return personas


# --- generation --------------------------------------------------------------------------

_FIRST = [
    "Maria",
    "James",
    "Aisha",
    "Wei",
    "Carlos",
    "Priya",
    "Tom",
    "Fatima",
    "Luke",
    "Grace",
    "Diego",
    "Hannah",
    "Omar",
    "Sofia",
    "Ben",
    "Keiko",
    "Andre",
    "Nina",
    "Sam",
    "Rosa",
]
_LAST = [
    "Garcia",
    "Smith",
    "Okafor",
    "Chen",
    "Lopez",
    "Patel",
    "Brown",
    "Haddad",
    "Miller",
    "Kim",
    "Novak",
    "Rivera",
    "Johnson",
    "Tanaka",
    "Dubois",
    "Ali",
    "Walsh",
    "Santos",
]
_ROLES = [
    ("Registered Nurse", ["Mercy General Hospital", "Bayview Clinic", "St. Anne's"]),
    ("Forklift Operator", ["Acme Logistics", "Northside Warehousing", "FastFreight"]),
    ("Line Cook", ["Blue Plate Diner", "Harbor Grill", "Olive & Thyme"]),
    ("Electrician", ["BrightSpark Electric", "City Power Services", "Volt Bros"]),
    ("Truck Driver", ["Interstate Haulers", "Red Rock Transport", "Pine Freight"]),
    ("Retail Supervisor", ["ShopMart", "Corner Goods", "Main Street Outfitters"]),
    ("Software Developer", ["Initech", "Pixel Forge", "Cloudberry Labs"]),
    ("Welder", ["Steelworks Inc", "Ironclad Fabrication", "Delta Metal"]),
    ("Home Health Aide", ["CareFirst Home Health", "Golden Years Care", "HelpAtHome"]),
    ("Accountant", ["Baker & Hill CPAs", "Ledger Partners", "Summit Finance"]),
]
_SKILLS = [
    "forklift certification",
    "CPR and first aid",
    "Spanish",
    "Excel",
    "welding",
    "OSHA 30",
    "commercial driver's licence",
    "customer service",
    "Python",
    "inventory management",
    "food safety certificate",
    "electrical licence",
    "bookkeeping",
]
_GAP_REASONS = [
    "I was taking care of my mother",
    "I went back to school",
    "I had a baby and stayed home",
    "I was laid off and looking for work",
    "I was recovering from surgery",
    "I moved across the country",
]


def generate_persona(phone: str, seed: int = 0) -> Persona:
    """A deterministic persona for a number that has none: mostly cooperative humans."""
    rng = random.Random(f"persona|{seed}|{phone}")
    answer: Answer = rng.choices(
        ["human", "machine", "busy", "no-answer", "failed"], weights=[76, 8, 6, 8, 2]
    )[0]
    style: Style = rng.choices(
        ["cooperative", "terse", "evasive", "hostile", "prankster", "injection", "silent"],
        weights=[74, 12, 7, 2, 2, 2, 1],
    )[0]
    year = rng.randint(2014, 2023)
    jobs: list[Job] = []
    gaps: list[Gap] = []
    for index in range(rng.randint(1, 3)):
        title, companies = rng.choice(_ROLES)
        end = None if index == 0 else year
        start = max(1995, year - rng.randint(1, 7))
        jobs.append(Job(title=title, company=rng.choice(companies), start_year=start, end_year=end))
        if index < 2 and rng.random() < 0.3:
            gap_start = start - rng.randint(1, 2)
            gaps.append(
                Gap(start_year=gap_start, end_year=start, explanation=rng.choice(_GAP_REASONS))
            )
            start = gap_start
        year = start
    return Persona(
        phone=phone,
        answer=answer,
        consent=rng.random() > 0.05,
        name=f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
        jobs=jobs,
        gaps=gaps,
        skills=rng.sample(_SKILLS, rng.randint(1, 3)),
        style=style,
        hangup_after_turns=None,
        opt_out=rng.random() < 0.02,
    )
