"""Call recordings (`--record`): Twilio's `RecordingUrl`, fetched with the account's credentials
and stored beside the profile. Only the account's own API host is ever fetched from, so a
recording URL can never point voicedial at another server."""

from __future__ import annotations

from urllib.parse import urlparse

import httpx

from voicedial.errors import StorageError

__all__ = ["RecordingFetcher"]


class RecordingFetcher:
    """Downloads recordings of one Twilio account (or the emulator standing in for it)."""

    def __init__(
        self, *, account_sid: str, auth_token: str, api_url: str, timeout_s: float = 30.0
    ) -> None:
        self._host = urlparse(api_url).netloc
        self._client = httpx.AsyncClient(
            auth=(account_sid, auth_token), timeout=timeout_s, follow_redirects=True
        )

    def allowed(self, url: str) -> bool:
        """True for a URL on the account's API host."""
        parsed = urlparse(url)
        return parsed.scheme in ("http", "https") and parsed.netloc == self._host

    async def fetch(self, url: str) -> bytes | None:
        """The recording as WAV (Twilio serves a format by the extension asked for), or None
        when Twilio has none (404: deleted, or never made).

        Any other failure raises StorageError, so the outbox keeps the event and tries again.
        """
        if not self.allowed(url):
            raise StorageError(f"recording URL not on the account's API host: {url}")
        wav = url if url.endswith(".wav") else url + ".wav"
        try:
            response = await self._client.get(wav)
        except httpx.HTTPError as exc:
            raise StorageError(f"cannot fetch the recording: {type(exc).__name__}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise StorageError(f"cannot fetch the recording: HTTP {response.status_code}")
        return response.content

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
