"""Twilio's callbacks as they arrive: the urlencoded form (and query string), and the
X-Twilio-Signature that proves Twilio sent them."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import unquote_to_bytes, urlparse

from twilio.request_validator import RequestValidator, add_port, remove_port

__all__ = ["Form", "SignatureCheck", "parse_urlencoded"]


class Form(dict[str, str]):
    """A parsed form: each name's last value (what handlers read), and every value of a name
    that was repeated (what Twilio signs)."""

    __slots__ = ("_repeated",)

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        pairs = list(pairs)
        super().__init__(pairs)
        self._repeated: dict[str, list[str]] = {}
        if len(self) < len(pairs):  # some name came more than once
            for name, value in pairs:
                self._repeated.setdefault(name, []).append(value)

    def getall(self, name: str) -> list[str]:
        """Every value of `name`, in order (the accessor `compute_signature` asks for first)."""
        return self._repeated[name] if name in self._repeated else [self[name]]


def parse_urlencoded(data: bytes) -> Form:
    """An ``application/x-www-form-urlencoded`` body or a query string, decoded as UTF-8
    (UnicodeDecodeError otherwise).

    Twilio posts every webhook in this encoding (never multipart), so the callbacks need no
    general form parser. The result is that of ``urllib.parse.parse_qsl(keep_blank_values=True)``
    (tests/test_server.py compares them); only the names and values holding ``+`` or ``%`` are
    unquoted, which in a callback are few and repeat (numbers, timestamps)."""
    pairs = []
    for part in data.decode("utf-8").split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "+" in name or "%" in name:
            name = _unquote_plus(name)
        if "+" in value or "%" in value:
            value = _unquote_plus(value)
        pairs.append((name, value))
    return Form(pairs)


@lru_cache(maxsize=1024)
def _unquote_plus(text: str) -> str:
    # urllib's unquote_plus(text), in one pass instead of one per run of escapes; cached,
    # because a campaign's callbacks repeat the same few (its caller ID, the called number
    # three times a call, the timestamp of the second).
    return unquote_to_bytes(text.replace("+", " ")).decode("utf-8", "replace")


class SignatureCheck:
    """Checks X-Twilio-Signature on requests to one public URL with the twilio SDK's own
    algorithm (`RequestValidator.compute_signature`: HMAC-SHA1 of the URL and sorted params).

    `RequestValidator.validate` accepts a signature made over the URL with or without its port
    (Twilio's signing is inconsistent there); to do so it parses the URL and computes both
    HMACs on every request. Here the two base URLs are derived once, with the SDK's
    `add_port`/`remove_port`, and the one Twilio was given is tried first: a genuine callback
    costs one HMAC, a forged one two, and the signatures accepted are the same."""

    def __init__(self, auth_token: str, public_url: str) -> None:
        self._validator = RequestValidator(auth_token)
        parsed = urlparse(public_url.rstrip("/"))
        variants = [remove_port(parsed), add_port(parsed)]
        variants.sort(key=lambda url: url != parsed.geturl())  # the URL as given, first
        self._bases = tuple(dict.fromkeys(variants))

    def verify(self, path_and_query: str, form: Form, signature: str) -> bool:
        """Whether `signature` is Twilio's for this request (False when it is empty)."""
        if not signature:
            return False
        given = signature.encode("utf-8")
        for base in self._bases:
            expected = self._validator.compute_signature(base + path_and_query, form)
            if hmac.compare_digest(expected.encode("utf-8"), given):
                return True
        return False
