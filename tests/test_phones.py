"""Phone numbers: E.164 normalisation, the keyed hash, time zones."""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers
import pytest

from voicedial.contacts.phones import (
    analyse,
    contact_id_for,
    normalise,
    phone_hash,
    valid_timezone,
    zones_for_number,
)

US = "+12015550123"  # 201-555-01XX: fictional, and valid per phonenumbers


def _example(region: str) -> str:
    number = phonenumbers.example_number(region)
    assert number is not None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_phone_hash_is_hmac_sha256_hex() -> None:
    key = b"test-key"
    expected = hmac.new(key, US.encode(), hashlib.sha256).hexdigest()
    assert phone_hash(US, key) == expected
    assert phone_hash(US, b"other-key") != expected
    assert contact_id_for(expected) == expected[:20]


@pytest.mark.parametrize(
    "raw",
    [
        "(201) 555-0123",
        "201.555.0123",
        "201-555-0123",
        " 2015550123 ",
        "1 201 555 0123",
        "+1 (201) 555-0123",
        "+1-201-555-0123",
        "011 1 201 555 0123",
        "201 555 0123 ext. 45",
    ],
)
def test_normalise_us_formats(raw: str) -> None:
    assert normalise(raw) == US


@pytest.mark.parametrize(
    "raw", ["", "12", "abc", "555-0123", "+1 201 555", "0000000000", "+999 1234567", "x" * 300]
)
def test_normalise_rejects_invalid(raw: str) -> None:
    assert normalise(raw) is None
    assert analyse(raw) is None


def test_normalise_reads_national_numbers_in_region() -> None:
    gb = phonenumbers.example_number("GB")
    assert gb is not None
    national = phonenumbers.format_number(gb, phonenumbers.PhoneNumberFormat.NATIONAL)
    assert normalise(national, "GB") == _example("GB")
    assert normalise(national, "gb") == _example("GB")
    # "+" formats work whatever the region
    assert normalise(_example("GB"), "US") == _example("GB")


@pytest.mark.parametrize(
    "region",
    [
        "US",
        "CA",
        "GB",
        "DE",
        "FR",
        "IT",
        "IN",
        "BR",
        "AU",
        "JP",
        "RU",
        "KZ",
        "JE",
        "IM",
        "MX",
        "NG",
        "ZA",
        "SG",
    ],
)
def test_validity_matches_phonenumbers(region: str) -> None:
    """Our single classification agrees with phonenumbers.is_valid_number."""
    for kind in (
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.TOLL_FREE,
    ):
        number = phonenumbers.example_number_for_type(region, kind)
        if number is None:
            continue
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        assert (normalise(e164) is not None) == phonenumbers.is_valid_number(number)
        broken = e164[:-2]
        assert (normalise(broken) is not None) == phonenumbers.is_valid_number(
            phonenumbers.parse(broken)
        )


def test_zones_for_a_geographic_number() -> None:
    assert zones_for_number(US) == ("America/New_York",)
    assert analyse("(201) 555-0123") == (US, ("America/New_York",))


def test_zones_for_multi_zone_numbers() -> None:
    toll_free = phonenumbers.example_number_for_type("US", phonenumbers.PhoneNumberType.TOLL_FREE)
    assert toll_free is not None
    e164 = phonenumbers.format_number(toll_free, phonenumbers.PhoneNumberFormat.E164)
    zones = zones_for_number(e164)
    assert len(zones) > 1
    assert "America/New_York" in zones and "America/Los_Angeles" in zones
    assert all(valid_timezone(zone) for zone in zones)
    assert zones == tuple(
        z for z in phonenumbers.timezone.time_zones_for_number(toll_free) if z != "Etc/Unknown"
    )


def test_unknown_zone_is_dropped() -> None:
    freephone = phonenumbers.example_number_for_non_geo_entity(800)
    assert freephone is not None
    assert phonenumbers.timezone.time_zones_for_number(freephone) == ("Etc/Unknown",)
    e164 = phonenumbers.format_number(freephone, phonenumbers.PhoneNumberFormat.E164)
    assert zones_for_number(e164) == ()
    assert zones_for_number("not a number") == ()


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("America/Chicago", True),
        ("Europe/London", True),
        ("UTC", True),
        ("Europe/Londn", False),
        ("america/chicago", False),
        ("America", False),
        ("../etc/passwd", False),
        ("", False),
        (" America/Chicago", False),
        ("Mars/Base", False),
    ],
)
def test_valid_timezone(name: str, ok: bool) -> None:
    assert valid_timezone(name) is ok


def test_numbers_in_messages_are_masked() -> None:
    from twilio.base.exceptions import TwilioRestException

    from voicedial.contacts.phones import mask_numbers
    from voicedial.dialing.twilio import _map_rest_error

    assert mask_numbers("to +15005550006 and 2015550123.") == "to [number] and [number]."
    assert (
        mask_numbers("CallSid CA1234567890abcdef, code 21210")
        == "CallSid CA1234567890abcdef, code 21210"
    )
    refused = _map_rest_error(
        TwilioRestException(
            400,
            "https://api",
            "The source phone number provided, +15005550006, is not yet verified for your account.",
            code=21210,
        )
    )
    assert "+1500" not in str(refused) and "[number]" in str(refused)
    assert refused.code == 21210 and not refused.retryable
