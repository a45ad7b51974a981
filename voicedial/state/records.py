"""How a contact is kept in Redis: one hash per contact, its static fields packed in one.

What the list said about a contact never changes after the import, so it is written as a single
hash field, `packed`: a version, then the fields in a fixed order, joined by NUL (which a list
file cannot hold). One field stored as it comes, instead of eight split out by the import
script, is most of why that script costs half what it did. The fields a call changes (state,
attempts, worker, claimed_at, last_call_sid ...) stay fields of their own, read and written
by the Lua scripts.

Readers never see the packing: `unpack` turns a contact hash into the dict it always was (every
field decoded; empty optional fields absent; `context` as JSON). A hash written before the
packing (separate fields, no `packed`) reads the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from voicedial.contacts.parse import ContactColumns

__all__ = ["PACKED", "pack", "unpack", "unpack_packed"]

#: The hash field holding a contact's static fields.
PACKED = "packed"
_PACKED = PACKED.encode()
_VERSION = "1"
_SEP = "\0"
_ALWAYS = ("e164", "phone_hash", "timezones", "row")
_OPTIONAL = ("external_id", "name", "webhook_url")  # stored as "", read back as absent
_CONTEXT_AT = 1 + len(_ALWAYS) + len(_OPTIONAL)  # then context name, value, name, value ...


def pack(contacts: ContactColumns, *, lead: pa.Array | None = None) -> pa.Array:
    """Each contact's `packed` value, built column-wise in C (pyarrow). With `lead`, each
    value comes after that column's value and a NUL (the import script's input, in one go)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts: list[object] = [] if lead is None else [lead]
    parts += [
        _VERSION,
        contacts.e164,
        contacts.phone_hash,
        contacts.timezones,
        pc.cast(contacts.row, pa.string()),
        contacts.external_id,
        contacts.name,
        contacts.webhook_url,
    ]
    for key, values in contacts.context:
        parts += (key, values)
    return pc.binary_join_element_wise(*parts, _SEP)


def unpack_packed(value: str) -> dict[str, str]:
    """The fields of one `packed` value (empty optional fields and context values left out)."""
    parts = value.split(_SEP)
    if parts[0] != _VERSION:
        raise ValueError(f"unknown contact record version {parts[0][:8]!r}")
    fields = dict(zip(_ALWAYS, parts[1:], strict=False))
    for name, item in zip(_OPTIONAL, parts[1 + len(_ALWAYS) : _CONTEXT_AT], strict=False):
        if item:
            fields[name] = item
    context = {
        key: item
        for key, item in zip(parts[_CONTEXT_AT::2], parts[_CONTEXT_AT + 1 :: 2], strict=True)
        if item
    }
    if context:
        fields["context"] = json.dumps(context, ensure_ascii=False)
    return fields


def unpack(raw: Mapping[bytes, bytes]) -> dict[str, str]:
    """A contact hash as read from Redis (HGETALL), decoded, static fields unpacked."""
    out: dict[str, str] = {}
    for key, value in raw.items():
        if key == _PACKED:
            out.update(unpack_packed(value.decode()))
        else:
            out[key.decode()] = value.decode()
    return out
