"""Importing a contact list: a spreadsheet's CSV export in, validated contacts and rejects out.

The import streams: pandas reads the file in chunks, each chunk is cleaned column-wise, every
distinct phone string is parsed once, and only then are the per-row objects built. Nothing here
touches Redis; the caller stores what `read_contacts` yields.

Row numbers are data-record numbers (the header is not counted; a blank line is a row, so they
match a spreadsheet's row number minus one). They stay right across chunks and across rows the
CSV parser had to skip.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import warnings
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TextIO

import numpy as np
import pandas as pd

from voicedial.errors import InputFileError, UsageError
from voicedial.fastpath import UNDECIDED, VALID, classify
from voicedial.phones import (
    analyse,
    contact_id_for,
    normalise,
    phone_hasher,
    valid_region,
    valid_timezone,
)

__all__ = [
    "PHONE_COLUMNS",
    "Contact",
    "ImportBatch",
    "Reject",
    "RejectsWriter",
    "load_dnc",
    "read_contacts",
]

#: Header names that hold the phone number, in order of preference (compared case-blind).
PHONE_COLUMNS = ("phone", "phone_number", "number", "mobile", "tel")
_ID_COLUMNS = ("external_id", "id")
_DELIMITERS = (",", ";", "\t")
_SNIFF_CHARS = 64 * 1024
_BLOCK = 1 << 20
_BAD_LINE = re.compile(r"line (\d+): expected (\d+) fields?, saw (\d+)")


@dataclass(frozen=True, slots=True)
class Contact:
    """One dialable person from the list, with its number already normalised and hashed."""

    contact_id: str
    e164: str
    phone_hash: str
    external_id: str | None
    name: str | None
    timezones: tuple[str, ...]
    webhook_url: str | None
    context: dict[str, str]
    row: int  # 1-based data row number (header excluded)


@dataclass(frozen=True, slots=True)
class Reject:
    """A row that was skipped, and why (``invalid number``, ``duplicate of row N`` ...)."""

    row: int
    raw_phone: str
    reason: str


@dataclass
class ImportBatch:
    """What one chunk of the file produced. `rows_read` counts every data row consumed."""

    contacts: list[Contact]
    rejects: list[Reject]
    rows_read: int
    #: rows whose `timezone` was not an IANA zone; they use the number's zones instead
    bad_timezones: int = 0


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where things are in a file: its delimiter and which column plays which role."""

    delimiter: str
    header: list[str]
    phone: int | None
    external_id: int | None = None
    name: int | None = None
    timezone: int | None = None
    webhook_url: int | None = None
    context: dict[int, str] = field(default_factory=dict)


def read_contacts(
    path: str | Path,
    *,
    region: str = "US",
    hash_key: bytes,
    dnc: Container[str] = frozenset(),
    chunk_rows: int = 50_000,
) -> Iterator[ImportBatch]:
    """Stream a contact CSV as batches of contacts and rejects, `chunk_rows` rows at a time.

    The file is checked before the first batch: a missing, empty, binary or non-UTF-8 file,
    or one without a phone column, raises `InputFileError` with a one-line reason. After that
    a bad row never stops the import; it becomes a `Reject`. Duplicates are judged by E.164
    across the whole file (the first row wins); numbers in `dnc` (E.164) are rejected.
    """
    if not valid_region(region):
        raise UsageError(f"unknown phone region {region!r}: use a two-letter code such as US")
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    path = Path(path)
    layout = _inspect(path, needs_phone=True)
    return _batches(path, layout, region=region.upper(), hash_key=hash_key, dnc=dnc,
                    chunk_rows=chunk_rows)


def _batches(
    path: Path,
    layout: _Layout,
    *,
    region: str,
    hash_key: bytes,
    dnc: Container[str],
    chunk_rows: int,
) -> Iterator[ImportBatch]:
    seen = _Seen()  # every accepted number of the file so far, and the row that had it
    next_row = 1
    skipped: dict[int, str] = {}  # rows the CSV parser dropped, not yet numbered past
    for chunk, bad in _chunks(path, layout, chunk_rows):
        skipped.update(bad)
        rows: list[int] = []
        row = next_row
        for _ in range(len(chunk)):
            while row in skipped:
                row += 1
            rows.append(row)
            row += 1
        # Dropped rows before this chunk's end are accounted for here; later ones wait.
        while row in skipped:
            row += 1
        rejects = [Reject(r, "", reason) for r, reason in sorted(skipped.items()) if r < row]
        for r in list(skipped):
            if r < row:
                del skipped[r]
        batch = _process(chunk, rows, layout, region=region, hash_key=hash_key, dnc=dnc,
                         seen=seen)
        batch.rejects.extend(rejects)
        batch.rejects.sort(key=lambda reject: reject.row)
        batch.rows_read = row - next_row
        next_row = row
        if batch.rows_read:
            yield batch
    if skipped:  # malformed rows after the last parsed one
        yield ImportBatch([], [Reject(r, "", why) for r, why in sorted(skipped.items())],
                          rows_read=len(skipped))


