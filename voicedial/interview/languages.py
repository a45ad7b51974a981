"""The languages an interview can be held in, by code; `InterviewState.language` names one.

A built-in language is listed in `BUILT_IN`; one defined elsewhere is added at run time with
`register_language`.
"""

from __future__ import annotations

from voicedial.errors import ConfigError
from voicedial.interview.english import ENGLISH
from voicedial.interview.language import Language

__all__ = ["BUILT_IN", "get_language", "language_codes", "register_language"]

BUILT_IN: tuple[Language, ...] = (ENGLISH,)
_LANGUAGES: dict[str, Language] = {language.code: language for language in BUILT_IN}


def register_language(language: Language) -> None:
    """Make `language` available by its code; registering the same one again changes nothing.

    Raises `ValueError` if another language already has that code.
    """
    known = _LANGUAGES.setdefault(language.code, language)
    if known is not language:
        raise ValueError(f"interview language {language.code!r} is already registered")


def get_language(code: str) -> Language:
    """The language registered as `code`; `ConfigError` if there is none."""
    try:
        return _LANGUAGES[code]
    except KeyError:
        known = ", ".join(language_codes())
        raise ConfigError(f"unknown interview language {code!r}; known: {known}") from None


def language_codes() -> list[str]:
    """The registered codes, sorted."""
    return sorted(_LANGUAGES)
