"""Regulated-data detectors: find card numbers, SSNs, IBANs, NHS numbers, PHI, emails,
phone numbers and secrets in text, and mask them.

Used by ``affidavit scan`` and by the capture-time folder policy inside the agent's hook, so
this module is pure and imports only the standard library (plus :mod:`~affidavit.capture.
redact`, itself stdlib only). Every pattern starts with a literal or a character class and
checks what precedes it by a lookbehind after that first character, so the regex engine
can skip ahead to candidates (``bench/bench_scan.py`` measures the whole of :func:`detect`).

Rules, by data class (``rule`` names the one that fired):

* ``card``: 13-19 digits, contiguous or in groups of 4 (Amex/Diners 4-6-5/4-6-4) split by
  one space or dash, in an issuer range with that issuer's length (visa, mastercard, amex,
  discover, jcb, diners, unionpay, maestro), passing Luhn. Masked as BIN + last 4.
* ``ssn``: ``AAA-GG-SSSS`` with a valid area (not 000, 666, 9xx), group and serial, and not
  a number known to be void (078-05-1120, 219-09-9999, 123-45-6789); ``AAA GG SSSS`` and
  nine bare digits only with an SSN word nearby.
* ``iban``: country code, check digits, the country's registered length, ISO 7064 mod 97;
  when python-stdnum is installed (the ``scan`` extra) it also checks the national BBAN
  format, so an installation with the extra is stricter, never looser.
* ``nhs``: ten digits passing the NHS mod 11 check; written ``3 3 4`` with spaces they are
  reported as they are, dashed or run together only with "NHS" nearby.
* ``phi``: ``mrn`` (a labelled medical record number), ``icd10`` (an ICD-10 code with a
  health word within 60 characters on its line; without its dot only next to
  diagnosis/ICD/dx/code),
  ``dob-with-name`` (a labelled date of birth with a person's name beside it).
* ``email``, ``phone`` (``+CC`` international numbers; national ones in brackets, or with a
  phone word nearby).
* ``secret``: exactly what :func:`affidavit.capture.redact.redact_text` masks (its
  gitleaks-style token rules, PEM private keys, and credentials named by their context);
  the rule is redact's kind (``anthropic-key``, ``private-key``, ``password``...).

``context`` (a column header, a field label) lets keyword rules see words that sit beside
the text rather than in it; nothing inside the context is ever reported.

Confidence: ``high`` when a checksum or an unambiguous shape backs the match, ``medium``
when the format fits but a coincidence is possible, ``low`` for what is almost certainly
not real: a well-known test card number inside a code comment, an address at a
documentation domain (example.com, .test), a phone number with nothing saying it is one.
``affidavit scan`` reports ``low`` matches only when asked (``--include-low``).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator
from typing import NamedTuple

from affidavit.capture.redact import _TOKEN_RULES, redact_text

# Highest priority first: where two matches overlap, the earlier class wins (a valid NHS
# number written 3-3-4 is not also a phone number; a key holding 16 digits is a secret).
PRIORITY = ("secret", "card", "iban", "nhs", "ssn", "phi", "email", "phone")
_RANK = {c: i for i, c in enumerate(PRIORITY)}


class Match(NamedTuple):
    """One hit. ``masked`` is safe to store and show; ``start``/``end`` index the text.

    A NamedTuple, not a dataclass: this runs in the hook, where importing ``dataclasses``
    costs about 8 ms (see :class:`affidavit.record._Value` for the same trade).
    """

    data_class: str
    rule: str
    masked: str
    start: int
    end: int
    confidence: str


def _words(*words: str) -> re.Pattern[str]:
    """Any of ``words`` not inside a longer word (``patient_ssn`` counts, ``lesson`` not)."""
    return re.compile(rf"(?<![a-z])(?:{'|'.join(words)})(?![a-z])", re.IGNORECASE)


def _near(
    text: str, start: int, end: int, words: re.Pattern[str], context: str, span: int = 40
) -> bool:
    """One of ``words`` within ``span`` characters on the same line, or in the context."""
    lo = max(text.rfind("\n", 0, start) + 1, start - span)
    hi = text.find("\n", end, end + span)
    if words.search(text, lo, start) or words.search(text, end, end + span if hi < 0 else hi):
        return True
    return bool(context) and words.search(context) is not None


# -- payment cards --------------------------------------------------------------------------

_CARD = re.compile(
    r"\d(?<![\w.-]\d)(?:\d{12,18}|\d{3}(?P<s>[ -])\d{4}(?P=s)\d{4}(?P=s)\d{1,4}(?:(?P=s)\d{1,3})?"
    r"|\d{3}(?P<a>[ -])\d{6}(?P=a)\d{4,5})(?![\w-]|\.\d)",
    re.ASCII,
)
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
# Published test numbers (Stripe, Adyen, PayPal, Braintree docs). Outside a code comment
# they are still reported: a file of them has the shape of cardholder data.
TEST_CARDS = frozenset((
    "4111111111111111", "4242424242424242", "4012888888881881", "4000056655665556",
    "4222222222222", "5555555555554444", "5105105105105100", "5500005555555559",
    "5200828282828210", "2223003122003222", "378282246310005", "371449635398431",
    "378734493671000", "6011111111111117", "6011000990139424", "3056930009020004",
    "30569309025904", "38520000023237", "3530111333300000", "3566002020360505",
    "6200000000000005", "4000000000000002", "4000000000000077", "4000000000000093",
))  # fmt: skip
_COMMENT_START = ("#", "//", "/*", "*", "--", "<!--", ";", "%", "'", "rem ")
_TRAILING_COMMENT = re.compile(r"(?:^|\s)(?:#|//|/\*|--)\s")


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check over a string of ASCII digits."""
    ints = [ord(c) - 48 for c in digits]
    return (sum(ints[-1::-2]) + sum(_DOUBLED[d] for d in ints[-2::-2])) % 10 == 0


