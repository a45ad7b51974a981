"""Short answers that steer the call: yes or no, opt-out, stop, "I don't know",
"nothing more", "not working"."""

from __future__ import annotations

import re

from voicedial.interview.english.spoken import normalize

__all__ = [
    "is_dont_know",
    "is_no_more",
    "is_not_working",
    "is_opt_out",
    "is_stop",
    "parse_yes_no",
]

_YES_IDIOMS = re.compile(
    r"\b(?:no problem|no worries|not a problem|why not|i don'?t mind|don'?t mind|of course|"
    r"no objection)\b",
    re.IGNORECASE,
)
_NO = re.compile(
    r"\b(?:no|nope|nah|not really|rather not|don'?t want|do not want|not interested|decline|"
    r"i don'?t consent|do not consent|no thanks|no thank you|not now|negative|wrong|incorrect|"
    r"not right|not correct|that'?s not|isn'?t right|absolutely not|no way)\b",
    re.IGNORECASE,
)
_YES = re.compile(
    r"\b(?:yes|yeah|yea|yep|yup|ya|sure|ok|okay|go ahead|fine|certainly|absolutely|alright|"
    r"all right|correct|that'?s right|right|sounds good|please do|i agree|i consent|agreed|"
    r"uh[- ]?huh|mhm|definitely|yes please|go for it|that'?s fine|you may|you can|exactly|"
    r"that'?s it|perfect|good)\b",
    re.IGNORECASE,
)


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
    re.IGNORECASE,
)
_STOP = re.compile(
    r"^(?:please )?stop\b|\bstop (?:the|this) (?:call|interview)|\bstop asking|"
    r"\bi (?:have|'ve got|got|need|must|gotta) (?:to )?go\b|\bi gotta go\b|\bi'?m done\b|"
    r"\bend (?:the|this) call\b|\bhang(?:ing)? up\b|\bthat'?s enough\b|\bno more questions\b|"
    r"\bcan'?t talk\b|\bnot a good time\b|\bcall (?:me )?(?:back )?later\b|^(?:good)?bye\b|"
    r"\bi'?m busy\b|\bi don'?t have time\b|\bleave me alone\b",
    re.IGNORECASE,
)
_DONT_KNOW = re.compile(
    r"\b(?:i )?(?:don'?t|do not) (?:really )?(?:know|remember|recall)\b|\bnot sure\b|"
    r"\bno idea\b|\bcan'?t (?:remember|recall)\b|\bi forg[eo]t\b|\bdunno\b|\bno clue\b|"
    r"\bunsure\b|\bhard to say\b",
    re.IGNORECASE,
)
_NO_MORE = re.compile(
    r"^(?:no|nope|nah|none|nothing|no,? that'?s it|no,? none|not really)$|\bthat'?s (?:it|all)\b|"
    r"\bno (?:other|more|earlier|previous|prior) (?:jobs?|work|employers?)\b|\bno more\b|"
    r"\bnothing (?:else|before)\b|\b(?:that|this|it) (?:was|is) my (?:first|only) job\b|"
    r"\bfirst job\b|\bonly job\b|\bnone\b|\bno,? (?:that was|there was) (?:it|nothing)\b|"
    r"\bnever (?:had|worked) (?:another|any other|before)\b|\bthere (?:were|was) none\b|"
    r"\bno(?:,)? i didn'?t\b|\bthat was it\b|\bthat'?s everything\b",
    re.IGNORECASE,
)
_NOT_WORKING = re.compile(
    r"\b(?:unemployed|not working|don'?t (?:have|got) a job|no job|out of work|between jobs|"
    r"looking for (?:a )?(?:job|work)|retired|laid off|not employed|jobless|"
    r"stay[- ]at[- ]home)\b",
    re.IGNORECASE,
)


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
