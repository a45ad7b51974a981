"""Scripted, rule-based understanding of caller answers (speech-to-text text, no model).

Every function is pure: text in, small value out. Matching is case-insensitive, but names and
companies are sliced from the caller's own words so their casing survives. Spoken numbers are
turned into digits first ("nineteen ninety eight" -> 1998, "'09" -> 2009) so that one set of
year patterns serves every spoken form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "GapAnswer",
    "JobMention",
    "YearSpan",
    "gap_category",
    "is_dont_know",
    "is_no_more",
    "is_not_working",
    "is_opt_out",
    "is_stop",
    "normalize",
    "parse_gap_answer",
    "parse_job",
    "parse_name",
    "parse_skills",
    "parse_years",
    "parse_yes_no",
    "words_to_digits",
]

_UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
          "seven": 7, "eight": 8, "nine": 9}
_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
          "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_NUMBER_WORDS = {**_UNITS, **_TEENS, **_TENS}
_FILLERS = re.compile(r"\b(?:um+|uh+|uhm|erm|er|hmm+|mm+|ah+|let me (?:think|see)|let'?s see)\b"
                      r"[,.]?\s*", re.IGNORECASE)


def normalize(text: str) -> str:
    """Tidy speech-to-text output: curly quotes, fillers, repeated spaces; keeps casing."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u2013", "-")
    text = _FILLERS.sub("", text)
    return re.sub(r"\s+", " ", text).strip(" .!?")


def _small(words: list[str]) -> int | None:
    """Value of a number below 100 spoken as one or two words ("ninety eight")."""
    if len(words) == 1 and words[0] in _NUMBER_WORDS:
        return _NUMBER_WORDS[words[0]]
    if len(words) == 2 and words[0] in _TENS and words[1] in _UNITS:
        return _TENS[words[0]] + _UNITS[words[1]]
    return None


def _run_value(words: list[str]) -> int | None:
    """Value of a run of number words, reading year pairs ("twenty fifteen") as years."""
    first, rest = words[0], words[1:]
    if first in ("nineteen", "eighteen", "twenty") and rest and rest[0] != "hundred" and (
        first != "twenty" or rest[0] not in _UNITS
    ):
        if rest[0] in ("oh", "o") and len(rest) == 2 and rest[1] in _UNITS:
            return _NUMBER_WORDS[first] * 100 + _UNITS[rest[1]]
        tail = _small(rest)
        if tail is not None:
            return _NUMBER_WORDS[first] * 100 + tail
    total, current = 0, 0
    for word in words:
        if word in _NUMBER_WORDS:
            current += _NUMBER_WORDS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total += max(current, 1) * 1000
            current = 0
        elif word in ("oh", "o"):
            continue
    return total + current


def _oh_year(match: re.Match[str]) -> str:
    before = match.string[: match.start()].split()
    if before and before[-1].lower() in _NUMBER_WORDS:
        return match[0]  # "nineteen oh five": part of a longer number
    return f"0{_UNITS[match[1].lower()]}"


def words_to_digits(text: str) -> str:
    """Replace spoken numbers with digits: "two thousand and nine" -> "2009"."""
    text = re.sub(r"\b(?:oh|o)[\s-]+(one|two|three|four|five|six|seven|eight|nine)\b", _oh_year,
                  text, flags=re.I)
    tokens = re.split(r"(\s+|[,.;!?-])", text)
    out: list[str] = []
    run: list[str] = []
    run_tokens: list[str] = []

    def flush(rest: str = "") -> None:
        # A lone small number is a word ("Two Men Moving", "one of them") unless it counts time.
        core = [w for w in run if w not in ("and", "oh", "o")]
        if len(core) == 1 and _NUMBER_WORDS.get(core[0], 100) < 20 and not re.match(
                r"\s*(?:and a half )?(?:years?|yrs|months?|weeks?|days?)\b", rest, re.I):
            out.extend(run_tokens)
            run.clear()
            run_tokens.clear()
            return
        # A trailing "and"/"oh" belongs to the sentence, not the number.
        trail: list[str] = []
        while run and run[-1] in ("and", "oh", "o"):
            run.pop()
            trail.insert(0, run_tokens.pop())
        while run_tokens and not run_tokens[-1].strip():
            trail.insert(0, run_tokens.pop())
        if run:
            out.append(str(_run_value(run)))
        out.extend(trail)
        run.clear()
        run_tokens.clear()

    for index, token in enumerate(tokens):
        low = token.lower()
        joins = run and (
            low in ("and", "hundred", "thousand", "oh", "o") or not token.strip() or low == "-"
        )
        if low in _NUMBER_WORDS or (run and low in ("hundred", "thousand")):
            run.append(low)
            run_tokens.append(token)
        elif joins:
            if token.strip() and low != "-":
                run.append(low)
            run_tokens.append(token)
        else:
            flush("".join(tokens[index:]))
            out.append(token)
    flush()
    return "".join(out)


