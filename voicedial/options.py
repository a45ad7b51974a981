"""A campaign's options: set by `campaign run`, saved in Redis so that every worker and callback
server of the campaign, on any machine, acts on the same ones."""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, Field

from voicedial.compliance.windows import CallingWindow

__all__ = ["CampaignOptions"]


class CampaignOptions(BaseModel):
    """Everything about a campaign that is not a contact."""

    name: str
    from_number: str
    account_sid: str
    provider: str = "sim"
    agent: str = "scripted"
    cps: float = Field(default=1.0, gt=0)
    burst: int = Field(default=1, ge=1)
    max_concurrent: int = Field(default=10, ge=1)
    max_attempts: int = Field(default=3, ge=1)
    retry_delay_s: float = Field(default=3600.0, ge=0)
    retry_backoff: float = Field(default=2.0, ge=1)
    hours_start: time = time(9, 0)
    hours_end: time = time(20, 0)
    days: list[int] = Field(default_factory=lambda: list(range(6)))
    windows_enforced: bool = True
    region: str = "US"
    ring_timeout_s: int = 30
    time_limit_s: int = 600
    #: A call with no callback for this long (past its ring timeout while it rings) is looked
    #: up at Twilio: its final status callback may have been lost.
    quiet_after_s: int = Field(default=60, ge=1)
    #: How long a finished campaign's state stays in Redis (storage keeps the rest).
    retain_s: float = Field(default=30 * 86400.0, ge=0)
    record: bool = False
    webhook_url: str | None = None
    org_name: str = "voicedial"

    @property
    def window(self) -> CallingWindow:
        """The calling window these options describe."""
        return CallingWindow(
            start=self.hours_start,
            end=self.hours_end,
            days=frozenset(self.days),
            enforced=self.windows_enforced,
        )

    @property
    def lease_ms(self) -> int:
        """How long a call holds its concurrency slot without news before it is presumed lost."""
        return (self.ring_timeout_s + self.time_limit_s + 120) * 1000

    def retry_delay_ms(self, attempts: int) -> int:
        """Delay before attempt `attempts + 1`: --retry-delay, times backoff per earlier retry."""
        return int(self.retry_delay_s * self.retry_backoff ** max(0, attempts - 1) * 1000)