def _chunks(path: Path, layout: _Layout,
            chunk_rows: int) -> Iterator[tuple[pd.DataFrame, dict[int, str]]]:
    """The file's data as string DataFrames, each with the rows the parser skipped meanwhile.

    A row with more fields than the header cannot be trusted (its columns have shifted), so
    pandas skips it; its warning names the record, which is how the row numbers stay right.
    """
    names = [f"c{i}" for i in range(len(layout.header))]
    try:
        reader = pd.read_csv(
            path,
            sep=layout.delimiter,
            header=0,
            names=names,
            index_col=False,
            dtype=str,
            na_filter=False,  # every cell a str; an empty cell is ""
            skip_blank_lines=False,  # a blank line is still a row, so numbering matches
            encoding="utf-8-sig",
            on_bad_lines="warn",
            chunksize=chunk_rows,
            engine="c",
        )
        with reader:
            while True:
                chunk: pd.DataFrame | None
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", pd.errors.ParserWarning)
                    chunk = next(reader, None)
                bad: dict[int, str] = {}
                for warning in caught:
                    if not issubclass(warning.category, pd.errors.ParserWarning):
                        warnings.warn_explicit(warning.message, warning.category,
                                               warning.filename, warning.lineno)
                        continue
                    for line, expected, saw in _BAD_LINE.findall(str(warning.message)):
                        # pandas counts records from 1 with the header as record 1.
                        bad[int(line) - 1] = (
                            f"malformed row: {saw} fields, header has {expected}")
                if chunk is None:  # the end; the last read may still have skipped rows
                    if bad:
                        yield pd.DataFrame({name: pd.Series([], dtype=str) for name in names}), bad
                    return
                yield chunk, bad
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: unreadable CSV: {_one_line(str(exc))}") from exc


def _process(
    chunk: pd.DataFrame,
    rows: list[int],
    layout: _Layout,
    *,
    region: str,
    hash_key: bytes,
    dnc: Container[str],
    seen: _Seen,
) -> ImportBatch:
    def column(index: int | None) -> list[str]:
        if index is None:
            return [""] * len(chunk)
        return chunk[f"c{index}"].str.strip().tolist()

    phone_series = (chunk[f"c{layout.phone}"].str.strip() if layout.phone is not None
                    else pd.Series([""] * len(chunk), dtype="str"))
    raw_phones = phone_series.tolist()
    parsed = _analyse_column(phone_series, raw_phones, region)
    external_ids = column(layout.external_id)
    names = column(layout.name)
    zone_names = column(layout.timezone)
    webhooks = column(layout.webhook_url)
    context_columns = [(key, column(index)) for index, key in layout.context.items()]

    # Duplicates, judged column-wise: the rows that survive the number and DNC checks.
    candidates = [i for i, result in enumerate(parsed)
                  if result is not None and result[0] not in dnc]
    row_numbers = np.asarray(rows, dtype=np.int64)
    first_rows = np.zeros(len(rows), dtype=np.int64)
    if candidates:
        keys = np.fromiter((int(parsed[i][0][1:]) for i in candidates),  # type: ignore[index]
                           dtype=np.int64, count=len(candidates))
        picked = np.asarray(candidates, dtype=np.int64)
        first_rows[picked] = seen.first_rows(keys, row_numbers[picked])
    duplicate_of = first_rows.tolist()

    contacts: list[Contact] = []
    rejects: list[Reject] = []
    bad_timezones = 0
    hasher = phone_hasher(hash_key)
    for i, (row, raw) in enumerate(zip(rows, raw_phones, strict=True)):
        if not raw:
            if any(values[i] for _, values in context_columns) or any(
                values[i] for values in (external_ids, names, zone_names, webhooks)
            ):
                rejects.append(Reject(row, raw, "missing number"))
            continue  # an entirely blank row is no one; it is skipped without a word
        result = parsed[i]
        if result is None:
            rejects.append(Reject(row, raw, "invalid number"))
            continue
        e164, number_zones = result
        if e164 in dnc:
            rejects.append(Reject(row, raw, "do not call"))
            continue
        first = duplicate_of[i]
        if first:
            rejects.append(Reject(row, raw, f"duplicate of row {first}"))
            continue
        zone = zone_names[i]
        if zone and valid_timezone(zone):
            zones: tuple[str, ...] = (zone,)
        else:
            bad_timezones += bool(zone)
            zones = number_zones
        digest = hasher(e164)
        contacts.append(Contact(
            contact_id=contact_id_for(digest),
            e164=e164,
            phone_hash=digest,
            external_id=external_ids[i] or None,
            name=names[i] or None,
            timezones=zones,
            webhook_url=webhooks[i] or None,
            context={key: values[i] for key, values in context_columns if values[i]},
            row=row,
        ))
    return ImportBatch(contacts, rejects, rows_read=len(rows), bad_timezones=bad_timezones)


