"""Org-log evidence packs: what ``selection.json`` ``"log": "org"`` adds to a pack.

A collector's org log (:mod:`affidavit.server.orglog`) is an RFC 9162 log like any other,
signed with the org key, so its records go in ``records.jsonl`` with their inclusion proofs
against the org checkpoint and are checked as in every pack. Most of them are ``org.entry``
records, which name an endpoint record by ``{"origin", "seq", "leaf_hash", "kind"}``;
``endpoints.jsonl`` holds those endpoint records (one line per org seq: ``org_seq``,
``origin``, ``seq``, ``leaf``, ``salt``, ``payload_json``). Each is checked here against the
proven ``org.entry`` that names it: its leaf must hash to that leaf hash, its origin, seq and
kind must be the ones named, its time the entry's, and its payload must match the commitment
in its own envelope. So an endpoint record changed in the pack fails, naming
``endpoints.jsonl`` and its line, though the org log never held its payload.

An endpoint record whose payload is missing must be accounted for by an erasure proven in
``erasures.jsonl``: a ``collector.erasure`` of the org log naming its origin, seq and leaf
hash, or the endpoint's own ``erasure`` record (an ``org.entry`` whose endpoint record is
the erasure).

The pack's filters are checked on the endpoint record's envelope (time and kind), and a
``device`` filter on the origin each entry names (a record the collector appended itself is
of its source).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from affidavit import merkle
from affidavit.errors import InputError, VerificationError
from affidavit.evidence import layout
from affidavit.evidence.records import Item
from affidavit.record import SALT_SIZE, Envelope, Kind, commitment, read_leaf
from affidavit.verify.erasure import erased_by

ORG = "org"
COLLECTOR_SOURCE = "affidavit.collector"


@dataclass(slots=True)
class EndpointLine:
    """One parsed endpoints.jsonl line; ``error`` set when it does not hold on its own."""

    line: int
    org_seq: int
    origin: str = ""
    seq: int = -1
    leaf: bytes = b""
    envelope: Envelope | None = None
    body: bytes | None = None
    payload: Any = None
    erased: bool = False
    error: str | None = None

    @property
    def where(self) -> str:
        return f"{layout.ENDPOINTS} line {self.line}"


def parse_endpoint(number: int, line: bytes) -> EndpointLine:
    """Parse and check one line on its own; InputError when it names no org seq."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as e:
        raise InputError(f"is not JSON ({e})") from e
    if not isinstance(obj, dict) or type(obj.get("org_seq")) is not int:
        raise InputError("has no org_seq")
    out = EndpointLine(number, obj["org_seq"])
    try:
        if list(obj) != list(layout.ENDPOINT_FIELDS):
            raise InputError(f"its fields are not {', '.join(layout.ENDPOINT_FIELDS)}")
        if not isinstance(obj["origin"], str) or type(obj["seq"]) is not int:
            raise InputError("its origin is not text or its seq not a whole number")
        out.origin, out.seq = obj["origin"], obj["seq"]
        out.leaf = layout.unb64(obj["leaf"], "leaf")
        out.envelope = Envelope.from_leaf(out.leaf)
        read_leaf(out.leaf)
        salt, body = obj["salt"], obj["payload_json"]
        if salt is None and body is None:
            out.erased = True
            return out
        salt_bytes = layout.unb64(salt, "salt", SALT_SIZE)
        if not isinstance(body, str):
            raise InputError("payload_json is not a string")
        out.body = body.encode("utf-8")
        out.payload = json.loads(out.body)
    except (InputError, ValueError, RecursionError) as e:
        out.error = str(e) or type(e).__name__
        return out
    if commitment(salt_bytes, out.body) != out.envelope.commitment:
        out.error = (
            "its payload_json or salt does not match its envelope's commitment: "
            "the endpoint record was changed"
        )
    return out


def _reference(item: Item) -> tuple[str, int, bytes, str]:
    """The (origin, seq, leaf hash, kind) an ``org.entry`` names."""
    p = item.payload
    if not isinstance(p, dict) or not isinstance(p.get("origin"), str):
        raise InputError("its org.entry payload names no origin")
    if type(p.get("seq")) is not int or not isinstance(p.get("kind"), str):
        raise InputError("its org.entry payload names no seq or kind")
    try:
        leaf_hash = base64.b64decode(str(p.get("leaf_hash")), validate=True)
    except (binascii.Error, ValueError) as e:
        raise InputError("its org.entry payload's leaf_hash is not base64") from e
    if len(leaf_hash) != merkle.HASH_SIZE:
        raise InputError("its org.entry payload's leaf_hash is not 32 bytes")
    return p["origin"], p["seq"], leaf_hash, p["kind"]