# --- yes / no, opt-out, stop, don't know ------------------------------------------------------

_YES_IDIOMS = re.compile(
    r"\b(?:no problem|no worries|not a problem|why not|i don'?t mind|don'?t mind|of course|"
    r"no objection)\b", re.IGNORECASE)
_NO = re.compile(
    r"\b(?:no|nope|nah|not really|rather not|don'?t want|do not want|not interested|decline|"
    r"i don'?t consent|do not consent|no thanks|no thank you|not now|negative|wrong|incorrect|"
    r"not right|not correct|that'?s not|isn'?t right|absolutely not|no way)\b", re.IGNORECASE)
_YES = re.compile(
    r"\b(?:yes|yeah|yea|yep|yup|ya|sure|ok|okay|go ahead|fine|certainly|absolutely|alright|"
    r"all right|correct|that'?s right|right|sounds good|please do|i agree|i consent|agreed|"
    r"uh[- ]?huh|mhm|definitely|yes please|go for it|that'?s fine|you may|you can|exactly|"
    r"that'?s it|perfect|good)\b", re.IGNORECASE)


def parse_yes_no(text: str) -> bool | None:
    """True for yes ("sure", "go ahead"), False for no ("nope", "I'd rather not"), else None."""
    if re.search(r"\b(?:uh[- ]?huh|mm[- ]?hmm?|mhm)\b", text, re.I):
        return True
    text = normalize(text)
    if _YES_IDIOMS.search(text) and not re.search(r"\b(?:not okay|no way)\b", text, re.I):
        return True
    if _NO.search(text):
        return False
    if _YES.search(text):
        return True
    return None


_OPT_OUT = re.compile(
    r"(?:don'?t|do not|never|stop|quit) (?:ever )?(?:call|calling|ring|ringing|contact|"
    r"contacting) (?:me|us|this number|here)|stop calling|take (?:me|my number|this number) "
    r"off|remove (?:me|my number|this number)|do[- ]not[- ]call list|unsubscribe|"
    r"lose (?:my|this) number|put me on (?:your|the|a) (?:do not call|no call)",
    re.IGNORECASE)
_STOP = re.compile(
    r"^(?:please )?stop\b|\bstop (?:the|this) (?:call|interview)|\bstop asking|"
    r"\bi (?:have|'ve got|got|need|must|gotta) (?:to )?go\b|\bi gotta go\b|\bi'?m done\b|"
    r"\bend (?:the|this) call\b|\bhang(?:ing)? up\b|\bthat'?s enough\b|\bno more questions\b|"
    r"\bcan'?t talk\b|\bnot a good time\b|\bcall (?:me )?(?:back )?later\b|^(?:good)?bye\b|"
    r"\bi'?m busy\b|\bi don'?t have time\b|\bleave me alone\b", re.IGNORECASE)
_DONT_KNOW = re.compile(
    r"\b(?:i )?(?:don'?t|do not) (?:really )?(?:know|remember|recall)\b|\bnot sure\b|"
    r"\bno idea\b|\bcan'?t (?:remember|recall)\b|\bi forg[eo]t\b|\bdunno\b|\bno clue\b|"
    r"\bunsure\b|\bhard to say\b", re.IGNORECASE)
