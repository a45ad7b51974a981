"""Settings, read once from the environment and `.env` (pydantic-settings), passed down explicitly.

Command-line options override fields with `Settings.model_copy(update=...)` in the CLI layer.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from voicedial.errors import ConfigError

__all__ = [
    "SIM_ACCOUNT_SID",
    "SIM_AUTH_TOKEN",
    "Settings",
    "default_home",
    "load_settings",
    "usable_home",
]

# The emulator's account: fixed so every sim campaign on a machine shares one pacing bucket,
# as campaigns on one real account do.
SIM_ACCOUNT_SID = "AC" + "5" * 32
SIM_AUTH_TOKEN = "sim-auth-token-not-a-secret"


#: Where earlier versions kept local state by default: the working directory's `.voicedial`.
_LEGACY_HOME = Path(".voicedial")


def default_home() -> Path:
    """Local state (embedded Redis, rejects, abandoned calls) when VOICEDIAL_HOME is unset: the
    user's state directory (`$XDG_STATE_HOME/voicedial`, else `~/.local/state/voicedial`), so
    every shell of the user finds the same campaigns. A `.voicedial` an earlier version made in
    the working directory is still used there, so its campaigns are not left behind."""
    from platformdirs import user_state_path

    if (_LEGACY_HOME / "redis").is_dir():
        return _LEGACY_HOME
    return user_state_path("voicedial")


def usable_home(home: Path) -> Path:
    """`home`, made if missing; ConfigError (exit 2, one line) when it cannot be written."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"VOICEDIAL_HOME {str(home)!r} is not a writable directory ({exc.strerror or exc}): "
            "set VOICEDIAL_HOME to one that is"
        ) from None
    return home


class Settings(BaseSettings):
    """Every setting, with its default (the README and `.env.example` list them)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    home: Path = Field(default_factory=lambda: default_home(), alias="VOICEDIAL_HOME")
    twilio_account_sid: str | None = Field(default=None, alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: SecretStr | None = Field(default=None, alias="TWILIO_AUTH_TOKEN")
    twilio_phone_number: str | None = Field(default=None, alias="TWILIO_PHONE_NUMBER")
    twilio_api_url: str = Field(default="https://api.twilio.com", alias="VOICEDIAL_TWILIO_API_URL")
    public_url: str | None = Field(default=None, alias="VOICEDIAL_PUBLIC_URL")
    openai_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    openai_model: str = Field(default="gpt-4o-mini", alias="VOICEDIAL_OPENAI_MODEL")
    storage_url: str = Field(default="file://./voicedial-data", alias="VOICEDIAL_STORAGE_URL")
    s3_endpoint_url: str | None = Field(default=None, alias="S3_ENDPOINT_URL")
    webhook_url: str | None = Field(default=None, alias="VOICEDIAL_WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(default=None, alias="VOICEDIAL_WEBHOOK_SECRET")
    webhook_schedule: str | None = Field(default=None, alias="VOICEDIAL_WEBHOOK_SCHEDULE")
    webhook_timeout_s: float = Field(default=15.0, gt=0, alias="VOICEDIAL_WEBHOOK_TIMEOUT")
    allow_private_webhooks: bool = Field(default=False, alias="VOICEDIAL_ALLOW_PRIVATE_WEBHOOKS")
    phone_hash_key: SecretStr | None = Field(default=None, alias="VOICEDIAL_PHONE_HASH_KEY")
    org_name: str = Field(default="voicedial", alias="VOICEDIAL_ORG_NAME")
    redis_grace_s: float = Field(default=30.0, ge=0, alias="VOICEDIAL_REDIS_GRACE")

    @property
    def has_twilio(self) -> bool:
        """True when real Twilio credentials are configured."""
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    def proposed_hash_key(self) -> bytes | None:
        """The phone_hash key this process was given: the setting, else a key kept under
        home by an earlier version (None when neither). Redis keeps the key every process on
        it must share (`voicedial.state.identity`)."""
        if self.phone_hash_key is not None:
            return self.phone_hash_key.get_secret_value().encode()
        path = self.home / "phone_hash.key"
        return path.read_text().strip().encode() if path.exists() else None


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and `.env`; apply non-None overrides."""
    try:
        settings = Settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        first = str(exc).splitlines()
        raise ConfigError(f"bad setting: {' '.join(first[:3])}") from exc
    clean = {k: v for k, v in overrides.items() if v is not None}
    settings = settings.model_copy(update=clean) if clean else settings
    usable_home(settings.home)
    return settings
