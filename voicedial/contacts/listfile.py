"""A contact list file: checking it is usable text, finding its delimiter and which column plays
which role, reading it in chunks of strings.

Row numbers are data-record numbers (the header is not counted; a blank line is a row, so they
match a spreadsheet's row number minus one).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from voicedial.errors import InputFileError

__all__ = ["PHONE_COLUMNS", "Layout", "inspect", "read_chunks"]

#: Header names that hold the phone number, in order of preference (compared case-blind).
PHONE_COLUMNS = ("phone", "phone_number", "number", "mobile", "tel")
_ID_COLUMNS = ("external_id", "id")
_DELIMITERS = (",", ";", "\t")
_SNIFF_CHARS = 64 * 1024
_BLOCK = 1 << 20
_BAD_LINE = re.compile(r"line (\d+): expected (\d+) fields?, saw (\d+)")


@dataclass(frozen=True, slots=True)
class Layout:
    """Where things are in a file: its delimiter and which column plays which role."""

    delimiter: str
    header: list[str]
    phone: int | None
    external_id: int | None = None
    name: int | None = None
    timezone: int | None = None
    webhook_url: int | None = None
    context: dict[int, str] = field(default_factory=dict)


def inspect(path: Path, *, needs_phone: bool, allow_empty: bool = False) -> Layout:
    """Check that `path` is a readable UTF-8 text file, sniff its delimiter, map its header."""
    sample = _check_text(path)
    if not sample.strip():
        if allow_empty:
            return Layout(delimiter=",", header=[], phone=None)
        raise InputFileError(f"{path}: the file is empty")
    delimiter = _sniff_delimiter(sample)
    header = next(csv.reader(io.StringIO(sample), delimiter=delimiter))
    layout = _map_header(header, delimiter)
    if needs_phone and layout.phone is None:
        found = ", ".join(_one_line(name.strip())[:40] for name in header[:20])
        more = f" (+{len(header) - 20} more)" if len(header) > 20 else ""
        raise InputFileError(
            f"{path}: no phone column: expected one of {', '.join(PHONE_COLUMNS)}; "
            f"found: {found}{more}"
        )
    return layout


def read_chunks(
    path: Path, layout: Layout, chunk_rows: int
) -> Iterator[tuple[pd.DataFrame, dict[int, str]]]:
    """The file's data as string DataFrames (columns ``c0``, ``c1`` ...), each with the rows the
    parser skipped meanwhile (row number -> reason).

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
                        warnings.warn_explicit(
                            warning.message, warning.category, warning.filename, warning.lineno
                        )
                        continue
                    for line, expected, saw in _BAD_LINE.findall(str(warning.message)):
                        # pandas counts records from 1 with the header as record 1.
                        bad[int(line) - 1] = f"malformed row: {saw} fields, header has {expected}"
                if chunk is None:  # the end; the last read may still have skipped rows
                    if bad:
                        yield pd.DataFrame({name: pd.Series([], dtype=str) for name in names}), bad
                    return
                yield chunk, bad
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: unreadable CSV: {_one_line(str(exc))}") from exc


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
                        f"{offset + exc.start}); save it as CSV UTF-8"
                    ) from exc
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


def _map_header(header: list[str], delimiter: str) -> Layout:
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
    return Layout(delimiter=delimiter, header=header, context=context, **roles)


def _one_line(text: str) -> str:
    return " ".join(text.split())