_NO_MORE = re.compile(
    r"^(?:no|nope|nah|none|nothing|no,? that'?s it|no,? none|not really)$|\bthat'?s (?:it|all)\b|"
    r"\bno (?:other|more|earlier|previous|prior) (?:jobs?|work|employers?)\b|\bno more\b|"
    r"\bnothing (?:else|before)\b|\b(?:that|this|it) (?:was|is) my (?:first|only) job\b|"
    r"\bfirst job\b|\bonly job\b|\bnone\b|\bno,? (?:that was|there was) (?:it|nothing)\b|"
    r"\bnever (?:had|worked) (?:another|any other|before)\b|\bthere (?:were|was) none\b|"
    r"\bno(?:,)? i didn'?t\b|\bthat was it\b|\bthat'?s everything\b", re.IGNORECASE)
_NOT_WORKING = re.compile(
    r"\b(?:unemployed|not working|don'?t (?:have|got) a job|no job|out of work|between jobs|"
    r"looking for (?:a )?(?:job|work)|retired|laid off|not employed|jobless|"
    r"stay[- ]at[- ]home)\b", re.IGNORECASE)


def is_opt_out(text: str) -> bool:
    """The caller asks not to be called again ("take me off your list")."""
    return bool(_OPT_OUT.search(normalize(text)))


def is_stop(text: str) -> bool:
    """The caller wants to end the call now ("I have to go", "stop")."""
    return bool(_STOP.search(normalize(text)))


def is_dont_know(text: str) -> bool:
    """The caller does not know or remember ("no idea", "I can't remember")."""
    return bool(_DONT_KNOW.search(normalize(text)))


def is_no_more(text: str) -> bool:
    """The caller says there is nothing (more): "none", "that's it", "no other jobs"."""
    return bool(_NO_MORE.search(normalize(text)))


def is_not_working(text: str) -> bool:
    """The caller has no current job ("I'm unemployed", "retired")."""
    return bool(_NOT_WORKING.search(normalize(text)))


# --- years ------------------------------------------------------------------------------------

_YEAR_CONTEXT = {"from", "since", "in", "until", "till", "til", "to", "through", "thru", "and",
                 "between", "around", "about", "circa", "of", "-", "year", "back"}
_RELATIVE = [
    (re.compile(r"\b(?:a|one) year ago\b|\blast year\b", re.I), 1),
    (re.compile(r"\bthis year\b", re.I), 0),
    (re.compile(r"\ba couple (?:of )?years ago\b", re.I), 2),
    (re.compile(r"\ba few years ago\b", re.I), 3),
]


@dataclass
class YearSpan:
    """The years heard in one answer; `years` are all of them in spoken order."""

    start: int | None = None
    end: int | None = None
    years: list[int] = field(default_factory=list)
    duration: int | None = None
    ongoing: bool = False

    @property
    def empty(self) -> bool:
        """True when no year, duration or "still there" was heard."""
        return not (self.years or self.duration is not None or self.ongoing)


def _two_digit_year(value: int, now_year: int) -> int:
    return 2000 + value if value <= now_year % 100 else 1900 + value


def _mark_years(text: str, now_year: int) -> str:
    """Rewrite every year in `text` as "<Y:1998>" (digits, 'yy, two-digit years in context)."""
    text = words_to_digits(text)
    for pattern, back in _RELATIVE:
        text = pattern.sub(f"<Y:{now_year - back}>", text)
    text = re.sub(r"\b(\d{1,2}) years? ago\b", lambda m: f"<Y:{now_year - int(m[1])}>", text)
    text = re.sub(r"(?<![\d<:])\b(1[5-9]\d\d|20\d\d)\b(?!s)", r"<Y:\1>", text)
    text = re.sub(r"'(\d\d)\b", lambda m: f"<Y:{_two_digit_year(int(m[1]), now_year)}>", text)

    def two_digit(match: re.Match[str]) -> str:
        before = text[: match.start()].split()
        prev = before[-1].lower() if before else ""
        after = text[match.end():].lstrip().lower()
        if after.startswith(("year", "yr", "month", "%", "percent", "hour", "dollar")):
            return match[0]
        if prev in _YEAR_CONTEXT or match[0].startswith("0"):
            return f"<Y:{_two_digit_year(int(match[0]), now_year)}>"
        return match[0]

    return re.sub(r"(?<![\d<:'])\b\d\d\b(?!>)", two_digit, text)


