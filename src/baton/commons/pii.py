"""Personal data scanner for dataset files, run before a dataset is released.

Pure functions, no database. What it looks for, and how sure each finding is:

- ``rrn``: Korean resident (and foreign resident) registration numbers, ``YYMMDD-GNNNNNN`` with or
  without the hyphen. The birth date must be a real date (the century comes from the gender digit
  ``G``, 1-8; a birth date after today is impossible). The check digit is only a confidence
  signal, because numbers issued from October 2020 carry none: a valid check digit gives
  ``high``; an invalid one ``medium`` when written with the hyphen or next to a word such as
  주민/RRN, ``low`` for a bare run of 13 digits without such a word (1 in 10 arbitrary 13-digit
  numbers with a valid date would otherwise be reported).
- ``phone``: Korean mobile numbers (010, 011, 016-019) and landlines (02, 031-064, 070, 050x,
  080) with ``-``, ``.`` or spaces between the groups, and ``+82`` forms: ``high`` for mobiles,
  ``medium`` for landlines; a bare 11-digit mobile (01012345678) is ``medium``.
- ``email``: addresses; ``low`` for the reserved example domains (example.com, .test, ...), and
  never file names such as ``logo@2x.png``.
- ``card``: 13-19 digits, optionally grouped by spaces or hyphens, that pass the Luhn check and
  start like a card issuer's number (Visa, Mastercard, Amex, JCB, Diners, Discover/UnionPay,
  Korean domestic 9-prefixed cards): ``high`` when grouped like a card (4-4-4-4, 4-6-5, ...),
  ``medium`` as a bare run. ISBN/EAN numbers (978/979) are not cards.
- ``bank_account``: the formats of the Korean banks (3-2-6, 3-3-6, 6-2-6, 3-6-5, 4-3-6, 4-2-7,
  3-4-4-2, 3-6-2-3, 4-4-4 and similar: 10-14 digits in 3-4 hyphenated groups) are ``medium``
  when a bank word (은행, 계좌, 입금, 예금주, a bank's name, account, bank, ...) is near: within
  the same CSV column name, JSON key or a few dozen characters of text. Without such a word
  they are ``low``: the same shapes are common for order, invoice and serial numbers. A bare run
  of 10-14 digits is only reported (``low``) right after a bank word.

Every finding carries the path, the 1-based line and column, a masked form of the value (never
the whole value) and the reason. Files are read as UTF-8 (or CP949, still common for Korean
files); CSV/TSV cells, JSON/JSONL string values (not keys, not numbers) and Parquet string and
integer columns are scanned (Parquet needs ``pyarrow``; without it the file is listed in
``skipped``). Only lines that hold a candidate (9 or more digits in a row with single
separators, or an '@') go through the patterns, so plain and JSON Lines text scans at about
10 MB/s on one core; nothing reported spans two lines. What could
not be scanned is listed in ``ScanResult.skipped``: the caller must not treat such a file as clean.
"""

from __future__ import annotations

import bisect
import csv
import importlib
import io
import json
import json.decoder
import json.scanner
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from baton.core.errors import BadRequestError

KINDS = ("rrn", "phone", "email", "card", "bank_account")
CONFIDENCES = ("high", "medium", "low")
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_FINDINGS = 10_000


class PiiScanError(BadRequestError):
    code = "PiiScanError"
    default_hint = "Pass the file's path and its bytes, e.g. scan_bytes('data/train.jsonl', data)."


@dataclass(frozen=True)
class PiiFinding:
    kind: str  # "rrn" | "phone" | "email" | "card" | "bank_account"
    path: str
    line: int  # 1-based; for Parquet the row number
    column: int  # 1-based character column in the line (for Parquet and JSON values: in the value)
    masked: str  # the value with most digits/characters replaced by '*', never the whole value
    confidence: str  # "high" | "medium" | "low"
    reason: str
    field: str = ""  # CSV column, JSON path or Parquet column, when known


class ScanResult(list[PiiFinding]):
    """The findings (it is a list of them) and what could not be scanned, with why."""

    def __init__(self, findings: Iterable[PiiFinding] = (), skipped: Iterable[str] = ()) -> None:
        super().__init__(findings)
        self.skipped: list[str] = list(skipped)

    @property
    def findings(self) -> list[PiiFinding]:
        return list(self)

    @property
    def clean(self) -> bool:
        """No finding and nothing skipped."""
        return not self and not self.skipped

    def extend_result(self, other: ScanResult) -> None:
        self.extend(other)
        self.skipped.extend(other.skipped)


