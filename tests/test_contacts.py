"""Contact-list import: file formats, row rules, rejects, file-level errors."""

from __future__ import annotations

import csv
import hashlib
import hmac
from pathlib import Path

import phonenumbers
import pytest

from voicedial.contacts.dnc import load_dnc
from voicedial.contacts.parse import Contact, ImportBatch, read_contacts
from voicedial.contacts.rejects import Reject, RejectsWriter
from voicedial.errors import InputFileError, UsageError

KEY = b"test-hash-key"


def e164(n: int) -> str:
    """A fictional US number, +1 201 555 01NN."""
    return f"+1201555{100 + n:04d}"


def write(path: Path, text: str, *, bom: bool = False, crlf: bool = False) -> Path:
    data = text.replace("\n", "\r\n") if crlf else text
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data.encode("utf-8"))
    return path


def read_all(path: Path, **kwargs: object) -> tuple[list[Contact], list[Reject], list[ImportBatch]]:
    batches = list(read_contacts(path, hash_key=KEY, **kwargs))  # type: ignore[arg-type]
    contacts = [c for b in batches for c in b.contacts]
    rejects = [r for b in batches for r in b.rejects]
    return contacts, rejects, batches


def test_bom_semicolons_crlf_and_quoted_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path / "list.csv",
        (
            "Name;Phone;Notes;id\n"
            '"Doe; Ann";(201) 555-0101;"says ""hi""; twice";A1\n'
            '"Roe, Bob";201.555.0102;"line one\nline two";A2\n'
        ),
        bom=True,
        crlf=True,
    )
    contacts, rejects, batches = read_all(path)
    assert rejects == []
    assert [c.e164 for c in contacts] == [e164(1), e164(2)]
    ann, bob = contacts
    assert ann.name == "Doe; Ann" and ann.external_id == "A1" and ann.row == 1
    assert ann.context == {"Notes": 'says "hi"; twice'}
    assert bob.name == "Roe, Bob" and bob.row == 2
    assert bob.context == {"Notes": "line one\r\nline two"}
    assert ann.phone_hash == hmac.new(KEY, e164(1).encode(), hashlib.sha256).hexdigest()
    assert ann.contact_id == ann.phone_hash[:20]
    assert ann.timezones == ("America/New_York",)
    assert sum(b.rows_read for b in batches) == 2


def test_tab_separated(tmp_path: Path) -> None:
    path = write(
        tmp_path / "list.tsv",
        "tel\tname\tcity\n201 555 0103\tCid\tNewark, NJ\n+12015550104\tDee\t\n",
    )
    contacts, rejects, _ = read_all(path)
    assert rejects == []
    assert [(c.e164, c.name, c.context) for c in contacts] == [
        (e164(3), "Cid", {"city": "Newark, NJ"}),
        (e164(4), "Dee", {}),
    ]


@pytest.mark.parametrize("header", ["Mobile", " TEL ", "PHONE_NUMBER", "number", "phone"])
def test_phone_header_variants(tmp_path: Path, header: str) -> None:
    path = write(tmp_path / "list.csv", f"name,{header}\nAnn,2015550105\n")
    contacts, _, _ = read_all(path)
    assert [c.e164 for c in contacts] == [e164(5)]


def test_phone_column_preference_and_context(tmp_path: Path) -> None:
    path = write(
        tmp_path / "list.csv",
        (
            "mobile,Phone,external_id,id,webhook_url,Team,team,\n"
            "2015550106,2015550107,X9,7,https://hooks.example.com/a,red,blue,\n"
        ),
    )
    contacts, _, _ = read_all(path)
    [c] = contacts
    assert c.e164 == e164(7)  # `phone` outranks `mobile`
    assert c.external_id == "X9"
    assert c.webhook_url == "https://hooks.example.com/a"
    assert c.context == {"mobile": "2015550106", "id": "7", "Team": "red", "team": "blue"}
    assert c.name is None


def test_junk_missing_duplicates_and_dnc(tmp_path: Path) -> None:
    path = write(
        tmp_path / "list.csv",
        (
            "phone,name\n"
            "(201) 555-0110,first\n"  # 1 ok
            "not a number,junk\n"  # 2 invalid
            ",no number\n"  # 3 missing
            "+1 201 555 0110,again\n"  # 4 duplicate of 1
            "201-555-0111,dnc\n"  # 5 do not call
            "\n"  # 6 blank line: skipped silently, still counted
            ",\n"  # 7 empty cells: the same
            "12,short\n"  # 8 invalid
            "2015550112,ok\n"  # 9 ok
        ),
    )
    contacts, rejects, batches = read_all(path, dnc={e164(11)})
    assert [(c.row, c.e164) for c in contacts] == [(1, e164(10)), (9, e164(12))]
    assert [(r.row, r.raw_phone, r.reason) for r in rejects] == [
        (2, "not a number", "invalid number"),
        (3, "", "missing number"),
        (4, "+1 201 555 0110", "duplicate of row 1"),
        (5, "201-555-0111", "do not call"),
        (8, "12", "invalid number"),
    ]
    assert sum(b.rows_read for b in batches) == 9


def test_row_numbers_and_duplicates_across_chunks(tmp_path: Path) -> None:
    lines = ["phone,seq"]
    for i in range(1, 41):
        n = i % 13  # numbers repeat every 13 rows, across chunk boundaries
        lines.append(f"201555{100 + n:04d},{i}" if i % 7 else f"bad{i},{i}")
    path = write(tmp_path / "list.csv", "\n".join(lines) + "\n")
    contacts, rejects, batches = read_all(path, chunk_rows=5)
    assert len(batches) == 8 and all(b.rows_read == 5 for b in batches)
    assert all(c.context["seq"] == str(c.row) for c in contacts)
    first_row = {c.e164: c.row for c in contacts}
    assert len(first_row) == len(contacts) == 13
    for r in rejects:
        if r.row % 7 == 0:
            assert r.reason == "invalid number"
        else:
            assert r.reason == f"duplicate of row {first_row[normalise_us(r.raw_phone)]}"
            assert first_row[normalise_us(r.raw_phone)] < r.row
    assert sorted([c.row for c in contacts] + [r.row for r in rejects]) == list(range(1, 41))