class OrgCheck:
    """Checks endpoints.jsonl against the pack's proven org records (see the module doc)."""

    def __init__(self, fail: Callable[[str, str], None]) -> None:
        self.fail = fail
        self.lines: dict[int, EndpointLine] = {}
        self.subjects: dict[int, Envelope] = {}
        """org seq -> the envelope the pack's filters are checked on."""

    def read(self, raw: bytes) -> None:
        if raw and not raw.endswith(b"\n"):
            self.fail(layout.ENDPOINTS, "does not end with a newline: it was cut short")
        last = -1
        for number, line in enumerate(raw.splitlines(), start=1):
            where = f"{layout.ENDPOINTS} line {number}"
            try:
                parsed = parse_endpoint(number, line)
            except InputError as e:
                self.fail(where, str(e))
                continue
            if parsed.org_seq <= last:
                self.fail(where, f"org seq {parsed.org_seq} after {last}: out of order or repeated")
                continue
            last = parsed.org_seq
            self.lines[parsed.org_seq] = parsed

    def run(self, records: list[Item], erasures: list[Item], device: str | None) -> int:
        """Check every org record of the pack; returns how many endpoint records it holds."""
        named = self._erased_names(erasures)
        used: set[int] = set()
        for selected, items in ((True, records), (False, erasures)):
            for item in items:
                env = item.envelope
                if env is None or item.errors:
                    continue
                origin = env.source
                if env.kind == Kind.ORG_ENTRY:
                    used.add(item.seq)
                    origin = self._entry(item, named)
                if device and selected and origin != device:
                    item.errors.append(f"it is of {origin!r}, outside the pack's device filter")
        for org_seq, line in self.lines.items():
            if org_seq not in used:
                self.fail(
                    line.where,
                    f"names org record {org_seq}, which is no org.entry in the pack: "
                    "a line was added",
                )
        return len(self.lines)

    def _entry(self, item: Item, named: set[tuple[str, int]]) -> str:
        """Check the endpoint record an org.entry names; returns its origin."""
        try:
            origin, seq, leaf_hash, kind = _reference(item)
        except InputError as e:
            item.errors.append(str(e))
            return ""
        line = self.lines.get(item.seq)
        name = f"record {seq} of {origin}"
        if line is None:
            item.errors.append(f"it names {name}, which {layout.ENDPOINTS} does not hold")
            return origin
        assert item.envelope is not None
        problems = []
        if line.error:
            problems.append(line.error)
        elif line.envelope is not None:
            if (line.origin, line.seq) != (origin, seq):
                problems.append(f"it is record {line.seq} of {line.origin}, not {name}")
            if merkle.leaf_hash(line.leaf) != leaf_hash:
                problems.append(
                    f"its leaf does not hash to the leaf hash the org log holds for {name}: "
                    "the endpoint record was changed"
                )
            if line.envelope.kind != kind or line.envelope.time != item.envelope.time:
                problems.append("its kind or time is not the one the org log holds")
            if line.erased and (origin, seq) not in named:
                problems.append(
                    "its payload is missing but no erasure in the pack names it: "
                    "withheld, not erased"
                )
            self.subjects[item.seq] = line.envelope
        item.errors.extend(f"{line.where}: {p}" for p in problems)
        return origin

    def _erased_names(self, erasures: list[Item]) -> set[tuple[str, int]]:
        """(origin, seq) of every endpoint record a proven erasure of the pack accounts for."""
        out: set[tuple[str, int]] = set()
        for e in erasures:
            env = e.envelope
            if env is None or e.errors or e.erased:
                continue
            if env.kind == Kind.COLLECTOR_ERASURE and env.source == COLLECTOR_SOURCE:
                try:
                    origin, seq, _, _ = _reference(_with_kind(e))
                except InputError as problem:
                    e.errors.append(str(problem))
                    continue
                out.add((origin, seq))
            elif env.kind == Kind.ORG_ENTRY:
                line = self.lines.get(e.seq)
                if line is None or line.envelope is None or line.erased or line.error:
                    continue
                if line.envelope.kind == Kind.ERASURE:
                    try:
                        seqs = erased_by(line.seq, line.envelope.source, line.body)
                    except VerificationError as problem:
                        e.errors.append(f"{line.where}: {problem}")
                        continue
                    out.update((line.origin, s) for s in seqs)
        return out


def _with_kind(item: Item) -> Item:
    # A collector.erasure names (origin, seq, leaf_hash) as an org.entry does, without kind.
    payload = item.payload if isinstance(item.payload, dict) else {}
    return Item(item.seq, item.envelope, item.leaf, {**payload, "kind": "?"}, item.body)
