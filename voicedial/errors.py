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
    """The carrier (Twilio, or the emulator) refused or failed a request. The provider says
    what it means: worth retrying, a number that can never be called, an account refused, or
    a request whose effect is unknown."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        status: int | None = None,
        retryable: bool = False,
        number_invalid: bool = False,
        account_refused: bool = False,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.retryable = retryable
        self.number_invalid = number_invalid
        self.account_refused = account_refused
        # The request may have taken effect (a timeout after it was sent): never repeat a
        # create blind.
        self.outcome_unknown = outcome_unknown


class StorageError(VoicedialError):
    """Object storage (S3 or local files) failed."""


class DeliveryError(VoicedialError):
    """A webhook delivery failed or was refused."""


class RedisOutage(RedisUnavailable):
    """Redis stayed unreachable for longer than the grace a run rides out (exit 75: run
    again once it is back; nothing was lost, calls in progress were hung up)."""

    exit_code = 75
