"""Records: the envelope a leaf commits to forever, and the erasable payload beside it.

* leaf bytes = RFC 8785 (JCS) canonical JSON of the envelope
  ``{"commitment", "kind", "source", "time", "v"}``; no personal data ever goes in a leaf.
* commitment = SHA-256(salt || JCS(payload)), salt = 16 random bytes kept with the payload,
  so an erased payload cannot be recovered by guessing and re-hashing it.

Pure: no I/O beyond ``os.urandom`` for a default salt, no clock (the caller passes the time).
This module is on the capture hot path, so it imports only the standard library; the
``rfc8785`` package is loaded only for values outside the fast path below.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum

from affidavit.errors import InputError, VerificationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SCHEMA_VERSION = 1
SALT_SIZE = 16

# JavaScript's safe integers: beyond them RFC 8785 numbers lose precision (and the rfc8785
# package refuses them), so they never take the fast path.
_MAX_SAFE_INT = 2**53 - 1


class Kind(StrEnum):
    """Every record kind. Later features add members here; the value is what a leaf holds."""

    FILE_CREATE = "file.create"
    FILE_UPDATE = "file.update"
    FILE_DELETE = "file.delete"
    FILE_RENAME = "file.rename"
    FILE_READ = "file.read"
    FILE_RESTORE = "file.restore"
    # A file a shell command names as one it changes, recorded where nothing could look at the
    # disk (an http hook on the collector): claimed by the command, not observed.
    FILE_CLAIM = "file.claim"
    COMMAND_EXEC = "command.exec"
    TOOL_INTENT = "tool.intent"
    TOOL_CALL = "tool.call"
    WEB_FETCH = "web.fetch"
    WEB_SEARCH = "web.search"
    AGENT_SPAWN = "agent.spawn"
    AGENT_EVENT = "agent.event"
    PROMPT_SUBMIT = "prompt.submit"
    SESSION_START = "session.start"
    SESSION_END = "session.end"
    PERMISSION_DECISION = "permission.decision"
    CONVENTION_SNAPSHOT = "convention.snapshot"
    CAPTURE_ERROR = "capture.error"
    CAPTURE_GAP = "capture.gap"
    CAPTURE_CORROBORATION = "capture.corroboration"
    POLICY_FINDING = "policy.finding"
    REVIEW_SIGNOFF = "review.signoff"
    ATTESTATION = "attestation"
    ERASURE = "erasure"
    # External trails (affidavit.sources): cloud-sync version history, connector-side logs.
    SOURCE_CONFIG = "source.config"
    SOURCE_REVISION = "source.revision"
    SOURCE_PULL = "source.pull"
    CONNECTOR_SALESFORCE_AUDIT = "connector.salesforce_audit"
    CONNECTOR_SALESFORCE_EVENT = "connector.salesforce_event"
    CONNECTOR_UNIFIED_AUDIT = "connector.unified_audit"  # Microsoft 365 unified audit log
    CONNECTOR_IMPORT = "connector.import"
    # The collector's org log (affidavit.server): an endpoint record held by reference, and a
    # checkpoint the witness refused because it contradicts one it had cosigned.
    ORG_ENTRY = "org.entry"
    WITNESS_CONFLICT = "witness.conflict"
    # `affidavit sources match`: what matched the connector's own log and what did not.
    CONNECTOR_MATCH = "connector.match"
    # The collector's Compliance API pull (affidavit.server.compliance): one record per
    # activity (its API ``type`` in the payload: 300+ types that grow, so not one Kind each),
    # one per listed Cowork / Claude Code session, one per pull with its cursors.
    COMPLIANCE_ACTIVITY = "compliance.activity"
    COMPLIANCE_SESSION = "compliance.session"
    COMPLIANCE_PULL = "compliance.pull"
    # The recorder service's monthly archive schedule: each scheduled run, archived or failed.
    ARCHIVE_RUN = "archive.run"
    # OpenTelemetry logs from Claude Code and Cowork received by the collector (server.otlp*),
    # and the join of their identities onto hook records (server.identity).
    OTEL_USER_PROMPT = "otel.user_prompt"
    OTEL_TOOL_RESULT = "otel.tool_result"
    OTEL_TOOL_DECISION = "otel.tool_decision"
    OTEL_API_REQUEST = "otel.api_request"
    OTEL_API_ERROR = "otel.api_error"
    OTEL_PERMISSION_MODE = "otel.permission_mode"
    OTEL_MCP_CONNECTION = "otel.mcp_connection"
    OTEL_HOOK = "otel.hook"
    OTEL_PLUGIN = "otel.plugin"
    OTEL_SKILL = "otel.skill"
    OTEL_EVENT = "otel.event"
    IDENTITY_LINK = "identity.link"
    # Collector-side erasure (affidavit.server.erasure): an admin erased the payload the
    # collector held of one endpoint record; the org log says which, why and by whom.
    COLLECTOR_ERASURE = "collector.erasure"


_SOURCE_RE = re.compile(r"[a-z0-9][a-z0-9._:/-]{0,63}")


# -- canonical JSON (RFC 8785) --------------------------------------------------------------


def _plain(value: Any) -> bool:
    """True when ``json.dumps(sort_keys=True)`` is already RFC 8785 for ``value``.

    That holds for strings, booleans, null, safe integers, arrays and objects whose keys sort
    the same by code point as by UTF-16 code unit (they differ only past U+FFFF). Floats
    need ECMAScript number formatting, so they go to the rfc8785 package. Iterative and
    type-exact (no subclasses), because it runs for every captured record.
    """
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is int:
            if -_MAX_SAFE_INT <= v <= _MAX_SAFE_INT:
                continue
            return False
        if t is dict:
            try:
                keys = "".join(v)  # TypeError unless every key is a str
            except TypeError:
                return False
            if not keys.isascii() and max(keys) > "\uffff":
                return False
            stack.extend(v.values())
        elif t is list:
            stack.extend(v)
        else:
            return False
    return True


_dumps = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON of ``value`` as UTF-8 bytes.

    Most values take a fast path through the C ``json`` encoder, which the tests show equal
    to the ``rfc8785`` package byte for byte; the rest are handed to that package.
    """
    try:
        # json.dumps first: it rejects circular values, which the guard would walk forever.
        text = _dumps(value)
        if _plain(value):
            return text.encode("utf-8")
        import rfc8785

        return rfc8785.dumps(value)
    except UnicodeEncodeError as e:
        raise InputError(f"text is not valid Unicode (lone surrogate at {e.start})") from e
    except RecursionError as e:
        raise InputError("value nests too deeply to canonicalize") from e
    except (ValueError, TypeError, OverflowError) as e:
        # rfc8785 raises these for NaN/Infinity, unsupported types, and unsafe integers.
        raise InputError(f"value cannot be canonical JSON: {e}") from e


