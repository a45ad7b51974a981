"""A job title and company from an answer, in the many ways people say them."""

from __future__ import annotations

import re

from voicedial.interview.english.intents import is_dont_know, is_no_more, parse_yes_no
from voicedial.interview.english.spoken import normalize
from voicedial.interview.english.years import mark_years, parse_years
from voicedial.interview.heard import JobMention

__all__ = ["parse_job"]


_ARTICLE = r"(?:a|an|the)\s+"
_TITLE_WORDS = re.compile(
    r"\b(?:nurse|driver|welder|manager|engineer|technician|tech|clerk|cashier|teacher|"
    r"assistant|operator|mechanic|electrician|plumber|carpenter|labou?rer|cook|chef|server|"
    r"waiter|waitress|bartender|janitor|custodian|supervisor|analyst|developer|programmer|"
    r"accountant|representative|rep|agent|associate|specialist|coordinator|director|officer|"
    r"guard|aide|caregiver|nanny|painter|installer|receptionist|secretary|administrator|"
    r"consultant|designer|sales\w*|handler|picker|packer|loader|stocker|foreman|worker|hand|"
    r"attendant|pharmacist|doctor|dentist|therapist|paramedic|emt|firefighter|farmer|"
    r"machinist|roofer|landscaper|housekeeper|dishwasher|barista|butcher|baker|tailor|"
    r"hairdresser|barber|stylist|librarian|lawyer|paralegal|banker|teller|auditor|recruiter|"
    r"dispatcher|courier|trucker|mover|builder|framer|inspector|estimator|planner|scheduler|"
    r"lead|owner|president|ceo|founder|astronaut|pilot|soldier|sergeant|cleaner|maid|"
    r"bookkeeper|surveyor|drafter|architect|scientist|researcher|professor|instructor|tutor|"
    r"coach|trainer|pastor|minister|writer|editor|reporter|photographer|artist|musician|"
    r"electrical|maintenance|warehouse|construction|delivery|security|customer service)\b",
    re.I,
)
_COMPANY_WORDS = re.compile(
    r"\b(?:inc|corp|corporation|co|company|llc|ltd|limited|group|hospital|clinic|store|"
    r"stores|bank|services|solutions|industries|university|college|school|county|city|"
    r"department|district|center|centre|foods|logistics|motors|systems|partners|associates|"
    r"international|market|restaurant|hotel|farms?|factory|plant|mart)\b|'s\b|&",
    re.I,
)
_AGENT = {
    "drive": "driver",
    "teach": "teacher",
    "manage": "manager",
    "clean": "cleaner",
    "cook": "cook",
    "build": "builder",
    "repair": "repairer",
    "fix": "mechanic",
    "deliver": "delivery driver",
    "sell": "salesperson",
    "write": "writer",
    "program": "programmer",
    "develop": "developer",
    "design": "designer",
    "install": "installer",
    "paint": "painter",
    "weld": "welder",
    "run": "manager",
    "nurse": "nurse",
    "wait": "server",
    "bartend": "bartender",
    "guard": "guard",
    "stock": "stocker",
    "pack": "packer",
    "load": "loader",
    "operate": "operator",
    "supervise": "supervisor",
    "fly": "pilot",
    "farm": "farmer",
    "tend": "tender",
}
_VERB_FORMS = "|".join(
    sorted(
        {
            f"{v}s?|{v}d|{v}ed|{v}ing" if not v.endswith("e") else f"{v}s?|{v}d|{v[:-1]}ing"
            for v in _AGENT
        },
        key=len,
        reverse=True,
    )
)
_CUT = re.compile(
    r"\s+(?:since|from|until|till|between|starting|for (?:about |around |almost |over )?"
    r"(?:\d+|a|an|the last|a few|a couple|many|several) (?:years?|months?)|in <Y|<Y|and i|"
    r"but|where|which|doing|as (?:a|an|the)\b|for|at|with|about|around|now|currently|"
    r"these days|right now|ever since|back in|over|there)\b.*$|\s*[,;.].*$",
    re.I,
)


def _clean_fragment(fragment: str) -> str | None:
    fragment = _CUT.sub("", fragment)
    fragment = re.sub(r"<Y:\d+>.*$", "", fragment).strip(" ,.;'\"")
    fragment = re.sub(rf"^{_ARTICLE}", "", fragment, flags=re.I).strip()
    if not fragment or len(fragment.split()) > 6:
        return None
    return fragment


def _company(fragment: str | None) -> str | None:
    if fragment is None:
        return None
    fragment = re.sub(r"^(?:a company called|a place called|called)\s+", "", fragment, flags=re.I)
    if fragment.lower() in ("myself", "me", "my own", "my own business", "my own company"):
        return "self-employed"
    return fragment.title() if fragment.islower() else fragment


def _title(fragment: str | None) -> str | None:
    if fragment is None:
        return None
    fragment = re.sub(r"^(?:working |work )?as\s+(?:a |an )?", "", fragment, flags=re.I)
    if match := re.fullmatch(r"(\w+ing)\b\s*(.*)", fragment, re.I):
        word = match[1].lower()
        for stem in (word[:-3], word[:-3] + "e", word[:-4]):
            if stem in _AGENT:
                return _verb_title(stem, match[2])
    return fragment.lower() or None


def _singular(noun: str) -> str:
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    if noun.endswith(("ses", "xes", "ches", "shes")):
        return noun[:-2]
    return noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun


