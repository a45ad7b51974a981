"""Phone numbers: normalising to E.164, the keyed hash that stands in for a number, time zones.

Everything here is pure and cheap to call repeatedly; the zone-name check is cached because a
contact list repeats the same few `timezone` values a million times.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import zoneinfo
from collections.abc import Iterable
from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as pn_timezone

__all__ = [
    "CONTACT_ID_CHARS",
    "analyse",
    "contact_id_for",
    "mask_numbers",
    "normalise",
    "phone_hash",
    "phone_hashes",
    "valid_region",
    "valid_timezone",
    "zones_for_number",
]

#: A contact id is this many leading hex characters of its phone hash.
CONTACT_ID_CHARS = 20
_UNKNOWN_ZONE = "Etc/Unknown"
_E164 = phonenumbers.PhoneNumberFormat.E164
# A phone number written as digits, with or without "+": 7 to 15 of them, not inside a word
# (an id such as a CallSid keeps its digits).
_NUMBER_TEXT = re.compile(r"(?<!\w)\+?\d{7,15}\b")


def mask_numbers(text: str) -> str:
    """`text` with every phone number in it replaced by ``[number]`` (for messages that go to
    logs, the audit trail or Redis: Twilio's error messages quote numbers)."""
    return _NUMBER_TEXT.sub("[number]", text)


def phone_hash(e164: str, key: bytes) -> str:
    """HMAC-SHA256 of the E.164 number under `key`, as lowercase hex."""
    return hmac.new(key, e164.encode("ascii"), hashlib.sha256).hexdigest()


def phone_hashes(numbers: Iterable[bytes], key: bytes) -> list[str]:
    """`phone_hash` of many E.164 numbers (ASCII bytes) under one key, for a million-row import:
    the key's HMAC pads are hashed once and copied per number (RFC 2104), about 2.5 times as
    fast as `hmac.new` per number (1 us a number)."""
    block = hashlib.sha256().block_size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key)).copy
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key)).copy
    out: list[str] = []
    append = out.append
    for number in numbers:
        h = inner()
        h.update(number)
        o = outer()
        o.update(h.digest())
        append(o.hexdigest())
    return out


def contact_id_for(phone_hash: str) -> str:
    """A contact's stable id: the first 20 hex characters of its phone hash.

    80 bits keeps collisions out of reach for any list a dialer will see, and the id is the
    same on every re-import of the same number under the same key.
    """
    return phone_hash[:CONTACT_ID_CHARS]


def valid_region(region: str) -> bool:
    """True if `region` is a two-letter region code phonenumbers knows (``US``, ``GB`` ...)."""
    return region.upper() in phonenumbers.SUPPORTED_REGIONS


def _parse_typed(raw: str, region: str) -> tuple[phonenumbers.PhoneNumber, int] | None:
    """Parse and classify once; (number, PhoneNumberType) for a valid number, else None.

    A number is valid exactly when its type is known (that is how `is_valid_number` decides),
    and the time-zone lookup needs the type too, so one classification serves both.
    """
    try:
        number = phonenumbers.parse(raw, region.upper())
    except phonenumbers.NumberParseException:
        return None
    kind = phonenumbers.number_type(number)
    return None if kind == phonenumbers.PhoneNumberType.UNKNOWN else (number, kind)


def _zones(number: phonenumbers.PhoneNumber, kind: int) -> tuple[str, ...]:
    if number.country_code is None:  # phonenumbers.parse sets it on every number it returns
        return ()
    if phonenumbers.is_number_type_geographical(kind, number.country_code):
        names = pn_timezone.time_zones_for_geographical_number(number)
    else:  # toll-free, most mobiles outside the Americas...: the country's zones
        names = pn_timezone.time_zones_for_number(number)
    return tuple(zone for zone in names if zone != _UNKNOWN_ZONE and valid_timezone(zone))


def normalise(raw: str, region: str = "US") -> str | None:
    """The number in E.164 (``+12015550123``), or None if it is not a valid number.

    National formats are read in `region`; ``+`` and international-prefix formats work from
    any region. Spaces, dots, dashes and parentheses are ignored; an extension is dropped.
    """
    typed = _parse_typed(raw, region)
    return None if typed is None else phonenumbers.format_number(typed[0], _E164)


def analyse(raw: str, region: str = "US") -> tuple[str, tuple[str, ...]] | None:
    """`normalise` and `zones_for_number` from a single parse: (E.164, zones) or None.

    The import calls this once per distinct raw value, so parsing once matters.
    """
    typed = _parse_typed(raw, region)
    if typed is None:
        return None
    return phonenumbers.format_number(typed[0], _E164), _zones(*typed)


def zones_for_number(e164: str) -> tuple[str, ...]:
    """The IANA zones phonenumbers gives for a number; empty when it knows none."""
    typed = _parse_typed(e164, "ZZ")
    return () if typed is None else _zones(*typed)


@lru_cache(maxsize=4096)
def valid_timezone(name: str) -> bool:
    """True if zoneinfo knows `name` as an IANA zone (exact spelling, case included)."""
    if not name or name != name.strip():
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a directory of the tz database ("America") or an unreadable file.
        return False
    return True
