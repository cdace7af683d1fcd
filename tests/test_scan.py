"""``affidavit scan``: detectors, file extraction, ledger payloads, recording, the command.

Text fixtures are in ``assets/scan/`` (synthetic values in real formats: published test
card numbers, the standard example IBAN and NHS number); XLSX, DOCX and PDF files are made
here with openpyxl, python-docx and a hand-written PDF, so every format is read back by the
real libraries. The check digits are cross-checked against python-stdnum.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from affidavit.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, run
from affidavit.config import parse
from affidavit.detect import detectors
from affidavit.detect.records import record_findings, scan_ledger
from affidavit.detect.scan import (
    KEY_META,
    Finding,
    ScanReport,
    SkippedFile,
    detect,
    extract_text,
    hmac_key,
    hmac_of,
    mask,
    scan_paths,
)
from affidavit.errors import InputError, LedgerError
from affidavit.ledger import Ledger
from affidavit.record import Record
from conftest import ASSETS

SCAN = ASSETS / "scan"
KEY = b"test-key-0123456789abcdef0123456"
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AFFIDAVIT_LEDGER", "AFFIDAVIT_KEY", "AFFIDAVIT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / "home"))


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    path = tmp_path / "ledger.sqlite"
    with Ledger.create(path, origin="example.com/scan", key_path=tmp_path / "ledger.key") as led:
        yield led


def found(text: str, **kw: Any) -> list[tuple[str, str, str, str]]:
    """(class, rule, masked, matched text) for every match."""
    return [(m.data_class, m.rule, m.masked, text[m.start : m.end]) for m in detect(text, **kw)]


def scan(*paths: Path, **kw: Any) -> tuple[list[Finding], ScanReport]:
    report = ScanReport()
    kw.setdefault("cfg", None)
    return list(scan_paths(paths, key=KEY, report=report, **kw)), report


def short(findings: list[Finding]) -> list[tuple[str, str, str, str]]:
    """(location, class, rule, masked), location without the folder."""
    return [(f.where.rsplit("/", 1)[1], f.data_class, f.rule, f.masked) for f in findings]


# -- detectors ------------------------------------------------------------------------------


def test_cards_are_masked_as_bin_and_last_four_and_decoys_are_not_flagged() -> None:
    findings, report = scan(SCAN / "cards.csv")
    assert short(findings) == [
        ("cards.csv:C2", "card", "visa", "411111******1111"),
        ("cards.csv:C3", "card", "mastercard", "550000******5559"),
        ("cards.csv:C4", "card", "amex", "378282*****0005"),
    ]
    assert {f.confidence for f in findings} == {"medium"}  # published test numbers
    assert report.files == 1 and not report.errors and not report.skipped


@pytest.mark.parametrize(
    ("text", "issuer", "masked"),
    [
        ("pay 4539 1488 0343 6467 now", "visa", "453914******6467"),
        ("5425-2334-3010-9903", "mastercard", "542523******9903"),
        ("2223000048410010", "mastercard", "222300******0010"),
        ("card:371449635398431.", "amex", "371449*****8431"),
        ("6011000990139424", "discover", "601100******9424"),
        ("3530111333300000", "jcb", "353011******0000"),
        ("36227206271667", "diners", "362272****1667"),
        ("6200000000000005", "unionpay", "620000******0005"),
    ],
)
def test_card_issuers(text: str, issuer: str, masked: str) -> None:
    ((data_class, rule, shown, _),) = found(text)
    assert (data_class, rule, shown) == ("card", issuer, masked)


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # fails Luhn
        "1234567890123452",  # passes Luhn, no issuer
        "41111111111111111111",  # too long
        "f47ac10b-58cc-4372-a567-0e02b2c3d479",
        "12345678-1234-5678-1234-567812345678",
        "v0.4111111111111111",  # a decimal fraction
        "id-4111111111111111",  # part of an identifier
        "4111 1111-1111 1111",  # mixed separators
        "ORD-2024-000123 #100045678 20240115093000 1712345678",
    ],
)
def test_card_decoys(text: str) -> None:
    assert not [f for f in found(text) if f[0] == "card"]


def test_test_cards_in_code_comments_are_low_confidence_and_not_reported() -> None:
    assert scan(SCAN / "payment.py")[0] == []
    low, _ = scan(SCAN / "payment.py", include_low=True)
    assert [(f.masked, f.confidence) for f in low] == [
        ("424242******4242", "low"),
        ("555555******4444", "low"),
    ]
    # The same test number outside a comment, or a real-format number in one, is reported.
    assert detect("x = '4242424242424242'")[0].confidence == "medium"
    assert detect("# customer 4539148803436467")[0].confidence == "high"


def test_a_file_of_decoys_has_no_findings() -> None:
    assert scan(SCAN / "decoys.txt")[0] == []


def test_people_file() -> None:
    findings, _ = scan(SCAN / "people.txt")
    assert short(findings) == [
        ("people.txt:line 4", "ssn", "ssn", "***-**-8726"),
        ("people.txt:line 6", "iban", "iban", "GB82**************5432"),
        ("people.txt:line 7", "iban", "iban", "DE89**************3000"),
        ("people.txt:line 9", "nhs", "nhs", "******5919"),
        ("people.txt:line 11", "email", "email", "j***@acme-corp.co.uk"),
        ("people.txt:line 11", "email", "email", "J***@mail.acme-corp.com"),
        ("people.txt:line 13", "phone", "phone", "+** ** **** *958"),
        ("people.txt:line 13", "phone", "phone", "(***) ***-*671"),
        ("people.txt:line 15", "phi", "mrn", "******56"),
        ("people.txt:line 16", "phi", "icd10", "E**.*"),
        ("people.txt:line 17", "phi", "dob-with-name", "DOB ****-**-** J*** S****"),
        ("people.txt:line 18", "secret", "anthropic-key", "sk-ant-[REDACTED:anthropic-key]"),
    ]


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("SSN 536-22-8726", True),
        ("536-22-8726", True),
        ("ssn: 536228726", True),
        ("536228726", False),  # nine bare digits need an SSN word
        ("SSN 536 22 8726", True),
        ("536 22 8726", False),
        ("SSN 000-22-8726", False),
        ("SSN 666-22-8726", False),
        ("SSN 912-22-8726", False),  # 9xx: ITINs and unassigned
        ("SSN 536-00-8726", False),
        ("SSN 536-22-0000", False),
        ("SSN 078-05-1120", False),  # the Woolworth wallet card
        ("SSN 123-45-6789", False),
    ],
)
def test_ssn(text: str, hit: bool) -> None:
    assert [f[0] for f in found(text)] == (["ssn"] if hit else [])


def test_ssn_column_header_is_context() -> None:
    assert found("536228726", context="employee_ssn") == [
        ("ssn", "ssn", "***-**-8726", "536228726")
    ]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("GB82 WEST 1234 5698 7654 32", "GB82**************5432"),
        ("GB82WEST12345698765432", "GB82**************5432"),
        ("iban: DE89 3704 0044 0532 0130 00 THEN PAID", "DE89**************3000"),
        ("FR1420041010050500013M02606", "FR14*******************2606"),
        ("NO9386011117947", "NO93*******7947"),
        ("GB82 WEST 1234 5698 7654 32", "GB82**************5432"),
        ("GB83 WEST 1234 5698 7654 32", None),  # bad check digits
        ("GB82 WEST 1234 5698 7654 3", None),  # too short for GB
        ("XX82WEST12345698765432", None),  # no such country
        ("gb82west12345698765432", None),  # lower case is not how IBANs are written
        ("AGB82WEST12345698765432", None),
    ],
)
def test_iban(text: str, masked: str | None) -> None:
    assert [f[2] for f in found(text) if f[0] == "iban"] == ([masked] if masked else [])


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("943 476 5919", True),
        ("NHS no. 9434765919", True),
        ("nhs_number: 943-476-5919", True),
        ("9434765919", False),  # ten bare digits need "NHS" nearby
        ("NHS 943 476 5918", False),  # check digit
        ("NHS 000 000 0000", False),
        ("NHS 111 111 1111", False),
    ],
)
def test_nhs(text: str, hit: bool) -> None:
    assert [f[0] for f in found(text) if f[0] == "nhs"] == (["nhs"] if hit else [])


def test_email_and_phone() -> None:
    text = (
        "Write to Jane.Doe+hr@Acme-Corp.co.uk, git@github.com:acme/x, logo@2x.png, "
        "npm i left-pad@1.3.0, or ops@example.com. Tel: 020 7946 0958; +1 415-555-2671; "
        "(415) 555-2671; build 212-555-0123."
    )
    assert [(m.data_class, m.masked, m.confidence) for m in detect(text)] == [
        ("email", "J***@acme-corp.co.uk", "high"),
        ("email", "o***@example.com", "low"),  # a documentation domain
        ("phone", "*** **** *958", "high"),  # "Tel:" names it
        ("phone", "+* ***-***-*671", "high"),  # so does "Tel:", 30 characters back
        ("phone", "(***) ***-*671", "medium"),
        ("phone", "***-***-*123", "low"),  # nothing says it is a phone number
    ]


def test_phi_indicators() -> None:
    assert found("MRN: 00123456") == [("phi", "mrn", "******56", "00123456")]
    assert found("Medical record number A-1234567") == [("phi", "mrn", "*-*****67", "A-1234567")]
    assert found("00123456", context="MRN") == [("phi", "mrn", "******56", "00123456")]
    assert found("Diagnosis: E11.9 type 2 diabetes")[0][:3] == ("phi", "icd10", "E**.*")
    assert found("ICD-10 code J45 (asthma)")[0][:3] == ("phi", "icd10", "J**")
    assert found("DOB: 1980-04-12 John Smith")[0][:3] == (
        "phi",
        "dob-with-name",
        "DOB ****-**-** J*** S****",
    )
    assert found("Patient Mary Ann Jones, born on 12 March 1975")[0][1] == "dob-with-name"
    # Decoys: a code without a health word, a dot-less code without a diagnosis word, a date
    # of birth without a name, a form label that is not a name.
    assert found("Gate E11.9 closes at noon; seat A12") == []
    assert found("Give the patient vitamin B12 and D3") == []
    assert found("DOB: 1980-04-12") == []
    assert found("Date Of Birth: 1980-04-12") == []


def test_secrets_reuse_the_redaction_rules() -> None:
    text = (
        'export ANTHROPIC_API_KEY=sk-ant-api03-Zx8fQ2mP9vL3kR7tY1wB5nC4hJ6gD0sA-xxyz; aws="'
        'AKIAIOSFODNN7EXAMPLE"\npassword = "correct horse battery"\n'
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq3Zv0mGxJ9nK2pQ8s\n"
        "-----END RSA PRIVATE KEY-----\nalready [REDACTED:password] masked"
    )
    hits = found(text)
    assert [(c, r, s) for c, r, s, _ in hits] == [
        ("secret", "anthropic-key", "sk-ant-[REDACTED:anthropic-key]"),
        ("secret", "aws-access-key", "AKIA[REDACTED:aws-access-key]"),
        ("secret", "password", "[REDACTED:password]"),
        ("secret", "private-key", "[REDACTED:private-key]"),
    ]
    # The span is the secret, public prefix included: replacing it by the mask is redaction.
    assert hits[0][3].startswith("sk-ant-api03-") and hits[1][3] == "AKIAIOSFODNN7EXAMPLE"
    assert hits[2][3] == "correct horse battery"  # inside its quotes, as redact masks it


def test_overlaps_go_to_the_stronger_class() -> None:
    from affidavit.config import DATA_CLASSES

    assert sorted(detectors.PRIORITY) == sorted(DATA_CLASSES)
    # A valid NHS number written 3-3-4 is also a phone shape; a key holding digits is a key.
    assert [f[0] for f in found("Tel or NHS: 943 476 5919")] == ["nhs"]
    assert [f[0] for f in found("token=ghp_4111111111111111aaaaaaaaaaaaaaaaaaaa")] == ["secret"]


def test_masks() -> None:
    assert mask("card", "4111 1111 1111 1111") == "411111******1111"
    assert mask("ssn", "536-22-8726") == "***-**-8726"
    assert mask("iban", "gb82 west 1234 5698 7654 32") == "GB82**************5432"
    assert mask("nhs", "943 476 5919") == "******5919"
    assert mask("email", "Jane@Acme.COM") == "J***@acme.com"
    assert mask("phone", "+44 20 7946 0958") == "+** ** **** *958"
    assert mask("secret", "hunter2", rule="password") == "[REDACTED:password]"


def test_detect_never_raises_on_odd_text() -> None:
    rng = random.Random(7)
    alphabet = "0123456789 -+@.:#/\n\t()[]ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefxyz\u200b\u202e\ud800é"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 400)))
        for m in detect(text, context=text[:20]):
            assert 0 <= m.start < m.end <= len(text)
    assert detect("") == []
    assert detect("４１１１１１１１１１１１１１１１") == []  # fullwidth digits: not ASCII


# -- cross-checks with python-stdnum --------------------------------------------------------


def test_iban_lengths_match_stdnum_registry() -> None:
    import re

    from stdnum import iban

    theirs = {
        low: 4 + sum(int(n) for n in re.findall(r"(\d+)!", props["bban"]))
        for _, low, _, props, _ in iban._ibandb.prefixes
        if "bban" in props
    }
    assert theirs == detectors.IBAN_LENGTHS


@given(st.text(alphabet="0123456789", min_size=12, max_size=19))
def test_luhn_matches_stdnum(digits: str) -> None:
    from stdnum import luhn

    assert detectors.luhn_ok(digits) == luhn.is_valid(digits)


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_nhs_check_matches_stdnum(digits: str) -> None:
    from stdnum.gb import nhs

    if len(set(digits)) > 1:  # we also refuse 0000000000 and the like
        assert detectors.nhs_ok(digits) == nhs.is_valid(digits)


@given(
    st.sampled_from(sorted(detectors.IBAN_LENGTHS)),
    st.integers(min_value=0, max_value=10**40),
)
def test_iban_checksum_matches_stdnum(country: str, seed: int) -> None:
    from stdnum import iban
    from stdnum.iso7064 import mod_97_10

    length = detectors.IBAN_LENGTHS[country]
    bban = str(seed).rjust(length - 4, "0")[: length - 4]
    check = mod_97_10.calc_check_digits(bban + country)
    number = country + check + bban
    assert detectors.iban_ok(number)
    assert mod_97_10.is_valid(bban + country + check)
    bad = country + f"{(int(check) + 1) % 97:02d}" + bban
    assert not detectors.iban_ok(bad)
    assert iban.is_valid(number) in (True, False)  # national format may still reject


# -- HMAC -----------------------------------------------------------------------------------


def test_hmac_is_stable_keyed_and_format_independent() -> None:
    text = "4111 1111 1111 1111 and 4111-1111-1111-1111 and 4111111111111111"
    values = {hmac_of(detectors.canonical(m, text), KEY) for m in detect(text)}
    assert len(values) == 1
    assert values == {hmac_of("4111111111111111", KEY)}
    assert hmac_of("4111111111111111", KEY) != hmac_of("4111111111111111", b"x" * 32)
    assert len(hmac_of("x", KEY)) == 64


def test_hmac_key_from_ledger_then_from_config(ledger: Ledger) -> None:
    assert ledger.store.meta(KEY_META) is None
    key = hmac_key(ledger)
    assert len(key) == 32 and hmac_key(ledger) == key and ledger.store.meta(KEY_META)
    cfg = parse('[scan]\nhmac_key = "a-long-shared-organisation-key"\n')
    assert hmac_key(ledger, cfg) == b"a-long-shared-organisation-key"
    with pytest.raises(InputError, match=r"scan\.hmac_key"):
        hmac_key(ledger, parse('[scan]\nhmac_key = "short"\n'))


def test_hmac_key_on_a_read_only_ledger(ledger: Ledger) -> None:
    with Ledger.open(Path(ledger.store.path), readonly=True) as reader:
        with pytest.raises(LedgerError, match="cannot be written"):
            hmac_key(reader)
        key = hmac_key(ledger)
        assert hmac_key(reader) == key


# -- files ----------------------------------------------------------------------------------


def tiny_pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF (hand-built xref) with one Helvetica text line per string."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for lines in pages:
        text = " ".join(
            "(" + line.replace("(", r"\(").replace(")", r"\)") + ") '" for line in lines
        )
        stream = f"BT /F1 12 Tf 72 720 Td 14 TL {text} ET".encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
            b">> >> >> >>" % content
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def make_documents(folder: Path) -> None:
    import docx
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Payroll"
    sheet.append(["name", "ssn", "iban", "card"])
    sheet.append(["Ann Lee", 536228726, "GB82WEST12345698765432", 4111111111111111])
    sheet.append(["Ben Ode", "n/a", "GB83WEST12345698765432", 4111111111111112])
    book.create_sheet("Notes")["C3"] = "reach me at ann.lee@acme-corp.co.uk"
    book.save(folder / "payroll.xlsx")

    document = docx.Document()
    document.add_paragraph("Referral letter")
    document.add_paragraph("NHS number 943 476 5919, Diagnosis: E11.9 type 2 diabetes")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Patient", "MRN"
    table.cell(1, 0).text, table.cell(1, 1).text = "Ann Lee", "00123456"
    document.save(str(folder / "referral.docx"))

    (folder / "statement.pdf").write_bytes(
        tiny_pdf([["Statement"], ["Card 4111 1111 1111 1111", "SSN 536-22-8726"]])
    )


def test_xlsx_docx_and_pdf_are_read(tmp_path: Path) -> None:
    make_documents(tmp_path)
    findings, report = scan(tmp_path)
    assert short(findings) == [
        ("payroll.xlsx:Payroll!B2", "ssn", "ssn", "***-**-8726"),  # "ssn" header as context
        ("payroll.xlsx:Payroll!C2", "iban", "iban", "GB82**************5432"),
        ("payroll.xlsx:Payroll!D2", "card", "visa", "411111******1111"),
        ("payroll.xlsx:Notes!C3", "email", "email", "a***@acme-corp.co.uk"),
        ("referral.docx:paragraph 2", "nhs", "nhs", "******5919"),
        ("referral.docx:paragraph 2", "phi", "icd10", "E**.*"),
        ("referral.docx:table 1 B2", "phi", "mrn", "******56"),
        ("statement.pdf:page 2", "card", "visa", "411111******1111"),
        ("statement.pdf:page 2", "ssn", "ssn", "***-**-8726"),
    ]
    assert report.files == 3 and not report.errors and not report.skipped
    pieces = dict(extract_text(tmp_path / "statement.pdf"))
    assert "Statement" in pieces["page 1"]


def test_missing_reader_library_is_reported_and_the_scan_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_documents(tmp_path)
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # import openpyxl -> ImportError
    findings, report = scan(tmp_path)
    assert report.errors == [
        (
            str(tmp_path / "payroll.xlsx"),
            "reading .xlsx files needs openpyxl: pip install 'affidavit[scan]'",
        )
    ]
    assert {f.where.rsplit("/", 1)[1].split(":")[0] for f in findings} == {
        "referral.docx",
        "statement.pdf",
    }
    with pytest.raises(InputError, match=r"affidavit\[scan\]"):
        list(extract_text(tmp_path / "payroll.xlsx"))


def test_bad_huge_binary_and_odd_files_are_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "broken.docx").write_bytes(os.urandom(300))
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"4111111111111111")
    (tmp_path / "blob").write_bytes(b"\x00\x01\x02 4111111111111111")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    (tmp_path / "huge.txt").write_bytes(b"a" * 2048)
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9 \xff\xfe card 4111111111111111\n")
    (tmp_path / "utf16.txt").write_text("SSN 536-22-8726\n", encoding="utf-16")
    (tmp_path / "odd.txt").write_text(
        "\u202e\u200b emoji 🧾 RTL \u0661\u0662\u0663 ４１１１ \ufffd 5425-2334-3010-9903\n",
        encoding="utf-8",
    )
    (tmp_path / "long-line.log").write_text("x" * 300_000 + " 4111111111111111 " + "y" * 10)
    os.mkfifo(tmp_path / "pipe")
    findings, report = scan(tmp_path, max_bytes=1500)
    errors = dict(report.errors)
    skipped = dict(report.skipped)
    assert set(errors) == {str(tmp_path / n) for n in ("broken.xlsx", "broken.docx", "broken.pdf")}
    assert all(why.startswith("cannot read it: ") for why in errors.values())
    assert skipped[str(tmp_path / "photo.png")] == "binary format (.png)"
    assert skipped[str(tmp_path / "blob")] == "binary (NUL bytes)"
    assert skipped[str(tmp_path / "old.xls")].startswith(".xls is not read")
    assert skipped[str(tmp_path / "huge.txt")].startswith("larger than the 1500 bytes limit")
    assert skipped[str(tmp_path / "pipe")] == "not a regular file"
    assert sorted(short(findings)) == [
        ("latin1.txt:line 1", "card", "visa", "411111******1111"),
        ("odd.txt:line 1", "card", "mastercard", "542523******9903"),
        ("utf16.txt:line 1", "ssn", "ssn", "***-**-8726"),
    ]
    big, _ = scan(tmp_path / "long-line.log")
    assert short(big) == [("long-line.log:line 1", "card", "visa", "411111******1111")]
    wide = tmp_path / "wide.csv"  # a field past csv's limit: reported, then read as text
    wide.write_text(f'name,note\nAnn,"{"z" * 200_000}"\nBob,5425-2334-3010-9903\n')
    findings, report = scan(wide)
    assert report.errors == [(str(wide), "line 2: not CSV (field larger than field limit "
                              "(131072)); read on as text")]  # fmt: skip
    assert short(findings) == [("wide.csv:line 3", "card", "mastercard", "542523******9903")]
    with pytest.raises(SkippedFile):
        list(extract_text(tmp_path / "blob"))


def test_symlinks_are_not_followed_out_of_the_root(tmp_path: Path) -> None:
    outside, root = tmp_path / "outside", tmp_path / "root"
    outside.mkdir()
    (root / "sub").mkdir(parents=True)
    (outside / "secret.txt").write_text("SSN 536-22-8726\n")
    (root / "sub" / "mine.txt").write_text("SSN 536-22-8726\n")
    (root / "out.txt").symlink_to(outside / "secret.txt")
    (root / "in.txt").symlink_to(root / "sub" / "mine.txt")
    (root / "dir").symlink_to(outside, target_is_directory=True)
    findings, report = scan(root)
    assert [f.where for f in findings] == [f"{root}/sub/mine.txt:line 1"]
    assert dict(report.skipped) == {
        str(root / "dir"): "symbolic link to a folder (not followed)",
        str(root / "in.txt"): "symbolic link; its target is scanned where it is",
        str(root / "out.txt"): "symbolic link to outside the scanned folder (not followed)",
    }
    assert scan(tmp_path / "missing")[1].errors == [
        (str(tmp_path / "missing"), "no such file or folder")
    ]


def test_findings_name_their_granted_folder(tmp_path: Path) -> None:
    finance = tmp_path / "work" / "finance"
    finance.mkdir(parents=True)
    (finance / "q3.csv").write_text("name,card\nAnn,4539148803436467\n")
    cfg = parse(f'[[folders]]\npath = "{tmp_path / "work"}"\n\n[[folders]]\npath = "{finance}"\n')
    findings, _ = scan(finance, cfg=cfg)
    assert [(f.folder, f.path) for f in findings] == [(str(finance), str(finance / "q3.csv"))]


# -- recorded payloads ----------------------------------------------------------------------


def append(ledger: Ledger, kind: str, payload: dict[str, Any]) -> int:
    return ledger.append([Record.create(kind, "test", payload, time=NOW)]).start


def test_payloads_are_scanned_once_per_value(ledger: Ledger) -> None:
    prompt = append(ledger, "prompt.submit", {"prompt": {"text": "my SSN is 536-22-8726"}})
    tool_input = {"file_path": "/srv/finance/a.txt", "content": "IBAN GB82WEST12345698765432"}
    tool = append(
        ledger,
        "tool.call",
        {
            "tool": {"name": "Write", "input": tool_input},
            "raw": {"tool_input": tool_input, "session_id": "4111111111111111"},
            "file": {"path": "/srv/finance/a.txt", "after_sha256": "4111111111111111"},
        },
    )
    command = append(ledger, "command.exec", {"command": {"text": "echo 4111111111111111"}})
    erased = append(ledger, "prompt.submit", {"prompt": {"text": "card 5425233430109903"}})
    ledger.erase([erased], "test")
    cfg = parse('[[folders]]\npath = "/srv/finance"\n')
    findings = list(scan_ledger(ledger, cfg=cfg, key=KEY))
    assert [(f.where, f.data_class, f.masked, f.seq, f.folder) for f in findings] == [
        (f"record {prompt} prompt.text", "ssn", "***-**-8726", prompt, None),
        (f"record {tool} tool.input.content", "iban", "GB82**************5432", tool,
         "/srv/finance"),
        (f"record {command} command.text", "card", "411111******1111", command, None),
    ]  # fmt: skip
    assert list(scan_ledger(ledger, since_seq=command + 1, key=KEY)) == []


def raw_values() -> list[bytes]:
    return [
        b"4111111111111111", b"4111 1111", b"5500005555555559", b"536-22-8726", b"536228726",
        b"GB82 WEST", b"GB82WEST", b"9434765919", b"943 476 5919", b"jane.doe", b"7946 0958",
        b"00123456", b"E11.9", b"1980-04-12", b"John Smith", b"Zx8fQ2mP9vL3kR7tY1wB5nC4hJ6gD0sA",
    ]  # fmt: skip


def test_recorded_findings_hold_no_raw_value_verify_and_are_not_repeated(
    ledger: Ledger, tmp_path: Path
) -> None:
    findings, _ = scan(SCAN)
    seqs = record_findings(ledger, findings, actor={"user": "auditor"}, now=NOW)
    assert len(seqs) == len(findings) == 15
    payload = ledger.record(seqs.start).payload
    assert payload == {
        "actor": {"user": "auditor"},
        "file": {"path": str(SCAN / "cards.csv")},
        "finding": {
            "type": "data",
            "data_class": "card",
            "rule": "visa",
            "masked": "411111******1111",
            "hmac": hmac_of("4111111111111111", KEY),
            "confidence": "medium",
            "where": f"{SCAN / 'cards.csv'}:C2",
            "source": "file",
        },
    }
    ledger.seal()
    ledger.verify()
    db = Path(ledger.store.path)
    stored = b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())
    assert stored and not [v for v in raw_values() if v in stored]
    # Re-scan: nothing new; a finding in a new place is new.
    again, _ = scan(SCAN)
    assert record_findings(ledger, again) == range(seqs.stop, seqs.stop)
    moved = again[0]._replace(where="/elsewhere/cards.csv:C2")
    assert record_findings(ledger, [moved, moved]) == range(seqs.stop, seqs.stop + 1)
    ledger.seal()
    ledger.verify()


def test_dedup_sees_findings_not_yet_in_the_actions_index(ledger: Ledger) -> None:
    from affidavit import query

    findings, _ = scan(SCAN / "cards.csv")
    record_findings(ledger, findings[:1])
    query.refresh(ledger.store)  # first finding indexed, the next ones not
    record_findings(ledger, findings[1:2])
    assert len(record_findings(ledger, findings)) == 1


# -- the command ----------------------------------------------------------------------------


def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run(["--ledger", str(tmp_path / "cli.sqlite"), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "affidavit.toml"
    config.write_text(f'[[folders]]\npath = "{SCAN}"\nforbidden_data = ["card"]\n')
    assert cli(tmp_path, capsys, "init", "--origin", "example.com/cli")[0] == EXIT_OK
    code, out, err = cli(tmp_path, capsys, "scan", "--config", str(config), "--format", "jsonl",
                         "--dry-run")  # fmt: skip
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == EXIT_FAILED and len(rows) == 15
    assert {r["folder"] for r in rows} == {str(SCAN)}
    assert not [v for v in raw_values() if v.decode() in out + err]
    assert "15 findings in 4 file(s)" in err and "recorded" not in err
    code, out, err = cli(tmp_path, capsys, "scan", "--config", str(config), "--format", "csv")
    assert code == EXIT_FAILED and out.startswith("where,data_class,rule,masked")
    assert "recorded 15 new finding(s): records 0..14; 0 known" in err
    code, _, err = cli(tmp_path, capsys, "scan", "--config", str(config), "--format", "json")
    assert code == EXIT_FAILED and "recorded 0 new finding(s); 15 known" in err
    code, out, _ = cli(tmp_path, capsys, "scan", str(SCAN / "decoys.txt"), "--config", str(config))
    assert (code, out) == (EXIT_OK, "")
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    code, _, err = cli(tmp_path, capsys, "scan", "--config", str(empty))
    assert code == EXIT_USAGE and "give PATHS" in err
    assert cli(tmp_path, capsys, "verify")[0] == EXIT_OK


def test_command_without_a_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(tmp_path, capsys, "scan", str(SCAN / "people.txt"), "--no-records",
                         "--dry-run", "--format", "jsonl")  # fmt: skip
    assert code == EXIT_FAILED and len(out.splitlines()) == 12 and "one-off key" in err
    assert not (tmp_path / "cli.sqlite").exists()
    code, _, err = cli(tmp_path, capsys, "scan", str(SCAN / "people.txt"))
    assert code == EXIT_USAGE and "affidavit init" in err


def test_importing_scan_stays_light() -> None:
    code = (
        "import sys, affidavit.detect.scan; "
        "print(sorted(m for m in ('openpyxl', 'docx', 'pypdf', 'sqlite3', 'click', 'hmac',"
        " 'dataclasses', 'csv') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
