"""Calling windows: each contact is dialled only inside --hours/--days in its own local time,
in every zone its number may be in, and never outside 08:00-21:00 local."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from voicedial.errors import UsageError

__all__ = ["LEGAL_HOURS", "CallingWindow", "parse_days", "parse_hours"]

LEGAL_HOURS = (time(8, 0), time(21, 0))
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_hours(text: str) -> tuple[time, time]:
    """'09:00-20:00' -> (09:00, 20:00); UsageError with a one-line reason otherwise."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not match:
        raise UsageError(f"--hours {text!r}: expected HH:MM-HH:MM, e.g. 09:00-20:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
        raise UsageError(f"--hours {text!r}: not a time of day")
    start, end = time(h1, m1), (time(23, 59, 59) if h2 == 24 else time(h2, m2))
    if end <= start:
        raise UsageError(f"--hours {text!r}: the end must be after the start")
    first, last = LEGAL_HOURS
    if end <= first or start >= last:
        raise UsageError(
            f"--hours {text!r}: outside {first:%H:%M}-{last:%H:%M}, the only local hours calls "
            "are placed in; nobody would ever be dialled"
        )
    return start, end


def parse_days(text: str) -> frozenset[int]:
    """'mon-fri', 'mon,wed,sat' or 'mon-sun' -> weekday numbers (Monday 0)."""
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        if not part:
            continue
        ends = part.split("-")
        try:
            idx = [_DAY_NAMES.index(e[:3]) for e in ends]
        except ValueError:
            raise UsageError(f"--days {text!r}: use day names like mon-fri or sat,sun") from None
        if len(idx) == 1:
            days.add(idx[0])
        elif len(idx) == 2:
            a, b = idx
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        else:
            raise UsageError(f"--days {text!r}: use day names like mon-fri or sat,sun")
    if not days:
        raise UsageError(f"--days {text!r}: no days given")
    return frozenset(days)


@dataclass(frozen=True)
class CallingWindow:
    """Local hours and weekdays in which a contact may be called.

    `enforced=False` (the emulator without explicit --hours/--days) opens every window.
    """

    start: time = time(9, 0)
    end: time = time(20, 0)
    days: frozenset[int] = field(default_factory=lambda: frozenset(range(6)))
    enforced: bool = True

    def _bounds(self) -> tuple[time, time]:
        # The legal limit always applies, whatever --hours says.
        return max(self.start, LEGAL_HOURS[0]), min(self.end, LEGAL_HOURS[1])

    def _open_in(self, zone: str, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(zone))
        start, end = self._bounds()
        return local.weekday() in self.days and start <= local.time() < end

    def is_open(self, zones: Iterable[str], now: datetime) -> bool:
        """True when `now` (aware) is inside the window in every one of `zones`."""
        if not self.enforced:
            return True
        zones = tuple(zones) or ("UTC",)
        return all(self._open_in(z, now) for z in zones)

    def next_open(self, zones: Iterable[str], now: datetime) -> datetime | None:
        """The first instant at or after `now` when the window is open in every zone.

        The intersection of the zones' windows starts at one of the zones' own opening times,
        so only those (for the next eight days) need checking. None if it never opens.
        """
        zones = tuple(zones) or ("UTC",)
        if self.is_open(zones, now):
            return now
        start, _ = self._bounds()
        candidates: list[datetime] = []
        for zone in zones:
            tz = ZoneInfo(zone)
            local_today = now.astimezone(tz).date()
            for offset in range(9):
                day = local_today + timedelta(days=offset)
                opening = datetime.combine(day, start, tzinfo=tz)
                if opening > now:
                    candidates.append(opening)
        for candidate in sorted(candidates):
            if self.is_open(zones, candidate):
                return candidate
        return None

    def next_open_any(self, zone_sets: Iterable[Iterable[str]], now: datetime) -> datetime | None:
        """The first instant at or after `now` when the window is open for at least one of
        `zone_sets` (each a contact's zones): a whole campaign judged at once. None if it never
        opens for any."""
        openings = [self.next_open(zones, now) for zones in zone_sets]
        found = [o for o in openings if o is not None]
        return min(found) if found else None
