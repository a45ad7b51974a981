"""Contact records in Redis: the packed static fields, what readers see, and the import script
(new contacts only, list order, chunks)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from voicedial.contacts.parse import Contact, ContactColumns, read_contacts
from voicedial.state import records
from voicedial.state.snapshot import snapshot
from voicedial.state.store import CampaignStore

KEY = b"test-hash-key"


def contact(n: int, **fields: object) -> Contact:
    values: dict[str, object] = {
        "contact_id": f"id{n:03d}",
        "e164": f"+1201555{n:04d}",
        "phone_hash": f"{n:064x}",
        "external_id": None,
        "name": None,
        "timezones": ("America/New_York",),
        "webhook_url": None,
        "context": {},
        "row": n,
    }
    values.update(fields)
    return Contact(**values)  # type: ignore[arg-type]


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[CampaignStore]:
    client = aioredis.from_url(redis_url)
    yield CampaignStore(client, "rec")
    await client.aclose()


async def test_readers_see_every_field_as_before(store: CampaignStore) -> None:
    full = contact(
        1,
        external_id="X1",
        name='Zoë; "Z"',
        webhook_url="https://h.example/a",
        timezones=("America/Chicago", "America/Denver"),
        context={"team": "north", "notes": "line one\r\nline two", "empty": ""},
    )
    bare = contact(2, timezones=())
    assert await store.import_contacts([full, bare]) == (2, 0)
    assert await store.contact("id001") == {
        "state": "pending",
        "e164": full.e164,
        "phone_hash": full.phone_hash,
        "timezones": "America/Chicago,America/Denver",
        "row": "1",
        "external_id": "X1",
        "name": 'Zoë; "Z"',
        "webhook_url": "https://h.example/a",
        "context": json.dumps(
            {"team": "north", "notes": "line one\r\nline two"}, ensure_ascii=False
        ),
    }
    assert await store.contact("id002") == {
        "state": "pending",
        "e164": bare.e164,
        "phone_hash": bare.phone_hash,
        "timezones": "",
        "row": "2",
    }
    [row] = await store.contacts(["id002"])
    assert row["contact_id"] == "id002" and row["e164"] == bare.e164
    assert await store.contact("nobody") == {}


async def test_a_contact_stays_compact_in_the_embedded_server(store: CampaignStore) -> None:
    await store.import_contacts([contact(3, name="A name", context={"city": "Newark"})])
    assert await store.redis.object("encoding", store.keys.contact("id003")) in (
        b"ziplist",
        b"listpack",
    )


async def test_a_record_written_before_the_packing_reads_the_same(store: CampaignStore) -> None:
    old = {
        "state": "completed",
        "e164": "+12015550100",
        "phone_hash": "a" * 64,
        "timezones": "America/New_York",
        "row": "3",
        "name": "Old",
        "attempts": "1",
    }
    await store.redis.hset(store.keys.contact("old"), mapping=old)
    assert await store.contact("old") == old
    # A re-import leaves it alone.
    assert await store.import_contacts([contact(5, contact_id="old")]) == (0, 1)
    assert await store.contact("old") == old


async def test_reimport_adds_new_contacts_only_in_list_order(store: CampaignStore) -> None:
    first = [contact(n) for n in range(1, 11)]
    assert await store.import_contacts(first, chunk=3) == (10, 0)
    await store.redis.hset(store.keys.contact("id004"), "state", "completed")
    again = [contact(n, name="renamed") for n in range(1, 26)]
    assert await store.import_contacts(again, chunk=4, in_flight=2) == (15, 10)
    assert (await store.contact("id004"))["state"] == "completed"
    assert "name" not in await store.contact("id001")  # existing contacts are untouched
    assert (await store.contact("id020"))["name"] == "renamed"
    due = [m.decode() for m in await store.redis.zrange(store.keys.due, 0, -1)]
    assert due == [f"id{n:03d}" for n in range(1, 26)]
    assert await store.counts() == {"pending": 25}


async def test_explicit_due_times_keep_list_order_across_calls(store: CampaignStore) -> None:
    # The importer writes two batches at once; their due times, not their timing, order them.
    later = store.import_contacts([contact(n) for n in range(4, 7)], due_ms=1000.003)
    assert await later == (3, 0)
    assert await store.import_contacts([contact(n) for n in range(1, 4)], due_ms=1000) == (3, 0)
    due = await store.redis.zrange(store.keys.due, 0, -1, withscores=True)
    assert [m.decode() for m, _ in due] == [f"id{n:03d}" for n in range(1, 7)]


async def test_status_shows_the_hashed_contact_of_a_call(store: CampaignStore) -> None:
    await store.save_meta({})
    await store.import_contacts([contact(7)])
    assert await store.claim(limit=1, max_concurrent=1, lease_ms=60_000, worker="w") == ["id007"]
    [row] = (await snapshot(store.redis, "rec"))["in_progress"]
    assert row["contact"] == f"{7:064x}"[:12] and row["state"] == "dialling"


def test_columns_from_a_file_pack_like_the_same_contacts_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(
        "phone,name,id,team,notes\n"
        "(201) 555-0101,Ann,A1,red,\n"
        '+44 20 7946 0958,,,,"a, b"\n'
        "201.555.0102,Bob,,blue,x\n",
        encoding="utf-8",
    )
    [batch] = read_contacts(path, hash_key=KEY)
    columns = batch.contacts
    one_by_one = ContactColumns.from_contacts(list(columns))
    assert records.pack(columns).to_pylist() == records.pack(one_by_one).to_pylist()
    assert [c.contact_id for c in columns] == [c.contact_id for c in one_by_one]
    assert columns[-1] == list(columns)[2] and len(columns[1:]) == 2
    unpacked = [records.unpack_packed(v) for v in records.pack(columns).to_pylist()]
    assert unpacked[1] == {
        "e164": "+442079460958",
        "phone_hash": columns[1].phone_hash,
        "timezones": "Europe/London",
        "row": "2",
        "context": '{"notes": "a, b"}',
    }


def test_an_unknown_record_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        records.unpack({b"packed": b"9\0+12015550100"})
