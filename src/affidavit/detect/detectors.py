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

The rules live one family to a module (:mod:`.numbers`, :mod:`.contacts`, :mod:`.health`,
:mod:`.secrets`), masks in :mod:`.masks`; this module runs them and resolves overlaps.
"""

from __future__ import annotations

import re
from bisect import bisect_left

from affidavit.detect.contacts import emails, phones
from affidavit.detect.health import phi
from affidavit.detect.masks import mask
from affidavit.detect.match import Match
from affidavit.detect.names import dob_parts
from affidavit.detect.numbers import IBAN_LENGTHS, cards, iban_ok, ibans, luhn_ok, nhs, nhs_ok, ssns
from affidavit.detect.secrets import secrets

__all__ = [
    "IBAN_LENGTHS",
    "PRIORITY",
    "Match",
    "canonical",
    "detect",
    "iban_ok",
    "luhn_ok",
    "mask",
    "nhs_ok",
]

# Highest priority first: where two matches overlap, the earlier class wins (a valid NHS
# number written 3-3-4 is not also a phone number; a key holding 16 digits is a secret).
PRIORITY = ("secret", "card", "iban", "nhs", "ssn", "phi", "email", "phone")
_RANK = {c: i for i, c in enumerate(PRIORITY)}


_DIGIT = re.compile(r"\d", re.ASCII)


def detect(text: str, *, context: str = "") -> list[Match]:
    """Every regulated value in ``text``, left to right, overlaps resolved by class priority.

    Pure and never raises on odd input. ``context`` is text beside ``text`` (a column header,
    a field name) that keyword rules may use; matches are only ever reported inside ``text``.
    """
    found: list[Match] = []
    if _DIGIT.search(text):
        found += cards(text)
        found += ssns(text, context)
        found += ibans(text)
        found += nhs(text, context)
        found += phones(text, context)
    if "@" in text:
        found += emails(text)
    found += secrets(text)
    found += phi(text, context)
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
        date, name = dob_parts(raw)
        return f"{''.join(c for c in date.lower() if c.isalnum())} {' '.join(name.lower().split())}"
    if match.data_class == "phi":
        return raw.strip().upper()
    return raw
