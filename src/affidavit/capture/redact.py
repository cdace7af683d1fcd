"""Mask secrets before anything is stored: tool inputs, commands, prompts, raw payloads.

It runs in the agent's hook on every tool call: standard library only, one combined regex
compiled at import, never an exception on odd input. Masked, with the mask's kind label:

* tokens that name themselves: Anthropic ``sk-ant-`` (anthropic-key), OpenAI ``sk-``,
  ``sk-proj-`` (openai-key), AWS ``AKIA``/``ASIA`` ids (aws-access-key), GitHub ``ghp_ gho_
  ghu_ ghs_ ghr_ github_pat_`` (github-token), Slack ``xoxb-``... (slack-token) and webhooks
  (slack-webhook), Google ``AIza`` (google-api-key), Stripe ``sk_live_ rk_live_``
  (stripe-key), npm ``npm_``, GitLab ``glpat-``, Hugging Face ``hf_``, JWTs (jwt);
* PEM private keys, every ``-----BEGIN ... PRIVATE KEY-----`` variant (private-key);
* values their context names: ``Authorization:`` headers, ``Bearer``/``Basic`` credentials
  (bearer-token, basic-auth), ``scheme://user:PASSWORD@host`` (url-password), ``--password
  X``, ``-pX`` after mysql and kin, ``curl -u user:X`` (password), ``NAME=X``, ``"NAME": X``
  and ``NAME: X`` (YAML, headers) where NAME ends in a password word (password), is the AWS
  secret access key (aws-secret-key), or ends in secret, token or api key (secret);
* in :func:`redact`, any non-empty string under a dict key that names a secret (by-key).

A mask keeps the short public prefix that says what the secret was, then the label:
``sk-ant-[REDACTED:anthropic-key]``. An auditor still sees *which* credential the agent
handled; nothing of the secret's random part survives. Masks hold no quote or backslash, so
redacted JSON text stays JSON, and no rule matches a mask, so redacting twice changes nothing.

Left alone: hex digests, UUIDs, base64 hashes, ``toolu_`` ids, ``-p`` as a port or path flag
(``ssh -p 2222``, ``mkdir -p``, a digits-only ``mysql -p 3306``), references and placeholders
(``$TOKEN``, ``${{ secrets.X }}``, ``<your-key>``), code that names a secret rather than
holding one (``password=get_password()``, ``self.token = token``), and the words in prose.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing itself costs the hook ~2 ms to import
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

MAX_DEPTH = 200
"""Containers nested deeper than this are replaced by :data:`TOO_DEEP` (never recursed)."""
TOO_DEEP = "[TRUNCATED:too-deep]"
BY_KEY = "[REDACTED:by-key]"

# Speed: Python's regex engine skips an alternative at once when its first op is a literal or
# a character class, so every rule starts with one (a leading lookbehind or group costs
# several times more per character). Tokens, Bearer and Basic must also start a word:
# _starts_word checks that on the few matches, not a lookbehind at every position.

# An assigned or flag value: \"json-escaped\", "double" or 'single' (with b/r/f/u prefixes
# for code), or bare up to a shell break.
_VALUE = (
    r"""(?:(?:[bBrRuUfF]{1,2}(?=\\?["']))?(?:\\"(?:[^"\\]|\\[^"])*?\\"|"(?:[^"\\\n]|\\.)*"|"""
    r"""'[^'\n]*')|(?:[^\s"'`;&|\\]|\\(?![nrt"\\]))++)"""
)
# -p is a password only after the mysql family (checked in _in_command), and a bare number
# there is more likely a port (ssh -p 2222, mkdir -p, docker -p 8080:80 never qualify).
_MYSQL = r"-(?<=[ \t]-)p(?P<mysql>)(?P<sp>[ \t]+)?(?(sp)(?!\d+(?![^\s;&|])))(?!-)"
_FLAG = r"-(?<![\w-].)-?(?:[A-Za-z]+-)*pass(?:word|wd|phrase)?(?:=|[ \t]+)(?!-)"
# NAME=value, "NAME": value, or NAME: value where NAME starts a line (YAML) or a quoted
# string (a header: -H "X-Api-Key: ..."), checked in _is_key; NAME ends in one of these words
# and only that word is matched. It starts with a class, then looks back at what it was.
_ASSIGN = (
    r"[PpSsTtAa_](?i:(?<=p)(?:ass(?:word|wd|phrase)|rivate[_-]?key)|(?<=_)pwd"
    r"|(?<=s)ecret(?:[_-]?key)?|(?<=t)oken|(?<=a)(?:pi[_-]?key|ccess[_-]?key))"
    r"(?P<assign>)(?P<aq>\\?[\"'])?[ \t]*(?:=(?![=>~])|(?P<ac>:)(?![=:]))[ \t]*"
)

_CONTEXT_RULES = [
    (
        "private-key",
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?P<S>(?:(?!-----END)[\w+/=\s\\:,.-]){20,}"
        r"(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)?)",
    ),
    ("url-password", r":(?:\\?/){2}[^\s:/?#@\"'<>\[\]\\]*:(?P<S>(?!\$)[^\s/?#@\"'<>\[\]\\]+)@"),
    ("password", f"(?:{_FLAG}|{_MYSQL}|{_ASSIGN})(?P<S>{_VALUE})"),
    (
        "password",  # -u means "user" to many tools; only curl's user:pass holds a secret
        r"-(?<=[ \t]-)(?:u|-user)(?P<curl>)(?:[ \t]+|=)?[\"']?[^\s:\"'\\]+:"
        r"(?P<S>(?!\$)[^\s\"'\\]+)",
    ),
    (
        "auth-header",
        r"[Aa](?<!\w.)(?i:uthorization)(?:\\?[\"'])?[ \t]*:[ \t]*(?:\\?[\"'])?"
        r"(?:[A-Za-z]+[ \t]+)?(?P<S>(?!\$)(?=[^\s\"'\\]*\d)[^\s\"'\\]{8,})",
    ),
    ("bearer-token", r"[Bb](?i:earer)[ \t]+(?P<S>(?=[\w.~+/=-]*\d)[\w.~+/=-]{16,})"),
    # A mask right after the credential means the "credential" was a NAME= whose value was
    # masked: taking it for Basic auth would make a second redaction differ from the first.
    ("basic-auth", r"[Bb](?i:asic)[ \t]+(?P<S>[A-Za-z0-9+/]{6,}={0,2})(?![\w+/=]|\[REDACTED:)"),
]
_TOKEN_RULES = [
    ("anthropic-key", r"sk-ant-(?P<S>[\w-]{20,})"),
    (
        "openai-key",
        r"sk-(?!ant-)(?:proj-|svcacct-|admin-)?(?P<S>(?=[a-z_-]{0,60}[A-Z0-9])[\w-]{20,})",
    ),
    ("aws-access-key", r"A(?:KIA|SIA)(?P<S>[A-Z0-9]{16})(?![A-Za-z0-9])"),
    ("github-token", r"g(?:h[pousr]_|ithub_pat_)(?P<S>\w{30,})"),
    ("slack-token", r"x(?:ox[abeoprs]|app)-(?P<S>[A-Za-z0-9-]{10,})"),
    ("slack-webhook", r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<S>[\w/-]{16,})"),
    ("google-api-key", r"AIza(?P<S>[\w-]{35})(?![\w-])"),
    ("stripe-key", r"[rs]k_(?:live|test)_(?P<S>[A-Za-z0-9]{16,})"),
    ("npm-token", r"npm_(?P<S>[A-Za-z0-9]{36})(?![A-Za-z0-9])"),
    ("gitlab-token", r"glpat-(?P<S>[\w-]{20,})"),
    ("huggingface-token", r"hf_(?P<S>[A-Za-z0-9]{30,})"),
    ("jwt", r"eyJ(?P<S>[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]*)"),
]
_RULES = _CONTEXT_RULES + _TOKEN_RULES
_FIRST_TOKEN = len(_CONTEXT_RULES)
_VALUE_KINDS = {"password", "url-password", "auth-header", "bearer-token"}
_WORD_START_KINDS = {kind for kind, _ in _TOKEN_RULES} | {"bearer-token", "basic-auth"}
_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
# One regex. Rule i's secret is group s<i>, the last group the rule closes, so lastgroup
# names the rule. Flags as an int: RegexFlag arithmetic makes compiling a third slower.
_ALL_SOURCE = "|".join(p.replace("(?P<S>", f"(?P<s{i}>") for i, (_, p) in enumerate(_RULES))
_MYSQL_SOURCE = r"m(?<![\w.-]m)(?:ysql(?:dump|admin|import|show|check)?|ariadb)\s"
_CURL_SOURCE = r"c(?<![\w.-]c)url\s"
# Code names a value rather than holding one: password=get_password(), token = Name.Builtin,
# f(password=password, ...), self.api_key = api_key.
_CODE_SOURCE = (
    r"(?:[A-Za-z_]+(?:\.[A-Za-z_]+)+|[A-Za-z_][\w.]*(?:\([\w.,=]*\)?|\[[\w.,:-]*\]?)"
    r"|[A-Za-z_.]*?(?:(?<![A-Za-z])|(?<=[a-z])(?=[A-Z]))"  # a secret's name, not its value:
    r"(?i:pass(?:word|wd|phrase)|pwd|secret|token|key)(?![a-z])[A-Za-z_.]*"  # user_password
    r"|[A-Za-z_]\w*(?=[),]))[),]*"
)

# Every match of any rule contains one of these (lower-cased) literals: the rules' own
# prefixes and key words. A string holding none cannot hold a secret, so most strings skip
# the regex, and a hook that meets no candidate never even compiles it (~2 ms).
_TRIGGERS = (
    "-----begin", "://", ":\\/", "pass", "private_key", "private-key", "privatekey", "_pwd",
    "secret", "token", "api_key", "api-key", "apikey", "access_key", "access-key", "accesskey",
    " -p", "\t-p", " -u", "\t-u", " --user", "\t--user", "authorization", "bearer ",
    "bearer\t", "basic ", "basic\t", "sk-", "akia", "asia", "ghp_", "gho_", "ghu_", "ghs_",
    "ghr_", "github_pat_", "xox", "xapp-", "hooks.slack.com", "aiza", "k_live_", "k_test_",
    "npm_", "glpat-", "hf_", "eyj",
)  # fmt: skip


class _Compiled:
    """The patterns, compiled on first use."""

    all: re.Pattern[str]
    mysql: re.Pattern[str]
    curl: re.Pattern[str]
    code: re.Pattern[str]

    def __getattr__(self, name: str) -> re.Pattern[str]:
        sources = {"all": _ALL_SOURCE, "mysql": _MYSQL_SOURCE, "curl": _CURL_SOURCE,
                   "code": _CODE_SOURCE}  # fmt: skip
        if name not in sources:
            raise AttributeError(name)
        flags = re.ASCII.value if name in ("all", "code") else 0
        pattern = re.compile(sources[name], flags)
        setattr(self, name, pattern)
        return pattern


_RE = _Compiled()


_TRIGGER_SEARCH: list[Callable[[str], object]] = []


def _candidate(text: str) -> bool:
    # One scan of a compiled alternation instead of one substring scan per trigger: the
    # recorder service redacts every string of every record it appends.
    if not _TRIGGER_SEARCH:
        _TRIGGER_SEARCH.append(re.compile("|".join(map(re.escape, _TRIGGERS))).search)
    return _TRIGGER_SEARCH[0](text.lower()) is not None


_NOT_VALUES = {"none", "null", "nil", "true", "false", "undefined", "str", "bytes", "string"}
_SECRET_KEYS = (
    "password", "passwd", "passphrase", "secret", "_pwd", "token", "apikey", "api_key",
    "accesskey", "access_key", "secretkey", "secret_key", "privatekey", "private_key",
    "authorization",
)  # fmt: skip


def _is_placeholder(value: str, *, bare: bool = False, kind: str = "") -> bool:
    """True for what stands in for a secret: a reference, a template, a mask, a type, code."""
    if not value or "[REDACTED:" in value or value.startswith(("$", "{", "%(", "%s")):
        return True
    if (value[0] == "<" and value[-1] == ">") or not any(map(str.isalnum, value)):
        return True  # <your-key>, ********, "("
    if value.lower() in _NOT_VALUES or (bare and value.isdigit() and len(value) < 3):
        return True  # null, str (a type), TOKEN = 0 (a flag)
    if not bare:
        return False
    # token = Whitespace is code: tokens and keys hold digits, unlike some passwords
    name = kind == "secret" and value.isascii() and value.replace("_", "").isalpha()
    return name or _RE.code.fullmatch(value) is not None


def _is_basic(credential: str) -> bool:
    import binascii  # here, not at the top: loading it costs the hook 0.2 ms on every call

    try:
        return b":" in binascii.a2b_base64(credential)
    except (binascii.Error, ValueError):
        return False


def _value_kind(kind: str, match: re.Match[str], before: str) -> str:
    if kind == "password" and match.group("assign") is not None:  # NAME=value: NAME decides
        word = before.lower()
        if "pass" in word or "pwd" in word:
            return "password"
        name = match.string[max(0, match.start() - 7) : match.start()].lower()
        return "aws-secret-key" if "access" in word and "secret" in name else "secret"
    if kind == "auth-header":
        scheme = before.lower()
        return "bearer-token" if "bearer" in scheme else "basic-auth" if "basic" in scheme else kind
    return kind


def _starts_word(text: str, pos: int) -> bool:
    """True when pos starts a word; a JSON-escaped ``\\n``, ``\\t`` or ``\\r`` is a break."""
    return pos == 0 or text[pos - 1] not in _WORD or text[pos - 2 : pos] in ("\\n", "\\t", "\\r")


def _line_start(text: str, pos: int, breaks: str) -> int:
    """Where the line (or shell command) holding pos starts; looks back at most 2000 chars."""
    low = max(0, pos - 2000)  # a raw payload can be one long line: never scan it all
    start = max(low, *(text.rfind(c, low, pos) + 1 for c in breaks))
    escaped = text.rfind("\\n", start, pos)
    return escaped + 2 if escaped >= 0 else start


def _in_command(text: str, pos: int, command: re.Pattern[str]) -> bool:
    """True when the shell command that pos is part of runs ``command``."""
    return command.search(text, _line_start(text, pos, "\n|;&"), pos) is not None


def _is_key(text: str, pos: int, end: int) -> bool:
    """True when the name ending at pos starts a line (YAML) or a quoted string (a header),
    and its value ends it: ``Password: must be 12 characters`` at a line start is prose."""
    line, name = _line_start(text, pos, "\n"), pos
    while name > line and (text[name - 1] in _WORD or text[name - 1] == "."):
        name -= 1
    head, tail = text[line:name], text[end : end + 100].lstrip(" \t")
    at_start = head.endswith(('"', "'")) or head.strip(" \t") in ("", "-")
    return at_start and (not tail or tail[0] in "\r\n\\\"'#")


def _unquote(value: str) -> tuple[str, str, str]:
    """Split a value into opening quote (with any b/r/f/u prefix), content, closing quote."""
    lead = len(value) - len(value.lstrip("bBrRuUfF"))
    for quote in ('\\"', '"', "'") if lead <= 2 else ():
        start = lead + len(quote)
        closed = len(value) >= start + len(quote) and value.endswith(quote)
        if closed and value.startswith(quote, lead):
            return value[:start], value[start : -len(quote)], quote
    return "", value, ""


def redact_text(text: str) -> tuple[str, int]:
    """Return ``text`` with every secret masked, and how many were masked."""
    if not _candidate(text):
        return text, 0
    parts: list[str] = []
    count = done = pos = 0
    search = _RE.all.search
    while (match := search(text, pos)) is not None:
        masked = _mask(match)
        if masked is None:  # its context says no (mkdir -p, prose): look again one char on
            pos = match.start() + 1
            continue
        parts += (text[done : match.start()], masked[0])
        count += masked[1]
        done = pos = match.end()
    return ("".join(parts) + text[done:], count) if parts else (text, 0)


def _mask(match: re.Match[str]) -> tuple[str, int] | None:
    """The masked text of one match and the secrets in it, or None if it is not a secret."""
    i = int(str(match.lastgroup)[1:])
    kind = _RULES[i][0]
    text, at = match.string, match.start()
    start, end = match.span(f"s{i}")
    before, secret, after = text[at:start], text[start:end], text[end : match.end()]
    opener, inner, closer = _unquote(secret) if kind in _VALUE_KINDS else ("", secret, "")
    label = _value_kind(kind, match, before) if kind in _VALUE_KINDS else kind
    if (
        (kind in _WORD_START_KINDS and not _starts_word(text, at))  # task-List2025-... words
        or (kind == "basic-auth" and not _is_basic(secret))
        or (kind in _VALUE_KINDS and _is_placeholder(inner, bare=not closer, kind=label))
    ):  # the span holds no secret of this kind, but may hold another: rescan it alone
        rest, found = redact_text(secret)  # shorter than the text, so the recursion ends
        return before + rest + after, found
    if kind not in _VALUE_KINDS:
        return f"{before}[REDACTED:{kind}]{after}", 1
    if kind == "password" and (
        (match.group("mysql") is not None and not _in_command(text, at, _RE.mysql))
        or (match.group("curl") is not None and not _in_command(text, at, _RE.curl))
        or (
            match.group("ac") is not None
            and match.group("aq") is None
            and not _is_key(text, at, end)
        )
    ):
        return None
    masked = f"[REDACTED:{label}]"
    token = _RE.all.fullmatch(inner)  # an assigned value may itself be a known token
    j = int(str(token.lastgroup)[1:]) if token is not None else 0
    if token is not None and j >= _FIRST_TOKEN:
        masked = f"{inner[: token.start(f's{j}')]}[REDACTED:{_RULES[j][0]}]"
    before, found = redact_text(before)  # https://TOKEN:x-oauth-basic@...: the user is one
    return f"{before}{opener}{masked}{closer}{after}", found + 1


def redact(value: Any) -> tuple[Any, int]:
    """Return a redacted copy of a JSON-like ``value`` and how many secrets were masked.

    Every string is passed through :func:`redact_text` (dict keys too); a non-empty string
    under a key naming a secret (``password``, ``apiKey``, ``Authorization``...) becomes
    :data:`BY_KEY` whole, unless it is a placeholder (``$DB_PASSWORD``, ``<pad>``, ``null``,
    a mask). The input is never mutated. Containers deeper than
    :data:`MAX_DEPTH` become :data:`TOO_DEEP`, so hostile nesting cannot exhaust the stack.
    """
    counter = [0]
    return _walk(value, 0, counter), counter[0]


def _walk(value: Any, depth: int, counter: list[int]) -> Any:
    if isinstance(value, str):
        text, found = redact_text(value)
        counter[0] += found
        return text
    if not isinstance(value, dict | list | tuple):
        return value
    if depth >= MAX_DEPTH:
        return TOO_DEEP
    if not isinstance(value, dict):
        items = [_walk(item, depth + 1, counter) for item in value]
        return items if isinstance(value, list) else tuple(items)
    out: dict[Any, Any] = {}
    for key, item in value.items():
        if (
            isinstance(key, str)
            and isinstance(item, str)
            and key.lower().replace("-", "_").endswith(_SECRET_KEYS)
            and not _is_placeholder(item)
        ):
            counter[0] += 1
            item = BY_KEY
        out[_walk(key, depth + 1, counter)] = _walk(item, depth + 1, counter)
    return out