# --- patterns -----------------------------------------------------------------------------------

_NB = r"(?<![0-9A-Za-z_])(?<!\d[.,])"  # not inside a longer word, number or version string
_NA = r"(?![0-9A-Za-z_])(?![.,]\d)"

_RRN = re.compile(_NB + r"(\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])([ \t]?[-–][ \t]?|)([1-8])(\d{6})" + _NA)
_SEP = r"[-. \t]"
_PHONE = re.compile(
    _NB
    + r"(?:"
    + r"(?P<intl>\+82[-. \t]?(?:\(0\))?0?)(?P<irest>1[016789]|2|[3-6][1-5]|70)"
    + _SEP
    + r"?(?P<imid>\d{3,4})"
    + _SEP
    + r"?(?P<iend>\d{4})"
    + r"|(?P<mob>01[016789])(?P<msep>"
    + _SEP
    + r"?)(?P<mmid>\d{3,4})(?P=msep)(?P<mend>\d{4})"
    + r"|(?P<land>02|0[3-6][1-5]|070|050\d|080)"
    + _SEP
    + r"(?P<lmid>\d{3,4})"
    + _SEP
    + r"(?P<lend>\d{4})"
    + r")"
    + _NA
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])([A-Za-z0-9][A-Za-z0-9._%+\-]{0,63})@((?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+"
    r"([A-Za-z]{2,24}))(?![A-Za-z0-9\-])"
)
_CARD = re.compile(_NB + r"(\d(?:[ \-]?\d){12,18})" + _NA)
_ACCOUNT = re.compile(_NB + r"(?<!\d-)(\d{2,6}(?:-\d{2,7}){2,3})(?!-?\d)" + _NA)
_BARE_ACCOUNT = re.compile(_NB + r"(\d{10,14})" + _NA)

_FILE_TLDS = frozenset(
    (
        "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "js", "mjs", "css", "map",
        "json", "txt", "md", "py", "html", "htm", "xml", "pdf", "zip", "gz", "tar", "whl", "so", "dll", "exe",
        "mp3", "mp4", "wav", "webm", "woff", "woff2", "ttf",
    )
)  # fmt: skip
_EXAMPLE_DOMAINS = ("example.com", "example.org", "example.net")
_EXAMPLE_TLDS = ("test", "example", "invalid", "localhost")
_RRN_WORDS = re.compile(r"주민|등록번호|외국인\s*등록|rrn|resident", re.IGNORECASE)
_BANK_WORDS = re.compile(
    r"은행|계좌|입금|송금|이체|예금주|예금|통장|뱅크|농협|신협|수협|우체국|새마을금고|국민|신한|우리|하나|기업|"
    r"카카오|토스|케이뱅크|\bbank|account|acct|iban",
    re.IGNORECASE,
)
_ACCOUNT_SHAPES = frozenset(
    {
        (3, 2, 6), (3, 3, 6), (6, 2, 6), (3, 6, 5), (4, 3, 6), (4, 2, 7), (3, 4, 4, 2), (3, 6, 2, 3),
        (4, 4, 4), (3, 2, 4, 3), (6, 2, 5), (3, 2, 5), (3, 3, 5), (3, 4, 4, 1), (3, 6, 2, 2), (5, 2, 6),
        (4, 4, 5), (3, 2, 7), (4, 2, 6), (3, 4, 6), (3, 5, 6), (3, 6, 4), (3, 6, 3), (4, 6, 4), (2, 6, 6),
    }
)  # fmt: skip
_CANDIDATE = re.compile(r"\d(?:[ \t\-.–]{0,3}\d){8,}|@")


def _candidates(text: str) -> Iterator[int]:
    """Where something worth the full patterns may start: 9+ digits with single separators, or '@'.

    A run that is just a decimal number (1785.7142857142858) is never personal data.
    """
    for found in _CANDIDATE.finditer(text):
        if not _DECIMAL.fullmatch(found.group()):
            yield found.start()


def _has_candidate(text: str) -> bool:
    return next(_candidates(text), None) is not None


_DIGITS = re.compile(r"\d")
_DECIMAL = re.compile(r"\d+\.\d+")
_CONTEXT = 40  # characters of text around a value searched for a context word


def _rrn_check(digits: str, foreign: bool) -> bool:
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    total = sum(int(d) * w for d, w in zip(digits[:12], weights, strict=True))
    expected = (11 - total % 11) % 10
    if foreign:
        return int(digits[12]) in (expected, (13 - total % 11) % 10)
    return int(digits[12]) == expected


def _luhn(digits: str) -> bool:
    total = 0
    for k, ch in enumerate(reversed(digits)):
        d = int(ch)
        if k % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_brand(digits: str) -> str | None:
    n = len(digits)
    two, three, four, six = int(digits[:2]), int(digits[:3]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4" and n in (13, 16, 19):
        return "Visa"
    if (51 <= two <= 55 or 2221 <= four <= 2720) and n == 16:
        return "Mastercard"
    if two in (34, 37) and n == 15:
        return "American Express"
    if 3528 <= four <= 3589 and 16 <= n <= 19:
        return "JCB"
    if (300 <= three <= 305 or two in (36, 38, 39) or four == 3095) and 14 <= n <= 19:
        return "Diners Club"
    if (four == 6011 or two == 65 or 644 <= three <= 649 or 622126 <= six <= 622925) and 16 <= n <= 19:
        return "Discover"
    if two == 62 and 16 <= n <= 19:
        return "UnionPay"
    if digits[0] == "9" and n == 16 and three not in (978, 979):
        return "Korean domestic card"
    return None


def _mask(value: str, keep_start: int = 0, keep_end: int = 0) -> str:
    """Replace letters and digits with '*', keeping ``keep_start`` and ``keep_end`` of them."""
    positions = [k for k, ch in enumerate(value) if ch.isalnum()]
    kept = set(positions[:keep_start]) | set(positions[len(positions) - keep_end :] if keep_end else [])
    return "".join(ch if (k in kept or not ch.isalnum()) else "*" for k, ch in enumerate(value))


@dataclass(frozen=True)
class _Match:
    kind: str
    start: int
    end: int
    masked: str
    confidence: str
    reason: str


def _has(words: re.Pattern[str], text: str, start: int, end: int, extra: str) -> bool:
    lo = max(0, start - _CONTEXT, text.rfind("\n", 0, start) + 1)
    hi = text.find("\n", end)
    window = text[lo : min(end + _CONTEXT, hi if hi >= 0 else len(text))]
    return bool(words.search(window) or (extra and words.search(extra)))


def _find(text: str, context: str, today: date) -> list[_Match]:
    """All findings in one piece of text; ``context`` is a column name or key that counts as nearby."""
    found: list[_Match] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    def add(match: _Match) -> None:
        found.append(match)
        taken.append((match.start, match.end))

    if "@" in text:
        for m in _EMAIL.finditer(text):
            local, domain, tld = m.group(1), m.group(2).lower(), m.group(3).lower()
            if tld in _FILE_TLDS:
                continue
            example = domain in _EXAMPLE_DOMAINS or domain.endswith(tuple("." + d for d in _EXAMPLE_DOMAINS))
            example = example or tld in _EXAMPLE_TLDS
            masked = local[:1] + "*" * max(1, len(local) - 1) + "@" + domain
            add(
                _Match(
                    "email",
                    m.start(),
                    m.end(),
                    masked,
                    "low" if example else "high",
                    "e-mail address at a reserved example domain" if example else "e-mail address",
                )
            )
    if not _DIGITS.search(text):
        return found

    for m in _RRN.finditer(text):
        yy, mm, dd, sep, gender, rest = m.groups()
        g = int(gender)
        century = 1900 if g in (1, 2, 5, 6) else 2000
        try:
            born = date(century + int(yy), int(mm), int(dd))
        except ValueError:
            continue
        if born > today:
            continue
        digits = yy + mm + dd + gender + rest
        foreign = g >= 5
        valid = _rrn_check(digits, foreign)
        what = "foreign resident registration number" if foreign else "resident registration number"
        if valid:
            confidence, check = "high", "valid check digit"
        elif sep or _has(_RRN_WORDS, text, m.start(), m.end(), context):
            confidence, check = "medium", "no valid check digit (numbers issued since October 2020 have none)"
        else:
            confidence, check = "low", "13 digits with a valid birth date, no check digit, no hyphen and no RRN word"
        value = m.group(0)
        add(_Match("rrn", m.start(), m.end(), _mask(value, keep_start=2), confidence, f"{what}: {check}"))

    for m in _PHONE.finditer(text):
        if not free(m.start(), m.end()):
            continue
        value = m.group(0)
        if m.group("intl"):
            mobile = m.group("irest").startswith("1")
            confidence = "high" if mobile else "medium"
            reason = "Korean mobile number (+82)" if mobile else "Korean landline number (+82)"
        elif m.group("mob"):
            bare = not m.group("msep")
            confidence = "medium" if bare else "high"
            reason = "Korean mobile number" + (" without separators" if bare else "")
        else:
            confidence, reason = "medium", "Korean landline number"
        add(_Match("phone", m.start(), m.end(), _mask(value, keep_start=3, keep_end=4), confidence, reason))

    for m in _CARD.finditer(text):
        if not free(m.start(), m.end()):
            continue
        value = m.group(1)
        digits = re.sub(r"\D", "", value)
        if not (13 <= len(digits) <= 19) or not _luhn(digits):
            continue
        brand = _card_brand(digits)
        if brand is None:
            continue
        groups = tuple(len(g) for g in re.split(r"[ \-]", value))
        grouped = len(groups) > 1 and groups in {(4, 4, 4, 4), (4, 6, 5), (4, 6, 4), (4, 4, 4, 4, 3), (4, 4, 4, 3)}
        if len(groups) > 1 and not grouped:
            continue
        confidence = "high" if grouped else "medium"
        reason = f"{brand} card number (Luhn check passes)" + ("" if grouped else ", not grouped")
        add(_Match("card", m.start(), m.end(), _mask(value, keep_end=4), confidence, reason))

    for m in _ACCOUNT.finditer(text):
        if not free(m.start(), m.end()):
            continue
        value = m.group(1)
        groups = tuple(len(g) for g in value.split("-"))
        if groups not in _ACCOUNT_SHAPES or not (10 <= sum(groups) <= 14):
            continue
        near = _has(_BANK_WORDS, text, m.start(), m.end(), context)
        confidence = "medium" if near else "low"
        reason = "-".join(map(str, groups)) + " digits, the shape of a Korean bank account number"
        reason += ", next to a bank word" if near else ", no bank word nearby"
        add(_Match("bank_account", m.start(), m.end(), _mask(value, keep_end=4), confidence, reason))

    for m in _BARE_ACCOUNT.finditer(text):
        if not free(m.start(), m.end()):
            continue
        before = text[max(0, m.start() - 15, text.rfind("\n", 0, m.start()) + 1) : m.start()]
        if not (_BANK_WORDS.search(before) or (context and _BANK_WORDS.search(context))):
            continue
        add(
            _Match(
                "bank_account",
                m.start(),
                m.end(),
                _mask(m.group(1), keep_end=4),
                "low",
                f"{len(m.group(1))} digits right after a bank word",
            )
        )
    found.sort(key=lambda f: f.start)
    return found


# --- text ---------------------------------------------------------------------------------------


class _Collector:
    def __init__(self, path: str, today: date | None, max_findings: int) -> None:
        self.path = path
        self.today = today or date.today()
        self.max_findings = max_findings
        self.result = ScanResult()
        self.full = False

    def add(self, match: _Match, line: int, column: int, field: str = "") -> None:
        if self.full:
            return
        if len(self.result) >= self.max_findings:
            self.full = True
            self.result.skipped.append(
                f"{self.path}: stopped listing findings after {self.max_findings}; the file holds more"
            )
            return
        self.result.append(
            PiiFinding(match.kind, self.path, line, column, match.masked, match.confidence, match.reason, field)
        )

    def text(
        self, text: str, *, first_line: int = 1, first_column: int = 1, context: str = "", field: str = ""
    ) -> None:
        """Scan text; lines and columns count from ``first_line`` and ``first_column``.

        Only the lines holding a candidate (9 or more digits in a row, single separators allowed,
        or an '@') go through the patterns; nothing the scanner reports spans two lines.
        """
        if "\n" not in text:
            if _has_candidate(text):
                for match in _find(text, context, self.today):
                    self.add(match, first_line, match.start + first_column, field)
            return
        line_no, counted, done_until = first_line, 0, -1
        for pos in _candidates(text):
            if pos < done_until:
                continue
            start = text.rfind("\n", 0, pos) + 1
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            line_no += text.count("\n", counted, start)
            counted = start
            for match in _find(text[start:end], context, self.today):
                self.add(match, line_no, match.start + (first_column if start == 0 else 1), field)
            done_until = end + 1


def scan_text(
    text: str, *, path: str = "", today: date | None = None, max_findings: int = DEFAULT_MAX_FINDINGS
) -> list[PiiFinding]:
    """Findings in plain text, with 1-based lines and columns."""
    collector = _Collector(path, today, max_findings)
    collector.text(text)
    return collector.result


# --- formats ------------------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str | None]:
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return data.decode(encoding), None
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace"), "not valid UTF-8 or CP949; undecodable bytes were replaced"


def _scan_csv(collector: _Collector, text: str, delimiter: str) -> None:
    lines = text.splitlines(keepends=True)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] = []
    line_start = 1
    try:
        for record in reader:
            end_line = reader.line_num
            if not header:
                header = record
                # Column names can hold personal data too (a header row that is really data).
                for cell in record:
                    collector.text(cell, first_line=line_start, context="")
                line_start = end_line + 1
                continue
            raw = lines[line_start - 1] if line_start - 1 < len(lines) else ""
            for k, cell in enumerate(record):
                if not cell or not _has_candidate(cell):
                    continue
                name = header[k] if k < len(header) else f"column {k + 1}"
                offset = raw.find(cell) if end_line == line_start else -1
                collector.text(
                    cell, first_line=line_start, first_column=offset + 1 if offset >= 0 else 1, context=name, field=name
                )
            line_start = end_line + 1
    except csv.Error as exc:
        collector.result.skipped.append(
            f"{collector.path}: CSV unreadable after line {line_start} ({exc}); the rest was scanned as text"
        )
        rest = "".join(lines[line_start - 1 :])
        collector.text(rest, first_line=line_start)


_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_ESCAPED = re.compile(r"\\u([0-9a-fA-F]{4})")


def _json_values(text: str, base: int) -> Iterator[tuple[int, str]]:
    """(offset of the opening quote, decoded value) of every string value (not key) in a JSON text."""
    found: list[tuple[int, str]] = []
    decoder = json.JSONDecoder()

    def parse_string(s: str, end: int, strict: bool = True) -> tuple[str, int]:
        value, new_end = _scanstring(s, end, strict)
        found.append((base + end - 1, value))
        return value, new_end

    decoder.parse_string = parse_string  # type: ignore[attr-defined]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    decoder.decode(text)
    yield from found


def _scan_json_text(collector: _Collector, raw: str, doc: str, base: int, starts: list[int]) -> None:
    for offset, value in _json_values(doc, base):
        if not value or not _has_candidate(value):
            continue
        before = raw[max(0, offset - _CONTEXT) : offset]
        before = _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), before)
        row = bisect.bisect_right(starts, offset) - 1
        key = re.findall(r'"([^"\\]{1,64})"\s*:\s*$', before)
        collector.text(
            value,
            first_line=row + 1,
            first_column=offset - starts[row] + 2,
            context=before,
            field=key[0] if key else "",
        )