_Y = r"<Y:(\d+)>"
_RANGE = re.compile(
    rf"{_Y}\s*(?:to|until|till|til|through|thru|-|and|up to|up until)\s*"
    rf"(?:{_Y}|(now|present|today|the present|current(?:ly)?|this day))", re.I)
_START = re.compile(
    rf"\b(?:since|from|start(?:ed|ing)?|beg[au]n|beginning|join(?:ed)?|hired|got (?:there|"
    rf"hired|the job)|been there since)\b(?:\s+\w+){{0,3}}?\s+{_Y}", re.I)
_END = re.compile(
    rf"\b(?:until|till|til|through|left|end(?:ed)?|quit|finish(?:ed)?|stopped|up to|"
    rf"laid off|let go|fired|retired|moved on)\b(?:\s+\w+){{0,3}}?\s+{_Y}", re.I)
_DURATION = re.compile(
    r"\b(\d{1,2}|a|an) (?:and a half )?(?:years?|yrs)\b(?! ago)", re.I)
_ONGOING = re.compile(
    r"\b(?:now|present|currently|still (?:there|work|working|do|am)|to this day|today|"
    r"ongoing)\b", re.I)


def parse_years(text: str, *, now_year: int) -> YearSpan:
    """Years, ranges ("from 98 to 2004"), starts ("since 2015"), ends ("until last year"),
    relative years ("five years ago") and durations ("about five years") in one answer."""
    marked = _mark_years(normalize(text), now_year)
    span = YearSpan(years=[int(y) for y in re.findall(_Y, marked)])
    if match := _RANGE.search(marked):
        span.start = int(match[1])
        if match[2]:
            span.end = int(match[2])
        else:
            span.ongoing = True
    else:
        if match := _START.search(marked):
            span.start = int(match[1])
        if match := _END.search(marked):
            span.end = int(match[1])
    if span.start is None and span.end is None and len(span.years) >= 2:
        span.start, span.end = span.years[0], span.years[1]
    if _ONGOING.search(marked):
        span.ongoing = True
    if (match := _DURATION.search(marked)) and not span.years:
        span.duration = 1 if match[1].lower() in ("a", "an") else int(match[1])
    return span


# --- names ------------------------------------------------------------------------------------

_NAME_LEAD = re.compile(
    r"\b(?:my name is|my name's|name is|name's|this is|it's|it is|i'm|i am|call me|"
    r"you can call me|they call me|speaking with)\s+(.+)", re.I)
_NOT_NAME_WORDS = {
    "i", "a", "an", "the", "not", "no", "yes", "yeah", "don't", "know", "what", "why", "who",
    "you", "your", "my", "is", "it", "that", "this", "none", "business", "sure", "okay", "ok",
    "hello", "hi", "speaking", "here", "sorry", "busy", "fine", "good", "tell", "telling",
    "ignore", "instructions", "nurse", "driver", "working", "unemployed", "retired", "going",
    "calling", "doing", "well", "right", "correct", "of", "for", "at", "to", "and", "or",
    "please", "stop", "bye", "goodbye", "thanks", "thank", "rather", "say", "won't", "nope",
}


