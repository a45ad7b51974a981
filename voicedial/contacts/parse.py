"""Importing a contact list: a spreadsheet's CSV export in, validated contacts and rejects out.

The import streams: pandas reads the file in chunks (`listfile`), each chunk is cleaned and
judged column-wise (the NANP fast path, phonenumbers once per distinct leftover string,
duplicates and do-not-call by integer keys), and the contacts stay columns (`ContactColumns`)
all the way to Redis: a million `Contact` objects would cost more than the rest of the import.
Only hashing the numbers and building the rejects go row by row. Nothing here touches Redis;
the caller stores what `read_contacts` yields.

Row numbers are data-record numbers (the header is not counted; a blank line is a row, so they
match a spreadsheet's row number minus one). They stay right across chunks and across rows the
CSV parser had to skip.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from voicedial.contacts.fastpath import UNDECIDED, VALID, classify
from voicedial.contacts.listfile import Layout, inspect, read_chunks
from voicedial.contacts.phones import (
    CONTACT_ID_CHARS,
    analyse,
    phone_hashes,
    valid_region,
    valid_timezone,
)
from voicedial.contacts.rejects import Reject
from voicedial.errors import UsageError

__all__ = ["Contact", "ContactColumns", "ImportBatch", "read_contacts"]

_E164 = re.compile(r"\+[1-9][0-9]{0,14}")


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


@dataclass(frozen=True, eq=False)
class ContactColumns(Sequence[Contact]):
    """Contacts column by column (pyarrow arrays of equal length, no nulls): what the import
    judges and writes. Indexing or iterating builds `Contact` objects.

    An absent optional value is ``""``; `timezones` holds each contact's zones joined by
    commas; `context` is (column name, values) per extra column of the file.
    """

    contact_id: pa.Array
    e164: pa.Array
    phone_hash: pa.Array
    timezones: pa.Array
    row: pa.Array
    external_id: pa.Array
    name: pa.Array
    webhook_url: pa.Array
    context: tuple[tuple[str, pa.Array], ...] = ()

    @classmethod
    def from_contacts(cls, contacts: Iterable[Contact]) -> ContactColumns:
        """Columns of `Contact` objects (context columns: the union of their keys)."""
        items = list(contacts)
        keys = list(dict.fromkeys(key for c in items for key in c.context))

        def text(values: Iterable[str | None]) -> pa.Array:
            return pa.array([v or "" for v in values], type=pa.string())

        return cls(
            contact_id=text(c.contact_id for c in items),
            e164=text(c.e164 for c in items),
            phone_hash=text(c.phone_hash for c in items),
            timezones=text(",".join(c.timezones) for c in items),
            row=pa.array([c.row for c in items], type=pa.int64()),
            external_id=text(c.external_id for c in items),
            name=text(c.name for c in items),
            webhook_url=text(c.webhook_url for c in items),
            context=tuple((key, text(c.context.get(key) for c in items)) for key in keys),
        )

    def filter(self, keep: np.ndarray) -> ContactColumns:
        """The contacts where the boolean mask `keep` is true."""
        mask = pa.array(keep, type=pa.bool_())
        return self._map(lambda column: column.filter(mask))

    def _map(self, change: Callable[[pa.Array], pa.Array]) -> ContactColumns:
        values = {
            f.name: change(getattr(self, f.name)) for f in fields(self) if f.name != "context"
        }
        context = tuple((key, change(column)) for key, column in self.context)
        return ContactColumns(**values, context=context)

    def __len__(self) -> int:
        return len(self.contact_id)

    @overload
    def __getitem__(self, index: int) -> Contact: ...

    @overload
    def __getitem__(self, index: slice) -> ContactColumns: ...

    def __getitem__(self, index: int | slice) -> Contact | ContactColumns:
        if isinstance(index, slice):
            return self._map(lambda column: column[index])
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return next(iter(self[index : index + 1 or None]))

    def __iter__(self) -> Iterator[Contact]:
        names = (
            "contact_id",
            "e164",
            "phone_hash",
            "external_id",
            "name",
            "timezones",
            "webhook_url",
            "row",
        )
        columns = [getattr(self, name).to_pylist() for name in names]
        context = [(key, column.to_pylist()) for key, column in self.context]
        rows = zip(*columns, strict=True)
        for i, (cid, e164, digest, ext, name, zones, hook, row) in enumerate(rows):
            yield Contact(
                contact_id=cid,
                e164=e164,
                phone_hash=digest,
                external_id=ext or None,
                name=name or None,
                timezones=tuple(zones.split(",")) if zones else (),
                webhook_url=hook or None,
                row=row,
                context={key: values[i] for key, values in context if values[i]},
            )


@dataclass
class ImportBatch:
    """What one chunk of the file produced. `rows_read` counts every data row consumed."""

    contacts: ContactColumns
    rejects: list[Reject]
    rows_read: int
    #: rows whose `timezone` was not an IANA zone; they use the number's zones instead
    bad_timezones: int = 0


def read_contacts(
    path: str | Path,
    *,
    region: str = "US",
    hash_key: bytes,
    dnc: Collection[str] = frozenset(),
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
    layout = inspect(path, needs_phone=True)
    # A valid number's E.164 digits, as an integer, identify it; entries of another shape
    # can never match a valid number.
    dnc_keys = np.unique(np.array([int(e[1:]) for e in dnc if _E164.fullmatch(e)], dtype=np.int64))
    return _batches(
        path,
        layout,
        region=region.upper(),
        hash_key=hash_key,
        dnc_keys=dnc_keys,
        chunk_rows=chunk_rows,
    )


def _batches(
    path: Path,
    layout: Layout,
    *,
    region: str,
    hash_key: bytes,
    dnc_keys: np.ndarray,
    chunk_rows: int,
) -> Iterator[ImportBatch]:
    seen = _Seen()  # every accepted number of the file so far, and the row that had it
    next_row = 1
    skipped: dict[int, str] = {}  # rows the CSV parser dropped, not yet numbered past
    for chunk, bad in read_chunks(path, layout, chunk_rows):
        skipped.update(bad)
        # The chunk's rows are the next numbers that the parser did not drop.
        dropped = np.fromiter(skipped, dtype=np.int64, count=len(skipped))
        pool = np.arange(next_row, next_row + len(chunk) + len(dropped), dtype=np.int64)
        rows = pool[~np.isin(pool, dropped)][: len(chunk)]
        row = int(rows[-1]) + 1 if len(rows) else next_row
        # Dropped rows before this chunk's end are accounted for here; later ones wait.
        while row in skipped:
            row += 1
        rejects = [Reject(r, "", reason) for r, reason in sorted(skipped.items()) if r < row]
        for r in list(skipped):
            if r < row:
                del skipped[r]
        batch = _process(
            chunk, rows, layout, region=region, hash_key=hash_key, dnc_keys=dnc_keys, seen=seen
        )
        batch.rejects.extend(rejects)
        batch.rejects.sort(key=lambda reject: reject.row)
        batch.rows_read = row - next_row
        next_row = row
        if batch.rows_read:
            yield batch
    if skipped:  # malformed rows after the last parsed one
        yield ImportBatch(
            ContactColumns.from_contacts([]),
            [Reject(r, "", why) for r, why in sorted(skipped.items())],
            rows_read=len(skipped),
        )


def _text(values: Any) -> pa.Array:
    """A pandas string column (or pyarrow array) as one pyarrow `string` array."""
    array = pa.array(values)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.string())


def _process(
    chunk: pd.DataFrame,
    rows: np.ndarray,
    layout: Layout,
    *,
    region: str,
    hash_key: bytes,
    dnc_keys: np.ndarray,
    seen: _Seen,
) -> ImportBatch:
    count = len(chunk)

    def column(index: int | None) -> pa.Array:
        if index is None:
            return pa.repeat(pa.scalar("", pa.string()), count)
        return _text(chunk[f"c{index}"].str.strip())

    phones = column(layout.phone)
    others = [
        column(i) for i in (layout.external_id, layout.name, layout.timezone, layout.webhook_url)
    ]
    context = [(key, column(index)) for index, key in layout.context.items()]
    empty = pc.binary_length(phones).to_numpy(zero_copy_only=False) == 0

    # Each valid number as the integer of its E.164 digits (its identity), and its zones.
    keys, zone_ids, zone_names = _analyse(phones, empty, region)
    valid = keys > 0
    on_dnc = valid & np.isin(keys, dnc_keys) if len(dnc_keys) else np.zeros(count, dtype=bool)
    candidates = valid & ~on_dnc
    first_rows = np.zeros(count, dtype=np.int64)
    first_rows[candidates] = seen.first_rows(keys[candidates], rows[candidates])
    accepted = candidates & (first_rows == 0)

    # Rejects, row by row (a small share of a list). A row with no number but other cells
    # is a missing number; an entirely blank row is no one and is skipped without a word.
    missing = _filled(empty, [*others, *(values for _, values in context)])
    rejected = missing | (~empty & ~valid) | on_dnc | (candidates & (first_rows > 0))
    rejects: list[Reject] = []
    at = np.flatnonzero(rejected)
    for i, raw in zip(at.tolist(), phones.take(pa.array(at)).to_pylist(), strict=True):
        if missing[i]:
            reason = "missing number"
        elif not valid[i]:
            reason = "invalid number"
        elif on_dnc[i]:
            reason = "do not call"
        else:
            reason = f"duplicate of row {int(first_rows[i])}"
        rejects.append(Reject(int(rows[i]), raw, reason))

    kept = np.flatnonzero(accepted)
    take = pa.array(kept)
    zone_ids, bad_timezones = _given_zones(others[2].take(take), zone_ids[kept], zone_names)
    zone_table = pa.array(list(zone_names), type=pa.string())
    e164 = pc.binary_join_element_wise("+", pc.cast(pa.array(keys[kept]), pa.string()), "")
    digests = pa.array(phone_hashes(e164.cast(pa.binary()).to_pylist(), hash_key), type=pa.string())
    contacts = ContactColumns(
        contact_id=pc.utf8_slice_codeunits(digests, 0, CONTACT_ID_CHARS),
        e164=e164,
        phone_hash=digests,
        timezones=zone_table.take(pa.array(zone_ids)),
        row=pa.array(rows[kept]),
        external_id=others[0].take(take),
        name=others[1].take(take),
        webhook_url=others[3].take(take),
        context=tuple((key, values.take(take)) for key, values in context),
    )
    return ImportBatch(contacts, rejects, rows_read=count, bad_timezones=bad_timezones)


def _filled(rows: np.ndarray, cells: list[pa.Array]) -> np.ndarray:
    """The rows (a boolean mask) in which any of `cells` is not empty."""
    out = np.zeros(len(rows), dtype=bool)
    at = np.flatnonzero(rows)
    if len(at):
        filled = np.zeros(len(at), dtype=bool)
        for values in cells:
            taken = values.take(pa.array(at))
            filled |= pc.binary_length(taken).to_numpy(zero_copy_only=False) > 0
        out[at[filled]] = True
    return out


def _given_zones(
    given: pa.Array, zone_ids: np.ndarray, zone_names: dict[str, int]
) -> tuple[np.ndarray, int]:
    """A valid IANA name in the `timezone` column wins over the number's zones. Returns the
    zone indices (new names added to `zone_names`) and how many names were not valid."""
    names = [name for name in pc.unique(given).to_pylist() if name]
    if not names:
        return zone_ids, 0
    ids = np.array(
        [
            zone_names.setdefault(name, len(zone_names)) if valid_timezone(name) else -1
            for name in names
        ]
    )
    where = pc.index_in(given, value_set=pa.array(names, type=pa.string()))
    where = where.fill_null(-1).to_numpy()
    chosen = np.where(where >= 0, ids[where], -1)
    bad = int(np.count_nonzero((where >= 0) & (chosen < 0)))
    return np.where(chosen >= 0, chosen, zone_ids), bad


def _analyse(
    phones: pa.Array, empty: np.ndarray, region: str
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """`analyse` for every row: the NANP fast path where it decides, phonenumbers elsewhere
    (once per distinct leftover string: lists repeat numbers).

    Returns per row the E.164 digits as an integer (0: no valid number) and the index of its
    zones in the returned {comma-joined zones: index}.
    """
    fast = classify(phones, region)
    # The table's zone tuples are distinct, so these indices are the table's own.
    zone_names = {",".join(zones): i for i, zones in enumerate(fast.zones)}
    is_fast = fast.status == VALID
    keys = np.where(is_fast, fast.national + 10**10, 0)  # "+1" and ten digits
    zone_ids = np.where(is_fast, fast.zone_index, 0)
    slow = np.flatnonzero((fast.status == UNDECIDED) & ~empty)
    parsed: dict[str, tuple[int, int] | None] = {}
    for i, raw in zip(slow.tolist(), phones.take(pa.array(slow)).to_pylist(), strict=True):
        if raw not in parsed:
            result = _analyse_one(raw, region)
            parsed[raw] = (
                None
                if result is None
                else (
                    int(result[0][1:]),
                    zone_names.setdefault(",".join(result[1]), len(zone_names)),
                )
            )
        found = parsed[raw]
        if found is not None:
            keys[i], zone_ids[i] = found
    return keys, zone_ids, zone_names


# The same junk and foreign spellings come back chunk after chunk; bounded, so a list of a
# million distinct foreign numbers cannot grow it.
_analyse_one = lru_cache(maxsize=16_384)(analyse)


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
        result = np.where(
            earlier[inverse] > 0, earlier[inverse], np.where(chunk_first != rows, chunk_first, 0)
        )
        fresh = ~known
        if fresh.any():  # `uniq` is sorted: a linear merge, not a sort of everything seen
            at = np.searchsorted(self.keys, uniq[fresh])
            self.keys = np.insert(self.keys, at, uniq[fresh])
            self.rows = np.insert(self.rows, at, first_in_chunk[fresh])
        return result