_JOB_PATTERNS = [
    # "I work for Acme as a welder", "I've been with Acme as a welder"
    re.compile(
        r"\b(?:work(?:ed|ing)?|been|was|am|i'm)\s+(?:for|at|with)\s+(?P<company>.+?)\s+"
        rf"as\s+(?:{_ARTICLE})?(?P<title>.+)",
        re.I,
    ),
    # "I'm a nurse at St Mary's", "I work as a welder for Acme", "worked as a cook at Denny's"
    re.compile(
        rf"\b(?:i'm|i am|i was|was|work(?:ed|ing)? as|been|i've been)\s+(?:{_ARTICLE})?"
        r"(?P<title>[\w' -]+?)\s+(?:at|for|with|over at|in)\s+(?P<company>.+)",
        re.I,
    ),
    # "I drive trucks for FedEx", "I drove a forklift at Costco"
    re.compile(
        rf"\bi\s+(?P<verb>{_VERB_FORMS}|drove|taught|built|sold|wrote|ran|flew)\s+"
        r"(?P<object>[\w' -]*?)\s*(?:for|at|with)\s+(?P<company>.+)",
        re.I,
    ),
    # "I'm a nurse", "I work as a welder", "I was a cook"
    re.compile(
        rf"\b(?:i'm|i am|i was|work(?:ed|ing)? as|been)\s+(?:{_ARTICLE})(?P<title>.+)", re.I
    ),
    # "I work at Walmart", "I worked for the county"
    re.compile(
        r"\b(?:work(?:ed|ing|s)?|employed|been|was)\s+(?:for|at|with|over at|by)\s+"
        r"(?P<company>.+)",
        re.I,
    ),
    # "welder at Acme", "nurse for the county"
    re.compile(
        r"^(?:(?:a|an|the)\s+)?(?P<title>[\w' -]+?)\s+(?:at|for|with)\s+(?P<company>.+)", re.I
    ),
]
# A bare reply with these words is a question back or noise, not a title or a company.
_NOT_AN_ANSWER = re.compile(
    r"\b(?:what|why|how|who|huh|pardon|sorry|repeat|mean|you|blah|hmm|excuse|again|hello)\b|"
    r"\?",
    re.I,
)
_IRREGULAR = {
    "drove": "drive",
    "taught": "teach",
    "built": "build",
    "sold": "sell",
    "wrote": "write",
    "ran": "run",
    "flew": "fly",
}


def _verb_title(verb: str, obj: str) -> str:
    verb = verb.lower()
    base = _IRREGULAR.get(verb)
    if base is None:
        for candidate in _AGENT:
            if verb.startswith(candidate[:-1] if candidate.endswith("e") else candidate):
                base = candidate
                break
    agent = _AGENT.get(base or "", verb)
    obj = re.sub(rf"^(?:{_ARTICLE}|some\s+)", "", obj.strip(), flags=re.I)
    return f"{_singular(obj.lower())} {agent}".strip() if obj else agent


def parse_job(text: str, *, now_year: int, expect: str = "job") -> JobMention:
    """A job title and company from an answer.

    `expect` is what the question asked for: "job" (both), "title" or "company"; a bare
    answer ("Walmart", "a nurse") is read as that field.
    """
    text = normalize(text)
    text = re.sub(
        r"^(?:yes|yeah|yep|sure|ok|okay|well|so|oh|right now|currently|now|"
        r"at the moment|these days)\b[,.! ]*",
        "",
        text,
        flags=re.I,
    )
    mention = JobMention(years=parse_years(text, now_year=now_year))
    marked = mark_years(text, now_year)
    for pattern in _JOB_PATTERNS:
        if not (match := pattern.search(marked)):
            continue
        groups = match.groupdict()
        if groups.get("verb"):
            mention.title = _verb_title(groups["verb"], groups.get("object") or "")
        else:
            mention.title = _title(_clean_fragment(groups.get("title") or ""))
        mention.company = _company(_clean_fragment(groups.get("company") or ""))
        if not mention.empty:
            break
    if mention.empty:
        parts = [
            p
            for p in (_clean_fragment(x) for x in re.split(r"\s*,\s*|\s+-\s+", marked))
            if p and parse_yes_no(p) is None and not is_no_more(p)
        ]
        if len(parts) >= 2:
            first_company = bool(_COMPANY_WORDS.search(parts[0])) and not _TITLE_WORDS.search(
                parts[0]
            )
            title, company = (parts[1], parts[0]) if first_company else (parts[0], parts[1])
            if re.match(r"as\s", parts[1], re.I):  # "Acme, as a welder"
                title, company = parts[1], parts[0]
            mention.title, mention.company = _title(title), _company(company)
        elif len(parts) == 1:
            bare = re.sub(
                r"^(?:it'?s|it was|that'?s|that was|at|for|with|as)\s+", "", parts[0], flags=re.I
            )
            bare = _clean_fragment(bare) or ""
            if (
                not bare
                or is_dont_know(bare)
                or is_no_more(bare)
                or _NOT_AN_ANSWER.search(bare)
                or parse_yes_no(bare) is not None
            ):
                return mention
            as_title = expect == "title" or (
                expect == "job"
                and bool(_TITLE_WORDS.search(bare))
                and not _COMPANY_WORDS.search(bare)
            )
            if as_title:
                mention.title = _title(bare)
            else:
                mention.company = _company(bare)
    if mention.title and re.fullmatch(
        r"(?:working|employed|doing|unemployed|retired)", mention.title
    ):
        mention.title = None
    return mention