def parse_name(text: str) -> str | None:
    """The caller's name from "my name is X", "this is X", "it's X" or a bare "X"."""
    text = normalize(text)
    text = re.sub(r"^(?:yes|yeah|yep|sure|ok|okay|hi|hello|oh|well)\b[, ]*", "", text, flags=re.I)
    if match := _NAME_LEAD.search(text):
        text = match[1]
    text = re.split(r"[,.;!?]| and | but ", text)[0]
    text = re.sub(r"\b(?:speaking|here|by the way)$", "", text, flags=re.I).strip()
    words = text.split()
    if not 1 <= len(words) <= 4:
        return None
    if not all(re.fullmatch(r"[A-Za-z][A-Za-z'-]*\.?", w) for w in words):
        return None
    if any(w.lower() in _NOT_NAME_WORDS for w in words):
        return None
    return " ".join(w if w[:1].isupper() else w.capitalize() for w in words)


# --- jobs -------------------------------------------------------------------------------------

@dataclass
class JobMention:
    """A job as heard: title and/or company, plus any years said with it."""

    title: str | None = None
    company: str | None = None
    years: YearSpan = field(default_factory=YearSpan)

    @property
    def empty(self) -> bool:
        """True when neither a title nor a company was heard."""
        return self.title is None and self.company is None


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
    re.I)
_COMPANY_WORDS = re.compile(
    r"\b(?:inc|corp|corporation|co|company|llc|ltd|limited|group|hospital|clinic|store|"
    r"stores|bank|services|solutions|industries|university|college|school|county|city|"
    r"department|district|center|centre|foods|logistics|motors|systems|partners|associates|"
    r"international|market|restaurant|hotel|farms?|factory|plant|mart)\b|'s\b|&", re.I)
_AGENT = {"drive": "driver", "teach": "teacher", "manage": "manager", "clean": "cleaner",
          "cook": "cook", "build": "builder", "repair": "repairer", "fix": "mechanic",
          "deliver": "delivery driver", "sell": "salesperson", "write": "writer",
          "program": "programmer", "develop": "developer", "design": "designer",
          "install": "installer", "paint": "painter", "weld": "welder", "run": "manager",
          "nurse": "nurse", "wait": "server", "bartend": "bartender", "guard": "guard",
          "stock": "stocker", "pack": "packer", "load": "loader", "operate": "operator",
          "supervise": "supervisor", "fly": "pilot", "farm": "farmer", "tend": "tender"}
_VERB_FORMS = "|".join(sorted({f"{v}s?|{v}d|{v}ed|{v}ing" if not v.endswith("e")
                               else f"{v}s?|{v}d|{v[:-1]}ing" for v in _AGENT}, key=len,
                              reverse=True))
_CUT = re.compile(
    r"\s+(?:since|from|until|till|between|starting|for (?:about |around |almost |over )?"
    r"(?:\d+|a|an|the last|a few|a couple|many|several) (?:years?|months?)|in <Y|<Y|and i|"
    r"but|where|which|doing|as (?:a|an|the)\b|for|at|with|about|around|now|currently|"
    r"these days|right now|ever since|back in|over|there)\b.*$|\s*[,;.].*$", re.I)


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
    re.compile(r"\b(?:work(?:ed|ing)?|been|was|am|i'm)\s+(?:for|at|with)\s+(?P<company>.+?)\s+"
               rf"as\s+(?:{_ARTICLE})?(?P<title>.+)", re.I),
    # "I'm a nurse at St Mary's", "I work as a welder for Acme", "worked as a cook at Denny's"
    re.compile(rf"\b(?:i'm|i am|i was|was|work(?:ed|ing)? as|been|i've been)\s+(?:{_ARTICLE})?"
               r"(?P<title>[\w' -]+?)\s+(?:at|for|with|over at|in)\s+(?P<company>.+)", re.I),
    # "I drive trucks for FedEx", "I drove a forklift at Costco"
    re.compile(rf"\bi\s+(?P<verb>{_VERB_FORMS}|drove|taught|built|sold|wrote|ran|flew)\s+"
               r"(?P<object>[\w' -]*?)\s*(?:for|at|with)\s+(?P<company>.+)", re.I),
    # "I'm a nurse", "I work as a welder", "I was a cook"
    re.compile(rf"\b(?:i'm|i am|i was|work(?:ed|ing)? as|been)\s+(?:{_ARTICLE})(?P<title>.+)",
               re.I),
    # "I work at Walmart", "I worked for the county"
    re.compile(r"\b(?:work(?:ed|ing|s)?|employed|been|was)\s+(?:for|at|with|over at|by)\s+"
               r"(?P<company>.+)", re.I),
    # "welder at Acme", "nurse for the county"
    re.compile(r"^(?:(?:a|an|the)\s+)?(?P<title>[\w' -]+?)\s+(?:at|for|with)\s+(?P<company>.+)",
               re.I),
]
# A bare reply with these words is a question back or noise, not a title or a company.
_NOT_AN_ANSWER = re.compile(
    r"\b(?:what|why|how|who|huh|pardon|sorry|repeat|mean|you|blah|hmm|excuse|again|hello)\b|"
    r"\?", re.I)
