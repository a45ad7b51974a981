"""Where personas come from: the personas JSON Lines file, and generation from a seed for a
number that has none.

The models themselves are in `persona_model`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from pydantic import ValidationError

from voicedial.emulator.persona_model import Answer, Gap, Job, Persona, Style
from voicedial.errors import InputFileError

__all__ = ["generate_persona", "load_personas"]


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

# The order matters: generation draws from these with fixed weights, per seed and phone.
_ANSWERS: list[Answer] = ["human", "machine", "busy", "no-answer", "failed"]
_STYLES: list[Style] = [
    "cooperative",
    "terse",
    "evasive",
    "hostile",
    "prankster",
    "injection",
    "silent",
]
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
    answer = rng.choices(_ANSWERS, weights=[76, 8, 6, 8, 2])[0]
    style = rng.choices(_STYLES, weights=[74, 12, 7, 2, 2, 2, 1])[0]
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
