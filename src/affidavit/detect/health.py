"""PHI indicators: labelled medical record numbers, ICD-10 codes beside a health word, and a
labelled date of birth with a person's name beside it."""

from __future__ import annotations

import re
from collections.abc import Iterator

from affidavit.detect.masks import mask
from affidavit.detect.match import Match, near, words
from affidavit.detect.names import DOB, name_near

# -- PHI indicators -------------------------------------------------------------------------

_MRN = re.compile(
    r"[Mm](?<![A-Za-z][Mm])(?i:rn|ed(?:ical)?[ ._-]*rec(?:ord)?s?[ ._-]*(?:no\.?|num(?:ber)?|#|id))"
    r"[ \t]*[:#=.]?[ \t]*(?P<v>[A-Z]{0,3}-?\d{5,12})(?![\w-])",
    re.ASCII,
)
_MRN_VALUE = re.compile(r"[ \t]*(?P<v>[A-Z]{0,3}-?\d{5,12})[ \t]*\Z", re.ASCII)
_MRN_WORDS = words("mrn", r"medical[ ._-]*record")
_HEALTH = words(
    r"diagnos[a-z]*", "dx", r"icd(?:-?10)?(?:-?cm)?", "patients?", "conditions?", "disease",
    "disorder", "syndrome", r"diabet[a-z]*", "cancer", "carcinoma", r"tumou?r", "hypertension",
    "asthma", r"depressi[a-z]*", "anxiety", "infection", "hiv", "hepatitis", r"pregnan[a-z]*",
    "treatment", "treated", r"prescri[a-z]*", "medications?", r"symptoms?", "clinical",
    "admitted", "admission", r"discharged?", r"comorbid[a-z]*",
)  # fmt: skip
_STRONG = words(r"diagnos[a-z]*", "dx", r"icd(?:-?10)?(?:-?cm)?", "code")
_ICD = re.compile(
    r"[A-TV-Z](?<![\w.][A-TV-Z])\d[0-9A-Z](?P<dot>\.[0-9A-Z]{1,4})?(?![\w-]|\.[0-9A-Z])", re.ASCII
)


def phi(text: str, context: str) -> Iterator[Match]:
    for m in _MRN.finditer(text):
        yield Match("phi", "mrn", mask("phi", m["v"], rule="mrn"), *m.span("v"), "high")
    if context and _MRN_WORDS.search(context) and (bare := _MRN_VALUE.match(text)):
        yield Match("phi", "mrn", mask("phi", bare["v"], rule="mrn"), *bare.span("v"), "high")
    for m in _ICD.finditer(text):  # codes are rarer than health words: look for them first
        if near(text, m.start(), m.end(), _HEALTH, context, 60) and (
            m["dot"] or near(text, m.start(), m.end(), _STRONG, context, 30)
        ):
            yield Match("phi", "icd10", mask("phi", m.group(), rule="icd10"), *m.span(), "medium")
    for m in DOB.finditer(text):
        name = name_near(text, m.start(), m.end())
        if name is not None:
            start, end = min(m.start(), name.start()), max(m.end(), name.end())
            masked = mask("phi", text[start:end], rule="dob-with-name")
            yield Match("phi", "dob-with-name", masked, start, end, "high")