def _line_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer("\n", text)]


def _scan_json(collector: _Collector, text: str, lines_mode: bool) -> None:
    starts = _line_starts(text)
    if not lines_mode:
        if not _has_candidate(text):
            return
        try:
            _scan_json_text(collector, text, text, 0, starts)
            return
        except ValueError as exc:
            collector.result.skipped.append(f"{collector.path}: not valid JSON ({exc}); scanned as text instead")
            collector.text(text)
            return
    bad = 0
    for row, start in enumerate(starts):
        end = starts[row + 1] if row + 1 < len(starts) else len(text)
        line = text[start:end]
        if not _has_candidate(line):
            continue  # nothing to find: not even parsed
        try:
            _scan_json_text(collector, text, line, start, starts)
        except ValueError:
            bad += 1
            collector.text(line.rstrip("\n"), first_line=row + 1)
    if bad:
        collector.result.skipped.append(
            f"{collector.path}: {bad} line(s) are not valid JSON; they were scanned as text"
        )


def _scan_parquet(collector: _Collector, data: bytes) -> None:
    start = len(collector.result)
    _scan_parquet_columns(collector, data)
    # Columns are scanned one at a time; list the findings row by row, in column order.
    collector.result[start:] = sorted(collector.result[start:], key=lambda f: f.line)