def commitment(salt: bytes, payload_json: bytes) -> bytes:
    """SHA-256(salt || canonical payload bytes)."""
    return hashlib.sha256(salt + payload_json).digest()


# -- time -----------------------------------------------------------------------------------


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds, e.g. ``2026-11-26T10:05:03.000123Z``."""
    if moment.tzinfo is None:
        raise InputError("a record time must carry a time zone")
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 date-time with an offset or ``Z``."""
    try:
        moment = datetime.fromisoformat(text)
    except (ValueError, TypeError) as e:
        raise InputError(f"not an RFC 3339 time: {text!r}") from e
    if moment.tzinfo is None:
        raise InputError(f"time {text!r} has no offset; add Z or +00:00")
    return moment


# -- values ---------------------------------------------------------------------------------


class _Value:
    """Frozen, slotted value objects without ``dataclasses``.

    STYLE.md asks for ``@dataclass(frozen=True, slots=True)``; these two classes are the
    exception because they sit on the hook's hot path, where importing ``dataclasses``
    (which imports ``inspect``) alone costs about half a ``python -c pass``.
    """

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Value)
            and type(other) is type(self)
            and (self._fields() == other._fields())
        )

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        pairs = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({pairs})"


class Envelope(_Value):
    """What the Merkle tree commits to forever: nothing personal, nothing erasable."""

    __slots__ = ("time", "kind", "source", "commitment", "v")
    time: str
    kind: str
    source: str
    commitment: bytes
    v: int

    def __init__(
        self, time: str, kind: str, source: str, commitment: bytes, v: int = SCHEMA_VERSION
    ) -> None:
        for name, value in zip(self.__slots__, (time, kind, source, commitment, v), strict=True):
            object.__setattr__(self, name, value)

    def leaf(self) -> bytes:
        """The leaf bytes: canonical JSON of the envelope.

        Straight to the fast encoder: every field is ASCII text or a small integer, which
        is inside the subset where it equals RFC 8785 (see :func:`_plain`): the keys are
        fixed ASCII, the values text and a small integer.
        """
        return _dumps(self.to_json()).encode("utf-8")

    def to_json(self) -> dict[str, Any]:
        return {
            "commitment": base64.b64encode(self.commitment).decode("ascii"),
            "kind": self.kind,
            "source": self.source,
            "time": self.time,
            "v": self.v,
        }

    @classmethod
    def from_leaf(cls, leaf: bytes) -> Envelope:
        """Parse leaf bytes strictly: exactly the envelope fields, canonical form."""
        try:
            data = json.loads(leaf)
        except (ValueError, UnicodeDecodeError) as e:
            raise InputError(f"leaf is not JSON: {e}") from e
        except RecursionError as e:
            raise InputError("leaf is not an envelope: it nests too deeply") from e
        if not isinstance(data, dict) or set(data) != {"commitment", "kind", "source", "time", "v"}:
            raise InputError("leaf is not an envelope object with exactly its five fields")
        try:
            digest = base64.b64decode(data["commitment"], validate=True)
        except (binascii.Error, TypeError, ValueError) as e:
            raise InputError("envelope commitment is not base64") from e
        if len(digest) != 32 or not all(
            isinstance(data[k], str) for k in ("kind", "source", "time")
        ):
            raise InputError("envelope fields have the wrong types")
        if type(data["v"]) is not int or not 0 <= data["v"] <= _MAX_SAFE_INT:
            raise InputError("envelope schema version is not a small integer")
        env = cls(data["time"], data["kind"], data["source"], digest, data["v"])
        try:
            canonical = env.leaf()
        except UnicodeEncodeError as e:
            raise InputError("envelope text is not valid Unicode") from e
        if canonical != leaf:
            raise InputError("leaf bytes are not the canonical form of the envelope")
        return env