_IRREGULAR = {"drove": "drive", "taught": "teach", "built": "build", "sold": "sell",
              "wrote": "write", "ran": "run", "flew": "fly"}


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
    text = re.sub(r"^(?:yes|yeah|yep|sure|ok|okay|well|so|oh|right now|currently|now|"
                  r"at the moment|these days)\b[,.! ]*", "", text, flags=re.I)
    mention = JobMention(years=parse_years(text, now_year=now_year))
    marked = _mark_years(text, now_year)
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
        parts = [p for p in (_clean_fragment(x) for x in re.split(r"\s*,\s*|\s+-\s+", marked))
                 if p and parse_yes_no(p) is None and not is_no_more(p)]
        if len(parts) >= 2:
            first_company = bool(_COMPANY_WORDS.search(parts[0])) and not _TITLE_WORDS.search(
                parts[0])
            title, company = (parts[1], parts[0]) if first_company else (parts[0], parts[1])
            if re.match(r"as\s", parts[1], re.I):  # "Acme, as a welder"
                title, company = parts[1], parts[0]
            mention.title, mention.company = _title(title), _company(company)
        elif len(parts) == 1:
            bare = re.sub(r"^(?:it'?s|it was|that'?s|that was|at|for|with|as)\s+", "", parts[0],
                          flags=re.I)
            bare = _clean_fragment(bare) or ""
            if (not bare or is_dont_know(bare) or is_no_more(bare) or _NOT_AN_ANSWER.search(bare)
                    or parse_yes_no(bare) is not None):
                return mention
            as_title = expect == "title" or (expect == "job" and bool(_TITLE_WORDS.search(bare))
                                             and not _COMPANY_WORDS.search(bare))
            if as_title:
                mention.title = _title(bare)
            else:
                mention.company = _company(bare)
    if mention.title and re.fullmatch(r"(?:working|employed|doing|unemployed|retired)",
                                      mention.title):
        mention.title = None
    return mention


# --- skills -----------------------------------------------------------------------------------

_SKILL_PREFIX = re.compile(
    r"^(?:i have|i've got|i got|i hold|i've|i am|i'm|i can|i know|i speak|my|also|plus|"
    r"certified in|certified|licensed in|licensed|a|an|the|some|experience (?:in|with)|"
    r"trained in|good at|and|yes|yeah|sure|well|so|oh|okay|ok|let'?s see|let me think|"
    r"skills?[- ]wise:?|i'd say|i guess)\s+", re.I)
_SKILL_NOISE = re.compile(
    r"(?:yes|yeah|yep|sure|well|so|oh|okay|ok|um|uh|hmm|let'?s see|let me think|"
    r"skills?[- ]wise:?|that'?s (?:it|all)|i guess)", re.I)


def parse_skills(text: str) -> list[str]:
    """A list of skills, licences and certifications ("forklift, CDL class A and first aid")."""
    text = normalize(text)
    if re.fullmatch(r"(?:no|nope|none|nothing|not really|no,? (?:none|nothing|not really))"
                    r"(?: really)?", text, re.I):
        return []
    skills: list[str] = []
    for raw in re.split(r"\s*(?:,|;|\.\s|\band\b|&|\bplus\b|\bas well as\b|\balso\b)\s*", text,
                        flags=re.I):
        item = raw.strip(" .")
        while (stripped := _SKILL_PREFIX.sub("", item)) != item:
            item = stripped
        if not item or len(item.split()) > 6 or _SKILL_NOISE.fullmatch(item):
            continue
        if is_dont_know(item) or re.fullmatch(r"(?:no|none|nothing|not really)", item, re.I):
            continue
        skills.append(item)
    return skills