def card_issuer(digits: str) -> str | None:
    """The issuer whose range and lengths ``digits`` fits, or None."""
    n, p2, p3, p4 = len(digits), int(digits[:2]), int(digits[:3]), int(digits[:4])
    if digits[0] == "4":
        return "visa" if n in (13, 16, 19) else None
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return "mastercard" if n == 16 else None
    if p2 in (34, 37):
        return "amex" if n == 15 else None
    if p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= int(digits[:6]) <= 622925:
        return "discover" if n >= 16 else None
    if 3528 <= p4 <= 3589:
        return "jcb" if n >= 16 else None
    if 300 <= p3 <= 305 or p2 in (36, 38, 39) or p4 == 3095:
        return "diners" if n >= 14 else None
    if p2 == 62:
        return "unionpay" if n >= 16 else None
    if p4 in (5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763):
        return "maestro"
    return None


def _in_comment(text: str, pos: int) -> bool:
    head = text[text.rfind("\n", 0, pos) + 1 : pos]
    return head.lstrip().lower().startswith(_COMMENT_START) or bool(_TRAILING_COMMENT.search(head))


def _cards(text: str) -> Iterator[Match]:
    for m in _CARD.finditer(text):
        digits = m.group().replace(" ", "").replace("-", "")
        issuer = card_issuer(digits)
        if issuer is None or not luhn_ok(digits):
            continue
        confidence = "high"
        if digits in TEST_CARDS:
            confidence = "low" if _in_comment(text, m.start()) else "medium"
        yield Match("card", issuer, mask("card", digits), m.start(), m.end(), confidence)


# -- US social security numbers -------------------------------------------------------------

_SSN = re.compile(r"\d(?<![\w-]\d)\d\d(?:(?P<s>[- ])\d\d(?P=s)|\d\d)\d{4}(?![\w-])", re.ASCII)
_SSN_WORDS = _words("ssn", r"ss\s?#", r"social\s+security", r"soc\.?\s*sec")
_VOID_SSNS = frozenset(("078051120", "219099999", "123456789"))


def ssn_ok(digits: str) -> bool:
    area, group, serial = int(digits[:3]), digits[3:5], digits[5:]
    return (
        0 < area < 900 and area != 666 and group != "00" and serial != "0000"
    ) and digits not in _VOID_SSNS


def _ssns(text: str, context: str) -> Iterator[Match]:
    for m in _SSN.finditer(text):
        digits = m.group().replace("-", "").replace(" ", "")
        if not ssn_ok(digits):
            continue
        named = _near(text, m.start(), m.end(), _SSN_WORDS, context)
        if m.group("s") == "-" or named:
            yield Match(
                "ssn", "ssn", mask("ssn", digits), m.start(), m.end(), "high" if named else "medium"
            )