_KINDS = frozenset(k.value for k in Kind)

# The canonical leaf of every envelope this version writes. Inside these character sets
# JSON needs no escapes, so a full match is also the RFC 8785 form; anything else goes
# through the strict parser.
_LEAF = re.compile(
    rb'\{"commitment":"([A-Za-z0-9+/]{43}=)","kind":"([a-z][a-z._]{0,63})",'
    rb'"source":"([a-z0-9][a-z0-9._:/-]{0,63})",'
    rb'"time":"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z)","v":1\}'
)


def read_leaf(leaf: bytes) -> tuple[bytes, str, str, str]:
    """Parse and check leaf bytes: (commitment as base64 bytes, kind, source, time).

    Raises :class:`InputError` unless the leaf is a canonical envelope of schema 1 whose
    kind is known, whose source is well formed and whose time is an RFC 3339 UTC time this
    module writes. Fast (one regular expression) for the envelopes this version writes.
    """
    m = _LEAF.fullmatch(leaf)
    if m is None:
        env = Envelope.from_leaf(leaf)  # raises with the precise reason
        if env.v != SCHEMA_VERSION:
            raise InputError(f"envelope schema version {env.v} is not {SCHEMA_VERSION}")
        raise InputError("leaf is not an envelope this version writes")
    b64, kind_b, source_b, time_b = m.groups()
    kind = kind_b.decode("ascii")
    if kind not in _KINDS:
        raise InputError(f"unknown record kind {kind!r}")
    time = time_b.decode("ascii")
    try:
        datetime.fromisoformat(time)
    except ValueError:
        raise InputError(f"envelope time {time!r} is not a real moment") from None
    return b64, kind, source_b.decode("ascii"), time


def check_kind(kind: str) -> str:
    if kind not in _KINDS:
        raise InputError(f"unknown record kind {kind!r}; known kinds: {', '.join(Kind)}")
    return str(kind)


def check_source(source: str) -> str:
    if not isinstance(source, str) or not _SOURCE_RE.fullmatch(source):
        raise InputError(
            f"source {source!r} must be 1-64 characters of a-z 0-9 . _ : / - "
            "(e.g. claude-code.hook)"
        )
    return source


class Record(_Value):
    """One captured fact: the envelope plus, unless erased, its payload and salt.

    ``leaf`` is the envelope's canonical bytes. ``payload_json`` holds the canonical payload
    bytes the commitment was made over, so the commitment can be checked without
    canonicalizing again.
    """

    __slots__ = ("envelope", "leaf", "payload_json", "salt")
    envelope: Envelope
    leaf: bytes
    payload_json: bytes | None
    salt: bytes | None

    def __init__(
        self, envelope: Envelope, leaf: bytes, payload_json: bytes | None, salt: bytes | None
    ) -> None:
        for name, value in zip(self.__slots__, (envelope, leaf, payload_json, salt), strict=True):
            object.__setattr__(self, name, value)

    @classmethod
    def create(
        cls,
        kind: str,
        source: str,
        payload: Mapping[str, Any],
        *,
        time: datetime,
        salt: bytes | None = None,
    ) -> Record:
        if not isinstance(payload, Mapping):
            raise InputError(f"payload must be a JSON object, not {type(payload).__name__}")
        salt = os.urandom(SALT_SIZE) if salt is None else salt
        if len(salt) != SALT_SIZE:
            raise InputError(f"salt must be {SALT_SIZE} bytes")
        body = canonical_json(dict(payload))
        env = Envelope(
            time=format_time(time),
            kind=check_kind(kind),
            source=check_source(source),
            commitment=commitment(salt, body),
        )
        return cls(env, env.leaf(), body, salt)

    @property
    def payload(self) -> dict[str, Any] | None:
        if self.payload_json is None:
            return None
        value: dict[str, Any] = json.loads(self.payload_json)
        return value

    @property
    def erased(self) -> bool:
        return self.payload_json is None

    def verify_commitment(self) -> None:
        """Raise unless the stored payload and salt hash to the envelope's commitment."""
        if self.payload_json is None or self.salt is None:
            raise VerificationError("payload is erased; nothing to check")
        if commitment(self.salt, self.payload_json) != self.envelope.commitment:
            raise VerificationError("payload and salt do not match the envelope's commitment")