# --- gap answers ------------------------------------------------------------------------------

_GAP_CATEGORIES = [
    ("incarceration", r"prison|jail|incarcerat\w*|locked up|serving time|did time|doing time|"
                      r"correctional|penitentiary|behind bars"),
    ("military", r"army|navy|military|marines?|air force|national guard|coast guard|"
                 r"deployed|enlisted|served in|in the service"),
    ("caregiving", r"tak(?:e|ing|ook) care|car(?:ing|ed) for|looking after|look(?:ed)? after|"
                   r"rais(?:ing|ed) (?:my|the|our) (?:kids|children|family|son|daughter)|"
                   r"stay[- ]at[- ]home (?:mom|dad|mother|father|parent)|maternity|paternity|"
                   r"parental leave|had (?:a baby|kids|children)|home with (?:the|my) kids|"
                   r"caregiv\w*|my (?:mom|mother|dad|father|parents?|husband|wife) (?:was|got) "
                   r"(?:sick|ill)"),
    ("illness", r"\bsick|\bill\b|illness|injur\w*|in (?:the )?hospital|hospitali[sz]ed|surgery|"
                r"recover\w*|disab\w*|cancer|medical|health (?:issues|problems|reasons)|rehab"),
    ("school", r"school|college|universit\w*|studying|studied|student|degree|training|course|"
               r"education|apprentic\w*|classes|diploma"),
    ("unemployment", r"unemploy\w*|out of work|looking for (?:a )?(?:job|work)|job hunting|"
                     r"laid off|between jobs|couldn'?t find (?:a )?(?:job|work)|not working|"
                     r"no job|didn'?t work|wasn'?t working|job searching"),
    ("travel", r"travel\w*|abroad|backpacking"),
    ("retired", r"retired|retirement"),
    ("relocation", r"mov(?:ed|ing) (?:to|across|states|countries|house)|relocat\w*"),
    ("volunteering", r"volunteer\w*"),
]


def gap_category(text: str) -> str | None:
    """The kind of non-work activity an answer names (caregiving, school, illness, ...)."""
    for name, pattern in _GAP_CATEGORIES:
        if re.search(rf"\b(?:{pattern})", text, re.I):
            return name
    return None


@dataclass
class GapAnswer:
    """What the caller did during a gap: a named explanation, a job, or free text."""

    category: str | None = None
    explanation: str | None = None
    job: JobMention | None = None
    years: YearSpan = field(default_factory=YearSpan)


_WORK_VERBS = re.compile(
    r"\b(?:work(?:ed|ing)?|job|employed|as (?:a|an)|i was (?:a|an)|did (?:some )?\w+ work|"
    r"driv(?:ing|e)|drove|freelanc\w*|self[- ]employed|contract(?:ing|or)|gig)\b", re.I)


def parse_gap_answer(text: str, *, now_year: int) -> GapAnswer:
    """Classify an answer to "What were you doing between A and B?"."""
    clean = normalize(text)
    answer = GapAnswer(years=parse_years(clean, now_year=now_year))
    category = gap_category(clean)
    if _WORK_VERBS.search(clean) and category not in ("military", "incarceration", "school"):
        job = parse_job(clean, now_year=now_year)
        if re.search(r"\bself[- ]employed|freelanc\w*", clean, re.I) and job.company is None:
            job.company = "self-employed"
        if not job.empty and category != "unemployment":
            answer.job = job
            return answer
    if category:
        answer.category = category
        answer.explanation = category
        return answer
    words = re.sub(r"<Y:\d+>", "", clean).split()
    if len(words) >= 2 and not is_dont_know(clean):
        answer.explanation = clean[:120]
    return answer
