"""Faults the emulator injects on request, as Twilio and networks produce them: creates that are
refused (429 with Twilio's error 20429, or a 500), creates that are accepted but answered too
late (the caller sees a timeout after Twilio placed the call), and status callbacks that are
dropped, sent twice, or overtaken by the next one. Each is a probability per event, drawn from a
seeded generator of its own, so a rehearsal can be repeated: the n-th create meets the same
fault on every run, however the callbacks of the calls before it interleave."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Faults"]

_KINDS = (
    "create_429",
    "create_500",
    "slow_create",
    "drop_callbacks",
    "duplicate_callbacks",
    "reorder_callbacks",
)


@dataclass
class Faults:
    """How often each fault happens (0 to 1 each), and how late a slow create is answered."""

    create_429: float = 0.0
    create_500: float = 0.0
    slow_create: float = 0.0
    slow_create_s: float = 20.0
    drop_callbacks: float = 0.0
    duplicate_callbacks: float = 0.0
    reorder_callbacks: float = 0.0
    seed: int = 0
    _rngs: dict[str, random.Random] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in _KINDS:
            # Named as `voicedial sim` spells its options, which map one to one.
            if not 0.0 <= (value := getattr(self, name)) <= 1.0:
                raise ValueError(f"--fault-{name.replace('_', '-')} {value:g}: a share from 0 to 1")
        if self.slow_create_s < 0:
            raise ValueError(f"--fault-slow-create-s {self.slow_create_s:g}: not negative")
        self._rngs = {kind: random.Random(f"{self.seed}:{kind}") for kind in _KINDS}

    def hit(self, kind: str) -> bool:
        """Whether this event gets the fault `kind` (a field's name: "create_429" ...)."""
        rate: float = getattr(self, kind)
        return rate > 0 and self._rngs[kind].random() < rate

    @property
    def any(self) -> bool:
        """True when some fault may happen."""
        return any(
            (
                self.create_429,
                self.create_500,
                self.slow_create,
                self.drop_callbacks,
                self.duplicate_callbacks,
                self.reorder_callbacks,
            )
        )
