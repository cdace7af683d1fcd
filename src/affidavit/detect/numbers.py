"""Numbers with a checksum or a registered shape: payment cards (issuer range and Luhn), US
SSNs, IBANs (ISO 7064 mod 97) and NHS numbers (mod 11)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from affidavit.detect.masks import mask
from affidavit.detect.match import Match, near, words

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


def cards(text: str) -> Iterator[Match]:
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
_SSN_WORDS = words("ssn", r"ss\s?#", r"social\s+security", r"soc\.?\s*sec")
_VOID_SSNS = frozenset(("078051120", "219099999", "123456789"))


def ssn_ok(digits: str) -> bool:
    area, group, serial = int(digits[:3]), digits[3:5], digits[5:]
    return (
        0 < area < 900 and area != 666 and group != "00" and serial != "0000"
    ) and digits not in _VOID_SSNS


def ssns(text: str, context: str) -> Iterator[Match]:
    for m in _SSN.finditer(text):
        digits = m.group().replace("-", "").replace(" ", "")
        if not ssn_ok(digits):
            continue
        named = near(text, m.start(), m.end(), _SSN_WORDS, context)
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


def ibans(text: str) -> Iterator[Match]:
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
_NHS_WORDS = words("nhs", "chi")


def nhs_ok(digits: str) -> bool:
    """NHS mod 11: weights 10..2 over the first nine digits; a check of 10 is never issued."""
    if len(set(digits)) == 1:
        return False
    check = 11 - sum(w * (ord(c) - 48) for w, c in zip(range(10, 1, -1), digits, strict=False)) % 11
    return check != 10 and check % 11 == ord(digits[9]) - 48


def nhs(text: str, context: str) -> Iterator[Match]:
    for m in _NHS.finditer(text):
        digits = m.group().replace(" ", "").replace("-", "")
        if not nhs_ok(digits):
            continue
        named = near(text, m.start(), m.end(), _NHS_WORDS, context)
        if named or m.group("s") == " ":
            yield Match(
                "nhs", "nhs", mask("nhs", digits), m.start(), m.end(), "high" if named else "medium"
            )
