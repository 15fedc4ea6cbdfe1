"""The personal-data scanner: hand-written positives, tricky negatives, every file format."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest

from baton.commons import pii
from baton.commons.pii import PiiFinding, PiiScanError, ScanResult, scan_bytes, scan_files, scan_text
from baton.core.errors import BadRequestError

TODAY = date(2026, 11, 28)


def kinds(findings: list[PiiFinding]) -> list[tuple[str, str]]:
    return [(f.kind, f.confidence) for f in findings]


def one(text: str) -> PiiFinding:
    found = scan_text(text, today=TODAY)
    assert len(found) == 1, found
    return found[0]


# Check digits worked by hand: 900101-123456?: 9*2+0*3+0*4+1*5+0*6+1*7+1*8+2*9+3*2+4*3+5*4+6*5 = 124,
# 124 % 11 = 3, (11 - 3) % 10 = 8.  210315-312345?: 150 % 11 = 7, check 4.
@pytest.mark.parametrize(
    ("text", "confidence"),
    [
        ("주민등록번호: 900101-1234568", "high"),
        ("900101 - 1234568 입니다", "high"),
        ("rrn=9001011234568", "high"),
        ("210315-3123454", "high"),  # born 2021, gender digit 3
        ("210315-3123450", "medium"),  # no valid check digit: issued after October 2020, still personal
        ("주민번호 2103153123450", "medium"),  # no hyphen, but next to the word
        ("id 2103153123450", "low"),  # a bare 13-digit run with a valid date and no check digit
        ("000229-4123456", "medium"),  # 2000 was a leap year
    ],
)
def test_resident_registration_numbers(text: str, confidence: str) -> None:
    finding = one(text)
    assert finding.kind == "rrn"
    assert finding.confidence == confidence
    assert "1234568" not in finding.masked and "3123454" not in finding.masked
    assert finding.masked.count("*") >= 10


@pytest.mark.parametrize(
    "text",
    [
        "901301-1234568",  # month 13
        "900230-1234568",  # 30 February
        "010229-3123456",  # 2001 was not a leap year
        "900101-9234568",  # gender digit 9
        "300101-3123456",  # born in 2030: after today
        "1234567890123",  # impossible date (month 56)
        "9999999999999",
        "order 12900101-1234568",  # inside a longer number
        "x9001011234568y",  # inside a word
    ],
)
def test_impossible_registration_numbers_are_not_reported(text: str) -> None:
    assert [f for f in scan_text(text, today=TODAY) if f.kind == "rrn"] == []


@pytest.mark.parametrize(
    ("text", "confidence", "masked"),
    [
        ("연락처 010-1234-5678", "high", "010-****-5678"),
        ("010.9876.5432", "high", "010.****.5432"),
        ("010 1234 5678", "high", "010 **** 5678"),
        ("01012345678", "medium", "010****5678"),
        ("+82 10-1234-5678", "high", None),
        ("+82-2-123-4567", "medium", None),
        ("사무실 02-123-4567", "medium", "02-1**-4567"),
        ("031-1234-5678", "medium", None),
        ("070-1234-5678", "medium", None),
    ],
)
def test_phone_numbers(text: str, confidence: str, masked: str | None) -> None:
    finding = one(text)
    assert (finding.kind, finding.confidence) == ("phone", confidence)
    if masked is not None:
        assert finding.masked == masked


def test_emails() -> None:
    found = scan_text("문의: hong.gildong+tag@mail.naver.com, test@example.com, a@b.test", today=TODAY)
    assert kinds(found) == [("email", "high"), ("email", "low"), ("email", "low")]
    assert found[0].masked == "h" + "*" * 15 + "@mail.naver.com"
    assert "hong" not in found[0].masked


@pytest.mark.parametrize(
    ("text", "confidence"),
    [
        ("카드 4111 1111 1111 1111", "high"),
        ("5500-0000-0000-0004", "high"),
        ("amex 3782 822463 10005", "high"),
        ("4111111111111111", "medium"),
        ("3530111333300000", "medium"),  # JCB
    ],
)
def test_card_numbers(text: str, confidence: str) -> None:
    finding = one(text)
    assert (finding.kind, finding.confidence) == ("card", confidence)
    assert finding.masked.endswith(text[-4:])
    assert finding.masked.count("*") >= 9


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # fails Luhn
        "1234 5678 9012 3456",  # fails Luhn
        "4111 11 111111 1111",  # Luhn passes, but not grouped like a card
        "0000000000000000",  # no issuer starts with 0
    ],
)
def test_not_card_numbers(text: str) -> None:
    assert [f for f in scan_text(text, today=TODAY) if f.kind == "card"] == []


@pytest.mark.parametrize(
    ("text", "confidence"),
    [
        ("입금 계좌: 신한은행 110-123-456789", "medium"),
        ("하나은행 123-456789-12345 (예금주 홍길동)", "medium"),
        ("KB국민 123456-01-123456", "medium"),
        ("Bank account: 1002-123-456789", "medium"),
        ("카카오뱅크 3333-01-1234567", "medium"),
        ("주문번호 110-123-456789", "low"),  # the shape, but no bank word: could be an order number
        ("계좌 110123456789", "low"),  # a bare run right after a bank word
    ],
)
def test_bank_accounts(text: str, confidence: str) -> None:
    finding = one(text)
    assert (finding.kind, finding.confidence) == ("bank_account", confidence)
    assert finding.masked[-4:].isdigit() and finding.masked[-4:] in text
    assert finding.masked.count("*") >= 6


def test_bank_word_on_another_line_does_not_count() -> None:
    found = scan_text("신한은행 지점 안내\n주문번호 110-123-456789", today=TODAY)
    assert kinds(found) == [("bank_account", "low")]


@pytest.mark.parametrize(
    "text",
    [
        "Released 2024-01-15 (20240115), v1.2.3, build 10.0.19045.3693",
        "ISBN 978-89-1234-567-8, EAN 9788912345678, ISBN-10 89-1234-567-X",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904 and uuid 123e4567-e89b-12d3-a456-426614174000",
        "pi = 3.14159265358979323846, e = 2.7182818284590452",
        "timestamp 1732752000000 ms, 1732752000 s",
        "icons: logo@2x.png, sprite@3x.webp; npm install lodash@4.17.21",
        "대표번호 1588-1234, 우편번호 06236, 가격 1,234,567,890원",
        "tensor shape [1, 4096, 11008], lr 0.0001, step 120000",
        "IP 192.168.010.123 port 8080",
    ],
)
def test_tricky_negatives(text: str) -> None:
    assert scan_text(text, today=TODAY) == []


def test_lines_and_columns() -> None:
    text = "첫 줄\n둘째 줄: 010-1234-5678\n\n  mail me: kim@corp.co.kr"
    found = scan_text(text, path="notes.txt", today=TODAY)
    assert [(f.path, f.line, f.column, f.kind) for f in found] == [
        ("notes.txt", 2, 7, "phone"),
        ("notes.txt", 4, 12, "email"),
    ]


def test_csv_uses_the_header_as_context() -> None:
    data = '이름,계좌번호,메모\n홍길동,110-123-456789,없음\n김철수,123-456789-12345,"여러 줄\n메모 010-2222-3333"\n'
    found = scan_bytes("people.csv", data.encode())
    assert [(f.kind, f.confidence, f.line, f.field) for f in found] == [
        ("bank_account", "medium", 2, "계좌번호"),
        ("bank_account", "medium", 3, "계좌번호"),
        ("phone", "high", 4, "메모"),
    ]
    assert found[0].column == len("홍길동,") + 1
    tsv = scan_bytes("people.tsv", b"name\tphone\nkim\t010-1234-5678\n")
    assert [(f.kind, f.line, f.column, f.field) for f in tsv] == [("phone", 2, 5, "phone")]


def test_json_and_jsonl_scan_string_values_with_escaped_keys() -> None:
    record = {"계좌번호": "110-123-456789", "messages": [{"role": "user", "content": "제 번호는 010-1234-5678"}]}
    line = json.dumps(record)  # ensure_ascii: the Korean key is written as \\uXXXX escapes
    assert "\\u" in line
    data = (json.dumps({"id": 1, "text": "hello"}) + "\n" + line + "\n").encode()
    found = scan_bytes("train.jsonl", data)
    assert [(f.kind, f.confidence, f.line, f.field) for f in found] == [
        ("bank_account", "medium", 2, "계좌번호"),
        ("phone", "high", 2, "content"),
    ]
    doc = json.dumps({"rows": [{"email": "kim@corp.co.kr"}, {"note": "none"}]}, indent=2).encode()
    found = scan_bytes("data.json", doc)
    assert [(f.kind, f.line, f.field) for f in found] == [("email", 4, "email")]
    # Keys are not values: a key that looks like a phone number is not reported.
    assert scan_bytes("keys.json", b'{"010-1234-5678": 1}') == []


def test_broken_json_is_scanned_as_text_and_reported() -> None:
    result = scan_bytes("bad.jsonl", b'{"ok": "fine"}\n{"broken": "010-1234-5678"\n')
    assert kinds(result) == [("phone", "high")]
    assert result[0].line == 2
    assert any("not valid JSON" in s for s in result.skipped)


def test_parquet_string_and_integer_columns() -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "name": ["kim", "lee", None],
            "contact": ["none", None, "010-1234-5678"],
            "resident_no": pa.array([1, 9001011234568, 2], type=pa.int64()),
            "score": [0.5, 0.25, 0.125],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    found = scan_bytes("data/train.parquet", buffer.getvalue(), today=TODAY)
    assert [(f.kind, f.confidence, f.line, f.field) for f in found] == [
        ("rrn", "high", 2, "resident_no"),
        ("phone", "high", 3, "contact"),
    ]
    assert found.skipped == []
    bad = scan_bytes("broken.parquet", b"PAR1 not really")
    assert bad == [] and "unreadable Parquet" in bad.skipped[0]


def test_parquet_without_pyarrow_is_skipped_not_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(name: str) -> object:
        raise ImportError(name)

    monkeypatch.setattr(pii.importlib, "import_module", refuse)
    result = scan_bytes("data.parquet", b"PAR1....PAR1")
    assert result == [] and not result.clean
    assert "install pyarrow" in result.skipped[0]


def test_binary_encodings_and_limits() -> None:
    binary = scan_bytes("weights.bin", b"\x00\x01\x02" * 100 + b"010-1234-5678")
    assert binary == [] and "binary" in binary.skipped[0]
    legacy = scan_bytes("old.txt", "전화 010-1234-5678".encode("cp949"))
    assert kinds(legacy) == [("phone", "high")] and legacy.skipped == []
    big = ("line\n" * 1000 + "010-1234-5678\n").encode()
    cut = scan_bytes("big.txt", big, max_bytes=1024)
    assert cut == [] and "only the first 1024" in cut.skipped[0]
    many = scan_bytes("many.txt", ("010-1234-5678\n" * 50).encode(), max_findings=10)
    assert len(many) == 10 and "stopped listing findings after 10" in many.skipped[0]


def test_call_styles_and_bad_calls() -> None:
    data = b"010-1234-5678"
    assert scan_bytes("a.txt", data) == scan_bytes(data, path="a.txt") == scan_bytes(path="a.txt", data=data)
    assert scan_bytes(data, path="a.txt")[0].path == "a.txt"
    with pytest.raises(PiiScanError) as caught:
        scan_bytes("a.txt")
    assert isinstance(caught.value, BadRequestError) and caught.value.hint
    with pytest.raises(PiiScanError):
        scan_bytes("a.txt", data, path="b.txt")


def test_scan_files_collects_everything() -> None:
    result = scan_files([("a.txt", b"kim@corp.co.kr"), ("b.bin", b"\x00\x00"), ("c.csv", b"x\n1\n")])
    assert isinstance(result, ScanResult)
    assert [(f.path, f.kind) for f in result.findings] == [("a.txt", "email")]
    assert result.skipped == ["b.bin: binary file, not scanned"]
    assert scan_files([("c.csv", b"x\n1\n")]).clean


def test_numbers_next_to_decimals_are_still_found() -> None:
    found = scan_text("score 0.5 010-1234-5678 and 1785.7142857142858", today=TODAY)
    assert kinds(found) == [("phone", "high")]
    assert found[0].column == len("score 0.5 ") + 1
