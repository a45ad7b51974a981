"""Tidying speech-to-text output and turning spoken numbers into digits."""

from __future__ import annotations

import re

__all__ = ["normalize", "words_to_digits"]

_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
_TEENS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_NUMBER_WORDS = {**_UNITS, **_TEENS, **_TENS}
_FILLERS = re.compile(
    r"\b(?:um+|uh+|uhm|erm|er|hmm+|mm+|ah+|let me (?:think|see)|let'?s see)\b"
    r"[,.]?\s*",
    re.IGNORECASE,
)


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
    if (
        first in ("nineteen", "eighteen", "twenty")
        and rest
        and rest[0] != "hundred"
        and (first != "twenty" or rest[0] not in _UNITS)
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
    text = re.sub(
        r"\b(?:oh|o)[\s-]+(one|two|three|four|five|six|seven|eight|nine)\b",
        _oh_year,
        text,
        flags=re.I,
    )
    tokens = re.split(r"(\s+|[,.;!?-])", text)
    out: list[str] = []
    run: list[str] = []
    run_tokens: list[str] = []

    def flush(rest: str = "") -> None:
        # A lone small number is a word ("Two Men Moving", "one of them") unless it counts time.
        core = [w for w in run if w not in ("and", "oh", "o")]
        if (
            len(core) == 1
            and _NUMBER_WORDS.get(core[0], 100) < 20
            and not re.match(
                r"\s*(?:and a half )?(?:years?|yrs|months?|weeks?|days?)\b", rest, re.I
            )
        ):
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
        # "and" continues a number only after "hundred"/"thousand" ("two thousand and nine");
        # elsewhere it links two ("two thousand twelve and twenty fourteen").
        joins = run and (
            low in ("hundred", "thousand", "oh", "o")
            or not token.strip()
            or low == "-"
            or (low == "and" and run[-1] in ("hundred", "thousand"))
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
