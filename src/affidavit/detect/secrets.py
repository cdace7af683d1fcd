"""Secrets: exactly what :func:`affidavit.capture.redact.redact_text` masks, mapped back onto
the original text so a scan can report where they are."""

from __future__ import annotations

import re
from collections.abc import Iterator

from affidavit.capture.redact import _TOKEN_RULES, redact_text
from affidavit.detect.match import Match

# -- secrets --------------------------------------------------------------------------------

_MASK = re.compile(r"\[REDACTED:([a-z-]+)\]")
_PREFIX = re.compile(r"[\w-]{1,12}\Z")
# Redact's token rules: their kinds name a token by a public prefix (sk-ant-, AKIA, ghp_).
_TOKEN_KINDS = frozenset(kind for kind, _ in _TOKEN_RULES)
_NAMED_BY_CONTEXT = frozenset(("password", "secret"))  # NAME=value: the name may mislead


def secrets(text: str) -> Iterator[Match]:
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
