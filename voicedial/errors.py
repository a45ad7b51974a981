"""The one exception tree of voicedial. Dependency errors are mapped into it at the boundary."""


class VoicedialError(Exception):
    """Base of every error voicedial raises on purpose."""

    exit_code = 1


class UsageError(VoicedialError):
    """Bad usage, bad configuration or an unusable input file (exit 2)."""

    exit_code = 2


class InputFileError(UsageError):
    """A contacts, DNC or personas file that cannot be used at all."""


class ConfigError(UsageError):
    """A setting that cannot work (a bad URL, a missing secret)."""


class RedisUnavailable(VoicedialError):
    """Redis could not be reached or the embedded server could not start."""


class TelephonyError(VoicedialError):
    """Twilio (or the emulator) refused or failed a request."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        status: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.retryable = retryable


class StorageError(VoicedialError):
    """Object storage (S3 or local files) failed."""


class DeliveryError(VoicedialError):
    """A webhook delivery failed or was refused."""
