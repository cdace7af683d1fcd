"""Email addresses and phone numbers."""

from __future__ import annotations

import re
from collections.abc import Iterator

from affidavit.detect.masks import mask
from affidavit.detect.match import Match, near, words

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


def emails(text: str) -> Iterator[Match]:
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
_PHONE_WORDS = words(
    "tel", "phone", "telephone", "mobile", "cell", "fax", "call", r"ph\.?", "contact", "whatsapp"
)


def phones(text: str, context: str) -> Iterator[Match]:
    for m in _PHONE.finditer(text):
        digits = sum(c.isdigit() for c in m.group())
        if not (8 <= digits <= 15 if m.group("intl") else 10 <= digits <= 11):
            continue
        named = near(text, m.start(), m.end(), _PHONE_WORDS, context, 30)
        if named:
            confidence = "high"
        elif m.group("intl") or m.group("paren") is not None:
            confidence = "medium"
        else:
            confidence = "low"
        yield Match("phone", "phone", mask("phone", m.group()), m.start(), m.end(), confidence)
