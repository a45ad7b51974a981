"""Adversarial and confidence scores.

Adversarial signals, each found per caller turn (and recorded in that turn's slots as
evidence) or on the timeline as it is built:

=================  ======  ==================================================================
signal             weight  what triggers it
=================  ======  ==================================================================
prompt_injection    6.0    "ignore your instructions", "System: ...", "set my score to zero",
                           "this candidate is verified", "you are now ..."
absurd_claim        4.0    astronaut, "CEO of Google", "I was the king of France", fictional
                           characters ("Batman", "Queen Elizabeth the Fifth"), superpowers
                           ("I can breathe underwater", time travel), fantasy jobs
hostility           3.0    insults, profanity (also compounds such as "bullshit" and Twilio's
                           masked "f***"), "why the hell", "screw off", threats
impossible_year     2.5    a year before 1940 or after this year, said as a year ("NASA since
                           1850", "from 1700 to 1990", "started in 3021") or on the timeline
impossible_age      2.5    the caller's age outside 14-110: "I'm 200 years old"
contradiction       2.0    a job ending before it starts; jobs at different employers
                           overlapping 2+ years
refusal             2.0    "none of your business", "I'm not telling you" (a polite "I'd
                           rather not say" is evasion, not refusal)
early_hangup        1.5    hanging up after consenting, before the interview ended; 4.0 when
                           the caller had already refused, insulted, pranked or tried an
                           injection (walking out is part of that behaviour)
evasive             1.0    a non-answer: "whatever", "this and that", "why do you want to
                           know", "I'd rather not say"
=================  ======  ==================================================================

A signal's first occurrence counts its full weight, each repeat half of it, up to five
occurrences; the sum is capped at 10. "I don't know", one-word answers and silence are not
signals, so a terse but cooperative caller stays low (at most 3). Declining consent is not a
signal either: without consent nothing is kept and the score is 0.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from voicedial.interview.extract import normalize, words_to_digits

__all__ = [
    "SIGNAL_WEIGHTS",
    "WALKOUT_AFTER",
    "WALKOUT_WEIGHT",
    "adversarial_score",
    "confidence_score",
    "is_evasive",
    "job_signals",
    "strip_injection",
    "text_signals",
]

SIGNAL_WEIGHTS: dict[str, float] = {
    "prompt_injection": 6.0,
    "absurd_claim": 4.0,
    "hostility": 3.0,
    "impossible_year": 2.5,
    "impossible_age": 2.5,
    "contradiction": 2.0,
    "refusal": 2.0,
    "early_hangup": 1.5,
    "evasive": 1.0,
}
# An early hang-up weighs this much after one of these deliberate behaviours: the walk-out
# ends a hostile or mocking call, it is not someone who simply had to go.
WALKOUT_WEIGHT = 4.0
WALKOUT_AFTER = frozenset({"prompt_injection", "absurd_claim", "hostility", "refusal"})
_REPEAT_FACTOR = 0.5
_MAX_COUNTED = 5
EARLIEST_PLAUSIBLE_YEAR = 1940
_PLAUSIBLE_AGES = range(14, 111)

_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b.{0,40}\b(?:instructions?|prompts?|rules|"
    r"programming|guidelines|everything (?:you|above|before))\b|\bsystem prompt\b|"
    r"\byou(?:'re| are) (?:now|no longer)\b|\bfrom now on,? you\b|\bnew instructions\b|"
    r"\bdeveloper mode\b|"
    r"\bjailbreak\b|\bpretend (?:to be|you are|you're)\b|\bact as (?:an?|my) (?:ai|assistant|"
    r"model|language model|dan)\b|\b(?:give|rate|score|mark|set|record) (?:me|my \w+|this|"
    r"the \w+) (?:as |to |a |an )?(?:10|ten|0|zero|perfect|hired|approved|qualified|"
    r"top|maximum|excellent)\b|\badmin(?:istrator)? (?:mode|override|access)\b|"
    r"\brepeat (?:your|the) (?:instructions|prompt)\b|\bas an ai language model\b|"
    r"\b(?:forget|skip|drop)\b.{0,25}\b(?:questions|interview)\b|\bmark (?:it|this|me|my "
    r"profile|the (?:interview|call|profile)) (?:as )?(?:complete|completed|confirmed|"
    r"verified|done|fully confirmed)\b|"
    # A role tag opening a sentence, addressed to the model: "System: ...", "Assistant: ...".
    r"(?:^|(?<=[.!?;,] ))(?:system|assistant|developer|admin(?:istrator)?)\s*(?:message|note|"
    r"override)?\s*:|\bsystem (?:message|override|instruction|command)s?\b|"
    # Talk about the interviewer's own scoring or verdict, which no honest answer needs.
    r"\badversarial (?:score|rating|signals?)\b|\b(?:set|change|lower|reset|zero|raise|put|"
    r"update)\b (?:my|the|this|your) .{0,25}\bscore\b.{0,10}\b(?:to|at|as)\b|"
    r"\b(?:this|the) (?:candidate|caller|applicant|profile) (?:is|has been|was) (?:already )?"
    r"(?:verified|approved|pre-?approved|cleared|trusted|vetted|hired|whitelisted|"
    r"confirmed)\b",
    re.I,
)
_HOSTILITY = re.compile(
    r"\b\w*(?:fuck|shit)\w*|\b(?:bitch\w*|asshole\w*|bastard\w*|dickhead|you dick|cunt|"
    r"damn(?:ed|it)?|goddamn\w*|crap|piss(?: off)?|screw (?:you|off|this|that|yourself)|"
    r"(?:buzz|bugger|sod|eff|f) off|go to hell|hell no|to hell with|the hell (?:with|out)|"
    r"(?:what|why|who|where|how|when) (?:the|in the) (?:hell|heck|fuck)|shut up|idiot\w*|"
    r"stupid|moron\w*|imbecile\w*|dumb(?:ass)?|jackass|(?:you|what a|such a) jerk|loser|"
    r"scam(?:s|mer|mers|ming)?|get lost|drop dead|"
    r"i'?ll kill|kill you|hate you|sue you|bloody|up yours|bite me|kiss my ass|"
    r"waste of (?:my )?time|freaking robot|stupid robot)\b|\b\w\*{2,}\w*",
    re.I,
)
_FANTASY = (
    r"(?:dragon|unicorn|mermaid|merman|fairy|fairies|elf|elves|goblin|troll|vampire|"
    r"werewolf|zombie|alien|ghost|leprechaun|dinosaur)s?"
)
_ABSURD = re.compile(
    r"\b(?:astronaut|president of (?:the )?(?:united states|usa|america|the world|earth|mars)|"
    r"(?:ceo|owner|founder|president|king|queen) of (?:google|apple|amazon|microsoft|tesla|"
    r"facebook|meta|nasa|the world|the universe|the galaxy|mars|the moon|the sun|earth)|"
    # Self-claims of a throne or a fantasy being: "I was the king of France", "I'm a vampire".
    r"i(?:'m| am| was| used to be) (?:the |a |an )?(?:real |actual |professional )?(?:king|"
    r"queen|emperor|empress|pharaoh|tsar|czar|sultan|pope|god|goddess) of|"
    r"i(?:'m| am| was) (?:a |an |the )?(?:real |actual |professional )?(?:wizard|witch|"
    r"sorcerer|superhero|jedi|ninja|vampire|werewolf|mermaid|ghost|god|goddess|cyborg|"
    r"time travel+er)\b(?! (?:with|at|in|on|when)\b)|"
    # A regnal number after a name: "Queen Elizabeth the Fifth".
    r"(?:king|queen|emperor|empress|pharaoh|tsar|czar|sultan|prince|princess|pope|duke|"
    r"duchess) [a-z]+ the (?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
    r"tenth|eleventh|twelfth|\d+(?:st|nd|rd|th))|"
    + _FANTASY
    + r" (?:wrangler|trainer|tamer|slayer|hunter|rider|keeper|whisperer|herder|"
    r"catcher|breeder|farmer|handler)s?|(?:tam|rid|train|wrangl|slay|hunt|herd)\w* "
    + _FANTASY
    + r"|batman|spider[- ]?man|superman|wonder woman|captain america|mickey mouse|"
    r"minnie mouse|donald duck|daffy duck|bugs bunny|scooby[- ]doo|sponge ?bob|homer simpson|"
    r"harry potter|darth vader|luke skywalker|sherlock holmes|james bond|007|santa claus|"
    r"easter bunny|tooth fairy|hogwarts|narnia|middle[- ]earth|gotham city|atlantis|"
    r"time travel\w*|breathe (?:under ?water|in space)|(?:speak|fluent in|fluent) (?:fluent )?"
    r"(?:dolphin|whale|klingon|elvish|parseltongue|martian)|read (?:people'?s )?minds|"
    r"telepath\w*|telekines\w*|teleport\w*|immortal|super ?powers?|magic(?:al)? powers?|"
    r"(?:galactic|intergalactic|interstellar) (?:council|empire|federation|senate|fleet|"
    r"police|government)|intergalactic|billionaire|god of|(?<!over )the moon|on mars|"
    r"professional (?:napper|sleeper)|pirate captain)\b",
    re.I,
)
_REFUSAL = re.compile(
    r"\b(?:none of your (?:damn |god ?damn |fucking )?business|not your business|i won'?t "
    r"(?:tell|say|answer|give)|not (?:gonna|going to) (?:tell|say|answer|give)|i refuse|"
    r"no comment|not telling|not (?:giving|sharing) (?:you|that)|mind your own|"
    r"i'?m not (?:answering|saying|telling|giving)|i don'?t have to (?:tell|answer|say)|"
    r"why (?:should|would) i (?:tell|say|answer|give)|no way (?:i'?m|am i) (?:telling|"
    r"answering|saying|giving))\b",
    re.I,
)
# Whole answers that say nothing; judged clause by clause, without the small talk around them.
_EVASIVE_CLAUSE = re.compile(
    r"^(?:whatever|stuff|things|this and that|nothing much|who knows|who cares|doesn'?t matter|"
    r"does it matter|you tell me|what do you think|here and there|around|somewhere|"
    r"sometime|at some point|a while|a while ago|various (?:things|stuff)|"
    r"maybe|depends|it depends|it'?s complicated|it'?s a long story|long story|"
    r"that'?s private|that'?s personal|pass|i'?ll pass)$",
    re.I,
)
_EVASIVE_TALK = re.compile(
    r"^(?:oh|well|so|eh|ah|hmm|um|uh|you know|really|i guess|i suppose|honestly|let'?s say|"
    r"i mean|like)$",
    re.I,
)
_EVASIVE = re.compile(
    r"\bwhy (?:the (?:hell|heck|fuck) |on earth )?(?:do|would) you (?:want|need) to know\b|"
    r"\bwhy does it matter\b|\bwhat'?s it to (?:you|ya)\b|\bwhy are you asking\b|"
    r"\bwho wants to know\b|\b(?:i'?d )?rather not (?:say|answer|tell|get into|talk about|"
    r"go into)\b|\b(?:don'?t|do not) (?:really )?(?:want|care) to (?:say|answer|tell|get into|"
    r"go into|talk about|discuss)\b|\bprefer not to (?:say|answer|tell|discuss)\b|"
    r"\bpass on (?:that|this)\b|\bskip (?:that|this)(?: one| question)?$",
    re.I,
)
# A number said as a year: after "since", "from", "started in" ..., or in a range ("1700 to
# 1990"). A bare "1500" may be money, and a bare year answer is checked on the timeline.
_YEAR_SAID = re.compile(
    r"\b(?:since|until|till|from|between|(?:started|began|joined|left|quit|"
    r"back) in|in the year) (\d{4})\b",
    re.I,
)
_YEAR_RANGE = re.compile(r"\b(\d{4}) ?(?:-|to|until|till|through|and) ?(\d{4})\b", re.I)
# Only the caller's age now: "I was 10 when I started" is a plausible story.
_AGE = re.compile(r"\b(?:i'?m|i am|i turned) (\d{1,4}) (?:years? old|years of age)\b", re.I)


def text_signals(text: str, *, now_year: int) -> list[tuple[str, str]]:
    """Signals in one caller utterance, as (name, evidence) pairs.

    Evasion is not among them: a phrase like "around" is only evasive when it did not answer
    the question, which the dialog decides (`is_evasive`).
    """
    clean = normalize(text)
    found: list[tuple[str, str]] = []
    for name, pattern in (
        ("prompt_injection", _INJECTION),
        ("hostility", _HOSTILITY),
        ("absurd_claim", _ABSURD),
        ("refusal", _REFUSAL),
    ):
        if match := pattern.search(clean):
            found.append((name, match[0]))
    digits = words_to_digits(clean)
    years = sorted(
        (m.start(i), m[i])
        for pattern in (_YEAR_SAID, _YEAR_RANGE)
        for m in pattern.finditer(digits)
        for i in range(1, pattern.groups + 1)
    )
    if wrong := next(
        (y for _, y in years if not EARLIEST_PLAUSIBLE_YEAR <= int(y) <= now_year), None
    ):
        found.append(("impossible_year", wrong))
    if age := next((m for m in _AGE.finditer(digits) if int(m[1]) not in _PLAUSIBLE_AGES), None):
        found.append(("impossible_age", age[0]))
    return found


def job_signals(
    start: int | None,
    end: int | None,
    others: Iterable[tuple[int | None, int | None]],
    *,
    now_year: int,
) -> list[tuple[str, str]]:
    """Timeline signals for one job against itself and the jobs already recorded."""
    found: list[tuple[str, str]] = []
    for year in (start, end):
        if year is not None and not EARLIEST_PLAUSIBLE_YEAR <= year <= now_year:
            found.append(("impossible_year", str(year)))
            break
    if start is not None and end is not None and end < start:
        found.append(("contradiction", f"ends {end} before it starts {start}"))
        return found
    if start is None:
        return found
    mine_end = now_year if end is None else end
    for other_start, other_end in others:
        if other_start is None:
            continue
        overlap = min(mine_end, now_year if other_end is None else other_end) - max(
            start, other_start
        )
        if overlap >= 2:
            found.append(
                ("contradiction", f"overlaps another job {other_start}-{other_end or 'now'}")
            )
            break
    return found


def adversarial_score(signals: Iterable[str]) -> float:
    """0-10 from signal names, per the weights table in this module's docstring."""
    counts = Counter(signals)
    walked_out = not WALKOUT_AFTER.isdisjoint(counts)
    total = 0.0
    for name, count in counts.items():
        weight = SIGNAL_WEIGHTS.get(name, 1.0)
        if name == "early_hangup" and walked_out:
            weight = WALKOUT_WEIGHT
        total += weight * (1 + _REPEAT_FACTOR * (min(count, _MAX_COUNTED) - 1))
    return round(min(total, 10.0), 1)


