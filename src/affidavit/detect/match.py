"""What a detector returns, and the keyword helpers the detectors share.

Pure and stdlib only: the capture-time policy runs the detectors inside the agent's hook.
"""

from __future__ import annotations

import re
from typing import NamedTuple


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


def words(*words: str) -> re.Pattern[str]:
    """Any of ``words`` not inside a longer word (``patient_ssn`` counts, ``lesson`` not)."""
    return re.compile(rf"(?<![a-z])(?:{'|'.join(words)})(?![a-z])", re.IGNORECASE)


def near(
    text: str, start: int, end: int, words: re.Pattern[str], context: str, span: int = 40
) -> bool:
    """One of ``words`` within ``span`` characters on the same line, or in the context."""
    lo = max(text.rfind("\n", 0, start) + 1, start - span)
    hi = text.find("\n", end, end + span)
    if words.search(text, lo, start) or words.search(text, end, end + span if hi < 0 else hi):
        return True
    return bool(context) and words.search(context) is not None
