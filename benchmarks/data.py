"""Inputs generated at run time: contact lists of mixed US spellings, junk and duplicates.

Nothing generated here is committed; every benchmark writes its files under a temporary folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["AREA_CODES", "write_contact_csv"]

#: Real area codes across the US time zones and Canada (so zones and regions vary).
AREA_CODES = (
    201,
    202,
    205,
    206,
    212,
    213,
    214,
    215,
    303,
    305,
    312,
    313,
    404,
    405,
    406,
    415,
    416,
    480,
    503,
    504,
    505,
    512,
    602,
    604,
    612,
    617,
    702,
    713,
    720,
    808,
    907,
    917,
    250,
    306,
    514,
    787,
    800,
    888,
    242,
    876,
)
_FORMATS = (
    "{a}{x}{l}",
    "({a}) {x}-{l}",
    "{a}-{x}-{l}",
    "{a}.{x}.{l}",
    "+1 {a} {x} {l}",
    "+1{a}{x}{l}",
    "1-{a}-{x}-{l}",
    "1 ({a}) {x}-{l}",
)
_JUNK = (
    "n/a",
    "call me",
    "12345",
    "555-CALL-NOW",
    "+1 (000) 000-0000",
    "201555012345",
    "tbd",
    "0",
    "+",
    "x",
    "1234567890",
    "(123) 456-7890",
    "+44 20 7946 0958",
    "+33 1 23 45 67 89",
    "+49 30 901820",
    "+52 55 1234 5678",
    "2015550123 ext. 7",
    "+1 201 555 0123 x12",
    "001 212 555 0199",
    "++1 212 555 0199",
)


def write_contact_csv(
    path: Path, rows: int, *, junk: float = 0.05, duplicates: float = 0.05, seed: int = 6
) -> Path:
    """A contact list (`id,name,phone,city`) of `rows` rows: valid-looking US and Canadian
    numbers in eight spellings, `junk` share of junk (text, short, long, non-NANP, extensions,
    international), and `duplicates` share of earlier numbers spelled another way."""
    rng = np.random.default_rng(seed)
    areas = rng.choice(np.array(AREA_CODES), rows)
    exchanges = rng.integers(200, 1000, rows)
    lines = rng.integers(0, 10000, rows)
    formats = rng.integers(0, len(_FORMATS), rows)
    kind = rng.random(rows)
    earlier = (rng.random(rows) * np.arange(rows)).astype(np.int64)
    junk_pick = rng.integers(0, len(_JUNK), rows)
    cities = ("Newark", "Chicago", "Denver", "Seattle", "Boston", "Houston", "")
    city_pick = rng.integers(0, len(cities), rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("id,name,phone,city\n")
        buffer: list[str] = []
        for i in range(rows):
            k = kind[i]
            if k < junk:
                phone = _JUNK[junk_pick[i]]
            else:
                j = int(earlier[i]) if k < junk + duplicates and i else i
                phone = _FORMATS[(formats[i] + (j != i)) % len(_FORMATS)].format(
                    a=areas[j], x=exchanges[j], l=f"{lines[j]:04d}"
                )
            if "," in phone:
                phone = f'"{phone}"'
            buffer.append(f"E{i},Person {i},{phone},{cities[city_pick[i]]}\n")
            if len(buffer) >= 50_000:
                out.write("".join(buffer))
                buffer.clear()
        out.write("".join(buffer))
    return path