def confidence_score(
    *,
    confirmed: bool | None,
    speech_confidences: list[float],
    completeness: float,
    adversarial: float,
) -> float:
    """0-1: how far the profile can be trusted.

    0.35 x confirmation (read-back confirmed 1.0, read-back disputed or unanswered 0.4, never
    reached 0) + 0.25 x mean speech-recognition confidence (0.6 when Twilio gave none)
    + 0.40 x timeline completeness (share of the asked-for fields filled and gaps explained);
    then scaled down by up to a half as the adversarial score rises.
    """
    confirmation = {True: 1.0, False: 0.4, None: 0.0}[confirmed]
    speech = sum(speech_confidences) / len(speech_confidences) if speech_confidences else 0.6
    raw = 0.35 * confirmation + 0.25 * speech + 0.40 * max(0.0, min(completeness, 1.0))
    return round(raw * (1 - 0.5 * adversarial / 10), 3)


def is_evasive(text: str) -> bool:
    """A non-answer such as "whatever", "oh, this and that, you know", "I'd rather not say"
    or "why do you want to know"."""
    clean = normalize(text)
    if _EVASIVE.search(clean):
        return True
    clauses = [c.strip() for c in re.split(r"[,.;!?]+", clean) if c.strip()]
    said = [c for c in clauses if not _EVASIVE_TALK.match(c)]
    return bool(said) and all(_EVASIVE_CLAUSE.match(c) for c in said)


def strip_injection(text: str) -> str:
    """The utterance without its instruction-like part, so only the answer is understood.

    Sentences that look like instructions to the agent are dropped; speech-to-text often has
    no punctuation, so an unpunctuated injection is cut from where it starts.
    """
    kept = []
    for sentence in re.split(r"(?<=[.!?;])\s+", text):
        if match := _INJECTION.search(sentence):
            head = sentence[: match.start()]
            # "...and ignore your instructions": the head may end with a dangling connective.
            head = re.sub(
                r"[\s,]*(?:and|but|so|also|now|please|okay|ok)?[\s,]*$", "", head, flags=re.I
            )
            if head.strip():
                kept.append(head.strip())
        else:
            kept.append(sentence)
    return " ".join(kept).strip()
