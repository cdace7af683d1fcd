"""Dates of birth and the person's name beside them: the ``dob-with-name`` PHI rule's parts,
shared by the detector (:mod:`.health`) and the mask (:mod:`.masks`)."""

from __future__ import annotations

import re

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE = (
    rf"(?P<date>\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d\d)"
    rf"|\d{{1,2}}[ \t]+{_MONTH},?[ \t]+\d{{4}}|{_MONTH}[ \t]+\d{{1,2}},?[ \t]+\d{{4}})(?!\d)"
)
DOB = re.compile(
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


def name_near(text: str, start: int, end: int) -> re.Match[str] | None:
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


def dob_parts(span: str) -> tuple[str, str]:
    date = DOB.search(span)
    name = name_near(span, date.start(), date.end()) if date else None
    return (date["date"] if date else ""), (name.group() if name else "")