# -- IBAN -----------------------------------------------------------------------------------

# Lengths from the SWIFT IBAN registry (release 101); tests compare them with python-stdnum.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20,
    "BE": 16, "BG": 22, "BH": 22, "BI": 27, "BR": 29, "BY": 28,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30,
    "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29,
    "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26,
    "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
_IBAN = re.compile(
    r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d\d"
    r"(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)(?![A-Za-z0-9])",
    re.ASCII,
)


def iban_ok(compact: str) -> bool:
    """Registered length and ISO 7064 mod 97-10 for an IBAN without spaces."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    return int("".join(str(int(c, 36)) for c in compact[4:] + compact[:4])) % 97 == 1


def _bban_ok(compact: str) -> bool:
    try:  # only on a checksum hit, so the hook pays nothing for it otherwise
        from stdnum import iban
    except ImportError:
        return True
    return bool(iban.is_valid(compact))


def _ibans(text: str) -> Iterator[Match]:
    for m in _IBAN.finditer(text):
        found = m.group()
        length = IBAN_LENGTHS.get(found[:2])
        compact = found.replace(" ", "")
        if length is None or len(compact) < length:
            continue
        end = m.end()
        if len(compact) > length:  # printed form ran into a following word: cut at a group
            if " " not in found:
                continue
            cut, seen = 0, 0
            while seen < length:
                seen += found[cut] != " "
                cut += 1
            if found[cut : cut + 1] != " ":
                continue
            compact, end = compact[:length], m.start() + cut
        if iban_ok(compact) and _bban_ok(compact):
            yield Match("iban", "iban", mask("iban", compact), m.start(), end, "high")


# -- NHS numbers ----------------------------------------------------------------------------

_NHS = re.compile(r"\d(?<![\w-]\d)\d\d(?P<s>[ -]?)\d{3}(?P=s)\d{4}(?![\w-])", re.ASCII)
_NHS_WORDS = _words("nhs", "chi")


def nhs_ok(digits: str) -> bool:
    """NHS mod 11: weights 10..2 over the first nine digits; a check of 10 is never issued."""
    if len(set(digits)) == 1:
        return False
    check = 11 - sum(w * (ord(c) - 48) for w, c in zip(range(10, 1, -1), digits, strict=False)) % 11
    return check != 10 and check % 11 == ord(digits[9]) - 48


def _nhs(text: str, context: str) -> Iterator[Match]:
    for m in _NHS.finditer(text):
        digits = m.group().replace(" ", "").replace("-", "")
        if not nhs_ok(digits):
            continue
        named = _near(text, m.start(), m.end(), _NHS_WORDS, context)
        if named or m.group("s") == " ":
            yield Match(
                "nhs", "nhs", mask("nhs", digits), m.start(), m.end(), "high" if named else "medium"
            )


# -- emails and phone numbers ---------------------------------------------------------------

_LOCAL = re.compile(r"[A-Za-z0-9_%+-](?:[A-Za-z0-9._%+-]{0,63})\Z", re.ASCII)
_DOMAIN = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24})(?![\w-]|\.[A-Za-z0-9])",
    re.ASCII,
)
_FILE_TLDS = frozenset(
    ("png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "js", "ts", "css", "py", "md", "txt")
)
_DOC_DOMAIN = re.compile(
    r"(?:^|\.)(?:example\.(?:com|org|net)|[^.]+\.(?:example|test|invalid|localhost|local))\Z",
    re.IGNORECASE,
)
_GIT_HOSTS = ("github.com", "gitlab.com", "bitbucket.org")


def _emails(text: str) -> Iterator[Match]:
    at = text.find("@")
    while at >= 0:
        local = _LOCAL.search(text, max(0, at - 64), at)
        domain = _DOMAIN.match(text, at + 1)
        if local and domain and domain.group(1).lower() not in _FILE_TLDS:
            start = local.start() + len(local.group()) - len(local.group().lstrip("."))
            name, host = text[start:at], domain.group().lower()
            if name and ".." not in name and not (name == "git" and host in _GIT_HOSTS):
                confidence = "low" if _DOC_DOMAIN.search(host) else "high"
                raw = text[start : domain.end()]
                yield Match("email", "email", mask("email", raw), start, domain.end(), confidence)
        at = text.find("@", at + 1)


_PHONE = re.compile(
    r"\+(?<![\w+]\+)(?P<intl>[1-9]\d{0,2}(?:[ .-]?(?:\(\d{1,5}\)|\d{1,5})){1,5})(?![\w+])"
    r"|(?:\((?<![\w(]\()\d{2,5}\)(?P<paren> ?)|\d(?<![\w.+-]\d)\d{1,4}[ .-])\d{3,4}[ .-]?\d{3,4}"
    r"(?![\w-]|\.\d)",
    re.ASCII,
)
_PHONE_WORDS = _words(
    "tel", "phone", "telephone", "mobile", "cell", "fax", "call", r"ph\.?", "contact", "whatsapp"
)


def _phones(text: str, context: str) -> Iterator[Match]:
    for m in _PHONE.finditer(text):
        digits = sum(c.isdigit() for c in m.group())
        if not (8 <= digits <= 15 if m.group("intl") else 10 <= digits <= 11):
            continue
        named = _near(text, m.start(), m.end(), _PHONE_WORDS, context, 30)
        if named:
            confidence = "high"
        elif m.group("intl") or m.group("paren") is not None:
            confidence = "medium"
        else:
            confidence = "low"
        yield Match("phone", "phone", mask("phone", m.group()), m.start(), m.end(), confidence)


# -- PHI indicators -------------------------------------------------------------------------

_MRN = re.compile(
    r"[Mm](?<![A-Za-z][Mm])(?i:rn|ed(?:ical)?[ ._-]*rec(?:ord)?s?[ ._-]*(?:no\.?|num(?:ber)?|#|id))"
    r"[ \t]*[:#=.]?[ \t]*(?P<v>[A-Z]{0,3}-?\d{5,12})(?![\w-])",
    re.ASCII,
)
_MRN_VALUE = re.compile(r"[ \t]*(?P<v>[A-Z]{0,3}-?\d{5,12})[ \t]*\Z", re.ASCII)
_MRN_WORDS = _words("mrn", r"medical[ ._-]*record")
_HEALTH = _words(
    r"diagnos[a-z]*", "dx", r"icd(?:-?10)?(?:-?cm)?", "patients?", "conditions?", "disease",
    "disorder", "syndrome", r"diabet[a-z]*", "cancer", "carcinoma", r"tumou?r", "hypertension",
    "asthma", r"depressi[a-z]*", "anxiety", "infection", "hiv", "hepatitis", r"pregnan[a-z]*",
    "treatment", "treated", r"prescri[a-z]*", "medications?", r"symptoms?", "clinical",
    "admitted", "admission", r"discharged?", r"comorbid[a-z]*",
)  # fmt: skip
_STRONG = _words(r"diagnos[a-z]*", "dx", r"icd(?:-?10)?(?:-?cm)?", "code")
_ICD = re.compile(
    r"[A-TV-Z](?<![\w.][A-TV-Z])\d[0-9A-Z](?P<dot>\.[0-9A-Z]{1,4})?(?![\w-]|\.[0-9A-Z])", re.ASCII
)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE = (
    rf"(?P<date>\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d\d)"
    rf"|\d{{1,2}}[ \t]+{_MONTH},?[ \t]+\d{{4}}|{_MONTH}[ \t]+\d{{1,2}},?[ \t]+\d{{4}})(?!\d)"
)
_DOB = re.compile(
    rf"[DdBb](?<![A-Za-z][DdBb])(?i:ob|\.o\.b\.?|ate[ \t]+of[ \t]+birth|irth[ \t]*date|orn"
    rf"(?:[ \t]+on)?)(?![A-Za-z])[ \t]*[:=-]?[ \t]*(?i:{_DATE})"
)
_NAME = re.compile(r"[A-Z][a-z]+(?:['-][A-Z]?[a-z]+)?(?:[ \t]+[A-Z][a-z]+(?:['-][A-Z]?[a-z]+)?)+")
_NOT_NAMES = frozenset((
    "date", "birth", "born", "dob", "name", "patient", "sex", "gender", "male", "female",
    "address", "age", "the", "on", "of", "and", "mr", "mrs", "ms", "dr", "record", "number",
    "id", "phone", "email", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
    "oct", "nov", "dec", "january", "february", "march", "april", "june", "july", "august",
    "september", "october", "november", "december",
))  # fmt: skip


def _name_near(text: str, start: int, end: int) -> re.Match[str] | None:
    """A person's name (two or more capitalised words, not field labels) on the same line
    within 60 characters before ``start`` or after ``end``."""
    lo = max(text.rfind("\n", 0, start) + 1, start - 60)
    hi = text.find("\n", end)
    hi = min(end + 60, len(text) if hi < 0 else hi)
    for window_start, window_end in ((end, hi), (lo, start)):
        for m in _NAME.finditer(text, window_start, window_end):
            words = [w for w in re.split(r"[ \t]+", m.group()) if w.lower() not in _NOT_NAMES]
            if len(words) >= 2:
                return m
    return None


def _phi(text: str, context: str) -> Iterator[Match]:
    for m in _MRN.finditer(text):
        yield Match("phi", "mrn", mask("phi", m["v"], rule="mrn"), *m.span("v"), "high")
    if context and _MRN_WORDS.search(context) and (bare := _MRN_VALUE.match(text)):
        yield Match("phi", "mrn", mask("phi", bare["v"], rule="mrn"), *bare.span("v"), "high")
    for m in _ICD.finditer(text):  # codes are rarer than health words: look for them first
        if _near(text, m.start(), m.end(), _HEALTH, context, 60) and (
            m["dot"] or _near(text, m.start(), m.end(), _STRONG, context, 30)
        ):
            yield Match("phi", "icd10", mask("phi", m.group(), rule="icd10"), *m.span(), "medium")
    for m in _DOB.finditer(text):
        name = _name_near(text, m.start(), m.end())
        if name is not None:
            start, end = min(m.start(), name.start()), max(m.end(), name.end())
            masked = mask("phi", text[start:end], rule="dob-with-name")
            yield Match("phi", "dob-with-name", masked, start, end, "high")


# -- secrets --------------------------------------------------------------------------------

_MASK = re.compile(r"\[REDACTED:([a-z-]+)\]")
_PREFIX = re.compile(r"[\w-]{1,12}\Z")
# Redact's token rules: their kinds name a token by a public prefix (sk-ant-, AKIA, ghp_).
_TOKEN_KINDS = frozenset(kind for kind, _ in _TOKEN_RULES)
_NAMED_BY_CONTEXT = frozenset(("password", "secret"))  # NAME=value: the name may mislead


def _secrets(text: str) -> Iterator[Match]:
    """Where :func:`redact_text` put its masks, mapped back onto ``text``.

    The redacted text is ``L0 M1 L1 M2 ... Ln`` (literal runs and masks) and the original
    is ``L0 S1 L1 S2 ... Ln``: each secret ends where the next literal run starts again. A
    mask already present in ``text`` (a redacted payload) passes through and is skipped.
    """
    redacted, count = redact_text(text)
    if not count:
        return
    parts = _MASK.split(redacted)
    literals, kinds = parts[0::2], parts[1::2]
    pos = len(literals[0])
    i = 0
    while i < len(kinds):
        kind, mask_text = kinds[i], f"[REDACTED:{kinds[i]}]"
        start = pos
        while i + 1 < len(kinds) and not literals[i + 1]:
            i += 1  # masks side by side: one finding for the run
        following = literals[i + 1]
        if i + 1 == len(kinds):
            end = len(text) - len(following)
            if not text.endswith(following):
                return  # cannot happen for redact's output; never guess a span
        else:
            # The run up to the next mask can be most of the text: find its head only, so
            # that k secrets cost O(k + n), not O(k * n).
            end = text.find(following[:256], start + 1)
            if end < 0:
                return
        i += 1
        pos = end + len(following)
        if text[start:end] == mask_text:
            continue
        prefix = ""  # the public part that names the credential: sk-ant-, AKIA, ghp_
        if kind in _TOKEN_KINDS and (p := _PREFIX.search(text, max(0, start - 12), start)):
            prefix, start = p.group(), p.start()
        confidence = "medium" if kind in _NAMED_BY_CONTEXT else "high"
        yield Match("secret", kind, prefix + mask_text, start, end, confidence)


# -- the entry points -----------------------------------------------------------------------

_DIGIT = re.compile(r"\d", re.ASCII)


def detect(text: str, *, context: str = "") -> list[Match]:
    """Every regulated value in ``text``, left to right, overlaps resolved by class priority.

    Pure and never raises on odd input. ``context`` is text beside ``text`` (a column header,
    a field name) that keyword rules may use; matches are only ever reported inside ``text``.
    """
    found: list[Match] = []
    if _DIGIT.search(text):
        found += _cards(text)
        found += _ssns(text, context)
        found += _ibans(text)
        found += _nhs(text, context)
        found += _phones(text, context)
    if "@" in text:
        found += _emails(text)
    found += _secrets(text)
    found += _phi(text, context)
    if len(found) < 2:
        return found
    found.sort(key=lambda m: (_RANK[m.data_class], m.start - m.end, m.start))
    starts: list[int] = []
    kept: list[Match] = []
    for m in found:
        i = bisect_left(starts, m.start)
        if (i and kept[i - 1].end > m.start) or (i < len(kept) and kept[i].start < m.end):
            continue
        starts.insert(i, m.start)
        kept.insert(i, m)
    return kept


def _stars(text: str, keep_last: int = 0) -> str:
    """Every letter and digit but the last ``keep_last`` becomes ``*``; separators stay."""
    out, kept = [], 0
    for c in reversed(text):
        if c.isalnum() and kept < keep_last:
            kept += 1
            out.append(c)
        else:
            out.append("*" if c.isalnum() else c)
    return "".join(reversed(out))


def mask(data_class: str, value: str, *, rule: str = "") -> str:
    """The form of ``value`` that may be stored and shown.

    card ``411111******1111`` (BIN + last 4, PCI DSS 3.4); ssn ``***-**-6789``; iban
    ``GB82**************5432``; nhs ``******5919``; email ``j***@example.com``; phone all
    digits but the last 3; phi: mrn ``******56``, icd10 ``E**.*`` (the chapter letter),
    dob-with-name ``DOB ****-**-** J*** S****``; secret ``[REDACTED:secret]``.
    """
    compact = "".join(c for c in value if c.isalnum())
    if data_class == "card":
        return compact[:6] + "*" * (len(compact) - 10) + compact[-4:]
    if data_class == "ssn":
        return "***-**-" + compact[-4:]
    if data_class == "iban":
        return compact[:4].upper() + "*" * (len(compact) - 8) + compact[-4:].upper()
    if data_class == "nhs":
        return "*" * (len(compact) - 4) + compact[-4:]
    if data_class == "email":
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}***@{domain.lower()}"
    if data_class == "phone":
        return _stars(value, 3)
    if data_class == "phi" and rule == "icd10":
        return value[:1] + "**" + (".*" if "." in value else "")
    if data_class == "phi" and rule == "dob-with-name":
        date, name = _dob_parts(value)
        return f"DOB {_stars(date)} " + " ".join(w[:1] + "*" * (len(w) - 1) for w in name.split())
    if data_class == "phi":
        return _stars(value, 2)
    return f"[REDACTED:{rule or data_class}]"


def _dob_parts(span: str) -> tuple[str, str]:
    date = _DOB.search(span)
    name = _name_near(span, date.start(), date.end()) if date else None
    return (date["date"] if date else ""), (name.group() if name else "")


def canonical(match: Match, text: str) -> str:
    """The normal form of the matched value that its HMAC is taken over, so the same card,
    IBAN or person gives the same HMAC however it was written. Never store it."""
    raw = text[match.start : match.end]
    if match.data_class in ("card", "ssn", "nhs"):
        return "".join(c for c in raw if c.isdigit())
    if match.data_class == "iban":
        return "".join(c for c in raw if c.isalnum()).upper()
    if match.data_class == "email":
        return raw.lower()
    if match.data_class == "phone":
        return ("+" if raw.startswith("+") else "") + "".join(c for c in raw if c.isdigit())
    if match.rule == "dob-with-name":
        date, name = _dob_parts(raw)
        return f"{''.join(c for c in date.lower() if c.isalnum())} {' '.join(name.lower().split())}"
    if match.data_class == "phi":
        return raw.strip().upper()
    return raw
