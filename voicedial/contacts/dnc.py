"""Do-not-call files: the numbers of a `--dnc` file, normalised as contacts are."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from voicedial.contacts.listfile import inspect, read_chunks
from voicedial.contacts.phones import normalise, valid_region
from voicedial.errors import UsageError

__all__ = ["load_dnc"]


def load_dnc(path: str | Path, *, region: str = "US") -> set[str]:
    """The do-not-call numbers of a file, as a set of E.164 strings.

    The file is either a CSV with a phone column (same rules as a contact list) or a plain
    list, one number per line (lines starting with ``#`` are comments). Entries that are not
    valid numbers are ignored: they could never match a valid contact. An empty file is an
    empty list.
    """
    if not valid_region(region):
        raise UsageError(f"unknown phone region {region!r}: use a two-letter code such as US")
    path = Path(path)
    layout = inspect(path, needs_phone=False, allow_empty=True)
    numbers: set[str] = set()
    if not layout.header:
        return numbers
    if layout.phone is not None:
        raws: Iterable[str] = (
            raw
            for chunk, _ in read_chunks(path, layout, 100_000)
            for raw in chunk[f"c{layout.phone}"].str.strip().tolist()
        )
    else:
        with path.open(encoding="utf-8-sig", newline="") as text:
            raws = [
                line.split(layout.delimiter, 1)[0].strip()
                for line in text.read().splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            ]
    for raw in set(raws):
        if raw and (e164 := normalise(raw, region.upper())) is not None:
            numbers.add(e164)
    return numbers