class _Seen:
    """The numbers accepted so far in one file, for duplicate checks across chunks.

    Kept as two sorted int64 arrays (an E.164 number's digits, and the row that first had it):
    16 bytes a number, where a dict of strings costs over 150, so a million-row list stays lean.
    """

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.int64)
        self.rows = np.empty(0, dtype=np.int64)

    def first_rows(self, keys: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """For each (key, row) in file order: the earlier row that had the key, else 0; the
        keys not seen before are remembered with their first row."""
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        first_in_chunk = rows[first]
        pos = np.minimum(np.searchsorted(self.keys, uniq), max(len(self.keys) - 1, 0))
        if len(self.keys):
            known = self.keys[pos] == uniq
            earlier = np.where(known, self.rows[pos], 0)
        else:
            known = np.zeros(len(uniq), dtype=bool)
            earlier = np.zeros(len(uniq), dtype=np.int64)
        chunk_first = first_in_chunk[inverse]
        result = np.where(earlier[inverse] > 0, earlier[inverse],
                          np.where(chunk_first != rows, chunk_first, 0))
        fresh = ~known
        if fresh.any():
            merged_keys = np.concatenate([self.keys, uniq[fresh]])
            merged_rows = np.concatenate([self.rows, first_in_chunk[fresh]])
            order = np.argsort(merged_keys, kind="stable")
            self.keys, self.rows = merged_keys[order], merged_rows[order]
        return result


def _analyse_column(phones: pd.Series, raw_phones: list[str], region: str
                    ) -> list[tuple[str, tuple[str, ...]] | None]:
    """`analyse` for every row: the NANP fast path where it decides, phonenumbers elsewhere.

    phonenumbers parses each distinct leftover string once (lists repeat numbers).
    """
    fast = classify(phones, region)
    zones = fast.zones
    out: list[tuple[str, tuple[str, ...]] | None] = [None] * len(raw_phones)
    for i in np.flatnonzero(fast.status == VALID).tolist():
        out[i] = (f"+1{fast.national[i]}", zones[fast.zone_index[i]])
    undecided = np.flatnonzero(fast.status == UNDECIDED).tolist()
    slow: dict[str, tuple[str, tuple[str, ...]] | None] = {}
    for i in undecided:
        raw = raw_phones[i]
        if raw:
            if raw not in slow:
                slow[raw] = analyse(raw, region)
            out[i] = slow[raw]
    return out


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
    layout = _inspect(path, needs_phone=False, allow_empty=True)
    numbers: set[str] = set()
    if not layout.header:
        return numbers
    if layout.phone is not None:
        raws: Iterable[str] = (
            raw for chunk, _ in _chunks(path, layout, 100_000)
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


class RejectsWriter:
    """Appends rejects to a CSV file (``row,phone,reason``), writing the header once.

    Use it as a context manager; the file and its parent directories are created on entry.
    `written` counts the rejects written through this writer.
    """

    FIELDS = ("row", "phone", "reason")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.written = 0
        self._file: TextIO | None = None
        self._writer: csv.DictWriter[str] | None = None

    def __enter__(self) -> RejectsWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._file = self.path.open("a", encoding="utf-8", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=self.FIELDS)
        if new:
            self._writer.writeheader()
        return self

    def write(self, rejects: Iterable[Reject]) -> int:
        """Append `rejects`; returns how many were written."""
        if self._writer is None:
            raise RuntimeError("RejectsWriter is used outside its `with` block")
        count = 0
        for reject in rejects:
            self._writer.writerow(
                {"row": reject.row, "phone": reject.raw_phone, "reason": reject.reason})
            count += 1
        self.written += count
        return count

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None
        self._writer = None


# -- inspecting a file before reading it ------------------------------------------------------


def _inspect(path: Path, *, needs_phone: bool, allow_empty: bool = False) -> _Layout:
    """Check that `path` is a readable UTF-8 text file, sniff its delimiter, map its header."""
    sample = _check_text(path)
    if not sample.strip():
        if allow_empty:
            return _Layout(delimiter=",", header=[], phone=None)
        raise InputFileError(f"{path}: the file is empty")
    delimiter = _sniff_delimiter(sample)
    header = next(csv.reader(io.StringIO(sample), delimiter=delimiter))
    layout = _map_header(header, delimiter)
    if needs_phone and layout.phone is None:
        found = ", ".join(_one_line(name.strip())[:40] for name in header[:20])
        more = f" (+{len(header) - 20} more)" if len(header) > 20 else ""
        raise InputFileError(
            f"{path}: no phone column: expected one of {', '.join(PHONE_COLUMNS)}; "
            f"found: {found}{more}")
    return layout


def _check_text(path: Path) -> str:
    """Read the whole file once as strict UTF-8 (BOM allowed); return its first characters.

    Checking all of it up front costs a fraction of the import and turns a file that is not
    text into one clear error instead of a failure half way through a million rows.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    sample: list[str] = []
    kept = offset = 0
    try:
        with path.open("rb") as raw:
            while block := raw.read(_BLOCK):
                if b"\0" in block:
                    raise InputFileError(f"{path}: not a text CSV file (binary data)")
                try:
                    text = decoder.decode(block)
                except UnicodeDecodeError as exc:
                    raise InputFileError(
                        f"{path}: not UTF-8 text (undecodable byte at offset "
                        f"{offset + exc.start}); save it as CSV UTF-8") from exc
                offset += len(block)
                if kept < _SNIFF_CHARS:
                    sample.append(text)
                    kept += len(text)
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                raise InputFileError(f"{path}: not UTF-8 text (truncated at the end)") from exc
    except FileNotFoundError as exc:
        raise InputFileError(f"{path}: file not found") from exc
    except IsADirectoryError as exc:
        raise InputFileError(f"{path}: is a directory, not a CSV file") from exc
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return "".join(sample)[:_SNIFF_CHARS]


def _sniff_delimiter(sample: str) -> str:
    """Comma, semicolon or tab: the one that splits the first lines most, and consistently."""
    lines = sample.splitlines(keepends=True)
    if len(lines) > 1 and len(sample) >= _SNIFF_CHARS:
        lines = lines[:-1]  # the last line of a cut sample is probably incomplete
    head = "".join(lines[:20])
    best, best_score = ",", (0, 0)
    for delimiter in _DELIMITERS:
        records = [r for r in csv.reader(io.StringIO(head), delimiter=delimiter) if r]
        if not records:
            continue
        width = len(records[0])
        consistent = sum(len(r) == width for r in records)
        score = (consistent, width) if width > 1 else (0, 0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _map_header(header: list[str], delimiter: str) -> _Layout:
    lowered = [name.strip().lower() for name in header]

    def first(*candidates: str) -> int | None:
        for candidate in candidates:
            if candidate in lowered:
                return lowered.index(candidate)
        return None

    roles = {
        "phone": first(*PHONE_COLUMNS),
        "external_id": first(*_ID_COLUMNS),
        "name": first("name"),
        "timezone": first("timezone"),
        "webhook_url": first("webhook_url"),
    }
    taken = {index for index in roles.values() if index is not None}
    context: dict[int, str] = {}
    used: set[str] = set()
    for index, name in enumerate(header):
        if index in taken:
            continue
        key = name.strip() or f"column_{index + 1}"
        base, n = key, 2
        while key in used:  # two columns with one name keep both values
            key, n = f"{base}_{n}", n + 1
        used.add(key)
        context[index] = key
    return _Layout(delimiter=delimiter, header=header, context=context, **roles)


def _one_line(text: str) -> str:
    return " ".join(text.split())