def _scan_parquet_columns(collector: _Collector, data: bytes) -> None:
    try:
        # Imported by name: pyarrow is optional and ships no type information.
        pa: Any = importlib.import_module("pyarrow")
        pq: Any = importlib.import_module("pyarrow.parquet")
    except ImportError:
        collector.result.skipped.append(f"{collector.path}: Parquet not scanned (install pyarrow to scan it)")
        return
    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        collector.result.skipped.append(f"{collector.path}: unreadable Parquet ({exc}); not scanned")
        return
    row_base = 0
    unscanned: set[str] = set()
    for batch in parquet.iter_batches(batch_size=65_536):
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            kind = column.type
            if pa.types.is_dictionary(kind):
                column = column.cast(kind.value_type)
                kind = column.type
            if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind):
                values: list[Any] = column.to_pylist()
            else:
                if not (pa.types.is_floating(kind) or pa.types.is_boolean(kind) or pa.types.is_temporal(kind)):
                    unscanned.add(f"{name} ({kind})")
                continue
            for k, value in enumerate(values):
                if value is None:
                    continue
                text = str(value)
                if not _has_candidate(text):
                    continue
                collector.text(text, first_line=row_base + k + 1, context=name, field=name)
                if collector.full:
                    return
        row_base += batch.num_rows
    if unscanned:
        collector.result.skipped.append(
            f"{collector.path}: Parquet columns not scanned (nested or binary): {', '.join(sorted(unscanned))}"
        )