def normalise_us(raw: str) -> str:
    return phonenumbers.format_number(
        phonenumbers.parse(raw, "US"), phonenumbers.PhoneNumberFormat.E164
    )


def test_malformed_rows_keep_numbering(tmp_path: Path) -> None:
    path = write(
        tmp_path / "list.csv",
        (
            "phone,name\n"
            "2015550120,a\n"
            "2015550121,b,extra,fields\n"  # 2: more fields than the header
            "2015550122\n"  # 3: fewer is fine
            "2015550123,d,x\n"  # 4: malformed
        ),
    )
    contacts, rejects, batches = read_all(path, chunk_rows=1)
    assert [(c.row, c.e164) for c in contacts] == [(1, e164(20)), (3, e164(22))]
    assert [(r.row, r.reason) for r in rejects] == [
        (2, "malformed row: 4 fields, header has 2"),
        (4, "malformed row: 3 fields, header has 2"),
    ]
    assert sum(b.rows_read for b in batches) == 4


def test_bad_timezone_falls_back_to_the_numbers_zones(tmp_path: Path) -> None:
    path = write(
        tmp_path / "list.csv",
        ("phone,timezone\n2015550130,America/Chicago\n2015550131,Mars/Olympus\n2015550132,\n"),
    )
    contacts, rejects, batches = read_all(path)
    assert rejects == []
    assert [c.timezones for c in contacts] == [
        ("America/Chicago",),
        ("America/New_York",),
        ("America/New_York",),
    ]
    assert sum(b.bad_timezones for b in batches) == 1


def test_multi_zone_number_and_foreign_numbers(tmp_path: Path) -> None:
    toll_free = phonenumbers.example_number_for_type("US", phonenumbers.PhoneNumberType.TOLL_FREE)
    gb = phonenumbers.example_number("GB")
    assert toll_free is not None and gb is not None
    fmt = phonenumbers.PhoneNumberFormat.INTERNATIONAL
    path = write(
        tmp_path / "list.csv",
        (
            f"phone\n{phonenumbers.format_number(toll_free, fmt)}\n"
            f"{phonenumbers.format_number(gb, fmt)}\n"
        ),
    )
    contacts, rejects, _ = read_all(path)
    assert rejects == []
    assert len(contacts[0].timezones) > 1
    assert contacts[1].timezones == ("Europe/London",)


def test_national_numbers_read_in_region(tmp_path: Path) -> None:
    gb = phonenumbers.example_number("GB")
    assert gb is not None
    national = phonenumbers.format_number(gb, phonenumbers.PhoneNumberFormat.NATIONAL)
    path = write(tmp_path / "list.csv", f"phone\n{national}\n")
    contacts, _, _ = read_all(path, region="GB")
    assert contacts[0].e164 == phonenumbers.format_number(gb, phonenumbers.PhoneNumberFormat.E164)
    with pytest.raises(UsageError, match="region"):
        read_all(path, region="XX")


def test_no_phone_column_is_a_one_line_error(tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", 'a,b,"c\nd"\n1,2,3\n')
    with pytest.raises(InputFileError) as info:
        read_contacts(path, hash_key=KEY)
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        f"{path}: no phone column: expected one of phone, phone_number, number, "
        "mobile, tel; found: a, b, c d"
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf\r\n  \n", "empty"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "binary"),
        (b"phone,name\n2015550140,Jos\xe9\n", "not UTF-8"),
    ],
)
def test_unusable_files(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=problem) as info:
        read_contacts(path, hash_key=KEY)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        read_contacts(tmp_path / "nope.csv", hash_key=KEY)
    with pytest.raises(InputFileError, match="directory"):
        read_contacts(tmp_path, hash_key=KEY)


def test_header_only_yields_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "list.csv", "phone,name\n")
    assert read_all(path)[2] == []


def test_load_dnc_csv_and_plain(tmp_path: Path) -> None:
    csv_file = write(
        tmp_path / "dnc.csv", "Name;Mobile\nA;(201) 555-0150\nB;junk\nC;\n", bom=True, crlf=True
    )
    assert load_dnc(csv_file) == {e164(50)}
    plain = write(tmp_path / "dnc.txt", "# opted out\n201-555-0151\n\n+1 201 555 0152\nnope\n")
    assert load_dnc(plain) == {e164(51), e164(52)}
    empty = write(tmp_path / "empty.txt", "")
    assert load_dnc(empty) == set()
    binary = tmp_path / "dnc.bin"
    binary.write_bytes(b"\x00\x01\x02")
    with pytest.raises(InputFileError):
        load_dnc(binary)


def test_rejects_writer_appends(tmp_path: Path) -> None:
    path = tmp_path / "home" / "rejects" / "list.csv"
    with RejectsWriter(path) as writer:
        assert writer.write([Reject(2, "12", "invalid number")]) == 1
    with RejectsWriter(path) as writer:
        writer.write([Reject(4, "+1 201 555 0110", "duplicate of row 1")])
        assert writer.written == 1
    with path.open(newline="", encoding="utf-8") as f:
        assert list(csv.reader(f)) == [
            ["row", "phone", "reason"],
            ["2", "12", "invalid number"],
            ["4", "+1 201 555 0110", "duplicate of row 1"],
        ]
    with pytest.raises(RuntimeError):
        RejectsWriter(path).write([])
