"""The Twilio account a command works on: real credentials, or the emulator's."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlparse

from voicedial.dialing.twilio import TwilioProvider
from voicedial.errors import ConfigError
from voicedial.settings import SIM_ACCOUNT_SID, SIM_AUTH_TOKEN, Settings

__all__ = ["Account", "account_for"]


class Account:
    """The Twilio account a command works on: real credentials, or the emulator's."""

    def __init__(self, *, sid: str, token: str, api_url: str, sim: bool) -> None:
        self.sid = sid
        self.token = token
        self.api_url = api_url
        self.sim = sim

    @property
    def emulated(self) -> bool:
        """True when no real call can be placed: the in-process emulator, or a Twilio API URL
        on loopback (`voicedial sim`)."""
        if self.sim:
            return True
        host = urlparse(self.api_url).hostname or ""
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return host == "localhost"

    def provider(self, api_url: str | None = None) -> TwilioProvider:
        """A provider for this account (api_url overrides, for an emulator on a new port)."""
        return TwilioProvider(
            account_sid=self.sid, auth_token=self.token, api_url=api_url or self.api_url
        )


def account_for(settings: Settings, provider: str | None) -> Account:
    """Pick the account: `sim` without credentials (or when asked), else Twilio's."""
    chosen = provider or ("twilio" if settings.has_twilio else "sim")
    if chosen == "sim":
        return Account(sid=SIM_ACCOUNT_SID, token=SIM_AUTH_TOKEN, api_url="", sim=True)
    if chosen != "twilio":
        raise ConfigError(f"--provider {chosen!r}: use twilio or sim")
    if not settings.has_twilio:
        raise ConfigError("--provider twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
    sid, token = settings.twilio_account_sid or "", settings.twilio_auth_token
    return Account(
        sid=sid,
        token=token.get_secret_value() if token else "",
        api_url=settings.twilio_api_url,
        sim=False,
    )