def _format(path: str, data: bytes) -> str:
    lower = path.lower()
    for suffix, kind in (
        (".parquet", "parquet"), (".pq", "parquet"), (".csv", "csv"), (".tsv", "tsv"), (".jsonl", "jsonl"),
        (".ndjson", "jsonl"), (".json", "json"),
    ):  # fmt: skip
        if lower.endswith(suffix):
            return kind
    if data[:4] == b"PAR1":
        return "parquet"
    return "text"


def scan_bytes(
    first: str | bytes | None = None,
    second: bytes | str | None = None,
    /,
    *,
    path: str | None = None,
    data: bytes | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_findings: int = DEFAULT_MAX_FINDINGS,
    today: date | None = None,
) -> ScanResult:
    """Scan one file's bytes: ``scan_bytes(path, data)`` (or ``scan_bytes(data, path=path)``).

    The format comes from the file name (``.csv``, ``.tsv``, ``.json``, ``.jsonl``/``.ndjson``,
    ``.parquet``; anything else is text). Only the first ``max_bytes`` are scanned; a larger file
    is listed in ``skipped``, and so are binary files and anything else not scanned.
    """
    name: object
    blob: object
    if first is None:
        name, blob = path, data
    elif isinstance(first, str):
        if path is not None:
            raise PiiScanError("pass the path once: scan_bytes(path, data) or scan_bytes(data, path=path)")
        name, blob = first, data if data is not None else second
    else:
        name, blob = (path if path is not None else second), first
    if not isinstance(name, str) or not isinstance(blob, bytes | bytearray | memoryview):
        raise PiiScanError("scan_bytes needs a path (str) and the file's bytes")
    blob = bytes(blob)
    if max_bytes < 1 or max_findings < 1:
        raise PiiScanError("max_bytes and max_findings must be positive")
    collector = _Collector(name, today, max_findings)
    fmt = _format(name, blob)
    if fmt == "parquet":
        if len(blob) > max_bytes:
            collector.result.skipped.append(f"{name}: {len(blob)} bytes, over the {max_bytes}-byte limit; not scanned")
        else:
            _scan_parquet(collector, blob)
        return collector.result
    if len(blob) > max_bytes:
        collector.result.skipped.append(
            f"{name}: only the first {max_bytes} of {len(blob)} bytes were scanned; the rest must be checked"
        )
        blob = blob[:max_bytes]
        cut = blob.rfind(b"\n")
        if cut > 0:
            blob = blob[: cut + 1]
    if b"\x00" in blob[:8192] and not blob.startswith((b"\xff\xfe", b"\xfe\xff")):
        collector.result.skipped.append(f"{name}: binary file, not scanned")
        return collector.result
    if blob.startswith((b"\xff\xfe", b"\xfe\xff")):
        text, problem = blob.decode("utf-16"), None
    else:
        text, problem = _decode(blob)
    if problem:
        collector.result.skipped.append(f"{name}: {problem}")
    if fmt in ("csv", "tsv"):
        _scan_csv(collector, text, "," if fmt == "csv" else "\t")
    elif fmt in ("json", "jsonl"):
        _scan_json(collector, text, lines_mode=fmt == "jsonl")
    else:
        collector.text(text)
    return collector.result


def scan_files(
    items: Iterable[tuple[str, bytes]],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_findings: int = DEFAULT_MAX_FINDINGS,
    today: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> ScanResult:
    """Scan ``(path, bytes)`` pairs; findings of all files, in order, and everything skipped."""
    result = ScanResult()
    for name, blob in items:
        if progress is not None:
            progress(name)
        result.extend_result(scan_bytes(name, blob, max_bytes=max_bytes, max_findings=max_findings, today=today))
    return result
