"""Verifying an evidence pack offline: every file, every record, one report.

:func:`check_pack` never stops at the first failure: it names every file that was added,
removed or changed, and reports each record on its own (proof, commitment, erasure,
filters), so an auditor sees exactly what broke. :func:`verify_pack` raises
:class:`PackVerificationError` (holding that report) unless everything holds. A pack that
is not a ZIP file, or is unsafe to open (names that escape a folder, a zip bomb), is
refused with :class:`~affidavit.evidence.layout.PackRefusedError` before anything in it
is read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from affidavit import merkle
from affidavit.errors import AffidavitError, InputError, VerificationError
from affidavit.evidence import layout
from affidavit.evidence.layout import DamagedMemberError, Limits, PackReader
from affidavit.evidence.org import ORG, OrgCheck
from affidavit.evidence.records import Item, parse_item
from affidavit.evidence.report import (
    PackReport,
    PackVerificationError,
    Problem,
    RecordCheck,
    WindowCheck,
)
from affidavit.evidence.window import ENVELOPE_FILTERS, PAYLOAD_FILTERS, check_window, matches
from affidavit.note import Checkpoint, Verifier, open_checkpoint
from affidavit.verify.erasure import erased_by

_SELECTION_KEYS = {
    "created": str,
    "origin": str,
    "tree_size": int,
    "filters": dict,
    "records": int,
    "erased": int,
    "erasures": int,
    "unpublished_left_out": int,
    "with_content": bool,
    "content_missing": list,
    "window_complete": bool,
    "consistency_from": list,
}
_ORG_KEYS = {"log": str, "endpoint_records": int}
"""An org-log pack's selection.json has these too (see :mod:`affidavit.evidence.org`)."""


def verify_pack(
    path: Path,
    *,
    key: Verifier | None = None,
    kept: str | None = None,
    limits: Limits | None = None,
) -> PackReport:
    """Check the pack; return its report if everything holds, else raise with it."""
    report = check_pack(path, key=key, kept=kept, limits=limits)
    if not report.ok:
        raise PackVerificationError(report)
    return report


def check_pack(
    path: Path,
    *,
    key: Verifier | None = None,
    kept: str | None = None,
    limits: Limits | None = None,
) -> PackReport:
    """Check everything in the pack and report it all. ``key`` pins the verifier key (else
    the pack's ``vkey.txt`` is trusted); ``kept`` is a checkpoint the auditor kept, which
    the pack's checkpoint must extend."""
    with PackReader(path, limits) as pack:
        return _Checker(pack, key).run(kept)


class _Checker:
    def __init__(self, pack: PackReader, key: Verifier | None) -> None:
        self.pack = pack
        self.pinned = key
        self.problems: list[Problem] = []
        self.data: dict[str, bytes] = {}
        self.content: dict[str, str] = {}  # content member -> SHA-256 hex of its bytes
        self.verifier: Verifier | None = key
        self.vkey: str | None = None
        self.cp: Checkpoint | None = None
        self.sel: dict[str, Any] = {}
        self.window_hashes: list[bytes] | None = None
        self.consistency: dict[int, tuple[bytes, ...]] = {}
        self.org: OrgCheck | None = None

    def fail(self, where: str, error: str) -> None:
        self.problems.append(Problem(where, error))

    def run(self, kept: str | None) -> PackReport:
        self._read()
        self._manifest()
        self._key()
        self._checkpoint()
        self._selection()
        records = self._lines(layout.RECORDS)
        erasures = self._lines(layout.ERASURES)
        erased = sum(1 for r in records if r.erased)
        if self.sel and self.sel["erased"] != erased:
            self.fail(layout.SELECTION, f"counts {self.sel['erased']} erased records, not {erased}")
        self._org(records, erasures)
        self._erasures(records, erasures)
        missing = self._content(records)
        window = self._window(records)
        self._consistency()
        from_size = self._from(kept) if kept is not None else None
        subjects = self.org.subjects if self.org is not None else {}
        return PackReport(
            path=self.pack.path,
            vkey=self.vkey,
            key_pinned=self.pinned is not None,
            checkpoint=self.cp,
            filters=self._filters(),
            records=tuple(
                RecordCheck(
                    seq=r.seq,
                    ok=not r.errors,
                    error="; ".join(r.errors) or None,
                    erased=r.erased,
                    kind=(subjects.get(r.seq) or r.envelope).kind if r.envelope else None,
                    time=r.envelope.time if r.envelope else None,
                )
                for r in records
            ),
            erasures=len(erasures),
            content_files=len(self.content),
            content_missing=tuple(missing),
            window=window,
            consistency_from=tuple(sorted(self.consistency)),
            from_size=from_size,
            problems=tuple(self.problems),
            endpoint_records=len(self.org.lines) if self.org is not None else None,
        )

    # -- files and manifest ----------------------------------------------------------------

    def _read(self) -> None:
        for name in self.pack.names:
            if not layout.is_pack_name(name):
                self.fail(name, "is not a file an evidence pack holds: a file was added")
                continue
            try:
                if name.startswith(layout.CONTENT):
                    digest = hashlib.sha256()
                    for piece in self.pack.chunks(name):
                        digest.update(piece)
                    self.content[name] = digest.hexdigest()
                else:
                    self.data[name] = self.pack.read(name)
            except DamagedMemberError as e:
                self.fail(name, f"is damaged in the ZIP file ({e})")
        for name in layout.REQUIRED:
            if name not in self.data and name not in self.pack.names:
                self.fail(name, "is missing: a file was removed")

    def _manifest(self) -> None:
        raw = self.data.get(layout.MANIFEST)
        if raw is None:
            if layout.MANIFEST not in self.pack.names:
                self.fail(layout.MANIFEST, "is missing: a file was removed")
            return
        try:
            manifest = json.loads(raw)
            files = manifest["files"]
            if set(manifest) != {"files", "format"} or not isinstance(files, dict):
                raise ValueError("its fields are not exactly files and format")
            if manifest["format"] != layout.FORMAT:
                raise ValueError(f"its format is {manifest['format']!r}, not {layout.FORMAT!r}")
            if layout.render_manifest(files) != raw:
                raise ValueError("it is not byte for byte in its canonical form: it was edited")
        except (ValueError, TypeError, KeyError, RecursionError) as e:
            self.fail(layout.MANIFEST, f"cannot be used: {e}")
            return
        actual = {n: layout.sha256_hex(d) for n, d in self.data.items() if n != layout.MANIFEST}
        actual.update(self.content)
        for name in self.pack.names:
            if name == layout.MANIFEST or name not in actual:
                continue
            if name not in files:
                self.fail(name, "is not listed in manifest.json: a file was added")
            elif files[name] != actual[name]:
                self.fail(name, "does not match its SHA-256 in manifest.json: it was changed")
        for name in files:
            if name not in self.pack.names:
                self.fail(str(name), "is listed in manifest.json but not in the pack: removed")

    def _key(self) -> None:
        raw = self.data.get(layout.VKEY)
        pack_key: Verifier | None = None
        if raw is not None:
            try:
                text = raw.decode("ascii")
                if not text.endswith("\n") or text.count("\n") != 1:
                    raise InputError("it is not one line")
                pack_key = Verifier.from_vkey(text[:-1])
            except (UnicodeDecodeError, InputError) as e:
                self.fail(layout.VKEY, f"is not a verifier key: {e}")
        if self.pinned is not None:
            if pack_key is not None and pack_key != self.pinned:
                self.fail(layout.VKEY, f"is not the key you pinned ({self.pinned.vkey()})")
        else:
            self.verifier = pack_key
        self.vkey = self.verifier.vkey() if self.verifier else None

    def _checkpoint(self) -> None:
        raw = self.data.get(layout.CHECKPOINT)
        if raw is None:
            return
        try:
            if self.verifier is None:
                raise VerificationError("no verifier key to check it with (pass --key)")
            self.cp = open_checkpoint(raw, self.verifier)
            return
        except AffidavitError as e:
            self.fail(layout.CHECKPOINT, f"does not verify: {e}")
        try:  # still read the root it claims, to say which records agree with it
            text = raw.decode("utf-8")
            self.cp = Checkpoint.parse_body(text[: text.rindex("\n\n") + 1])
        except (ValueError, AffidavitError):
            self.cp = None

    def _selection(self) -> None:
        raw = self.data.get(layout.SELECTION)
        if raw is None:
            return
        try:
            sel = json.loads(raw)
            keys = _SELECTION_KEYS
            if isinstance(sel, dict) and "log" in sel:
                keys = _SELECTION_KEYS | _ORG_KEYS
            if not isinstance(sel, dict) or set(sel) != set(keys):
                raise ValueError(f"its fields are not {', '.join(keys)}")
            for name, kind in keys.items():
                if type(sel[name]) is not kind:
                    raise ValueError(f"field {name!r} is not a {kind.__name__}")
            if not all(layout.is_sha256_hex(h) for h in sel["content_missing"]):
                raise ValueError("content_missing holds something other than SHA-256 hex")
            org = sel.get("log") == ORG
            if "log" in sel and not org:
                raise ValueError(f"log is {sel['log']!r}; the only other kind of pack is 'org'")
            if org and (sel["window_complete"] or sel["consistency_from"]):
                raise ValueError("an org-log pack is never window-complete nor has --from proofs")
            _check_filters(sel["filters"], org=org)
            if layout.render_json(sel) != raw:
                raise ValueError("it is not byte for byte in its canonical form: it was edited")
        except (ValueError, RecursionError) as e:
            self.fail(layout.SELECTION, f"cannot be used: {e}")
            return
        self.sel = sel
        if self.cp is not None and (sel["origin"], sel["tree_size"]) != (
            self.cp.origin,
            self.cp.size,
        ):
            self.fail(layout.SELECTION, "its origin and tree size are not the checkpoint's")

    # -- records ---------------------------------------------------------------------------

    def _lines(self, name: str) -> list[Item]:
        raw = self.data.get(name, b"")
        if raw and not raw.endswith(b"\n"):
            self.fail(name, "does not end with a newline: it was cut short")
        items: list[Item] = []
        for number, line in enumerate(raw.splitlines(), start=1):
            try:
                item = parse_item(line, self.cp)
            except InputError as e:
                self.fail(f"{name} line {number}", str(e))
                continue
            if items and item.seq <= items[-1].seq:
                self.fail(
                    name,
                    f"line {number}: seq {item.seq} after {items[-1].seq}: "
                    "records are out of order or repeated",
                )
            items.append(item)
        count_key = {layout.RECORDS: "records", layout.ERASURES: "erasures"}[name]
        if self.sel and self.sel[count_key] != len(items):
            self.fail(
                name,
                f"holds {len(items)} records; selection.json says "
                f"{self.sel[count_key]}: a record was removed or added",
            )
        return items

    def _org(self, records: list[Item], erasures: list[Item]) -> None:
        """An org-log pack: every org.entry against the endpoint record it names."""
        raw = self.data.get(layout.ENDPOINTS)
        if self.sel.get("log") != ORG:
            if raw is not None:
                self.fail(layout.ENDPOINTS, "is in a pack whose selection.json is not an org log's")
            return
        if raw is None and layout.ENDPOINTS not in self.pack.names:
            self.fail(layout.ENDPOINTS, "is missing: a file was removed")
        self.org = OrgCheck(self.fail)
        self.org.read(raw or b"")
        device = self._filters().get("device")
        held = self.org.run(records, erasures, device if isinstance(device, str) else None)
        if held != self.sel["endpoint_records"]:
            self.fail(
                layout.ENDPOINTS,
                f"holds {held} endpoint records; selection.json says "
                f"{self.sel['endpoint_records']}: a record was removed or added",
            )

    def _erasures(self, records: list[Item], erasures: list[Item]) -> None:
        named: set[int] = set()
        for e in erasures:
            where = f"erasure record {e.seq}"
            if self.org is not None and e.envelope is not None and e.envelope.kind != "erasure":
                if e.errors:  # checked by OrgCheck: a collector.erasure or an endpoint's erasure
                    self.fail(where, "; ".join(e.errors))
                continue
            if e.errors:
                self.fail(where, "; ".join(e.errors))
            elif e.envelope is None or e.envelope.kind != "erasure" or e.erased:
                self.fail(where, "is not an erasure record with its payload")
            else:
                try:
                    named.update(erased_by(e.seq, e.envelope.source, e.body))
                except VerificationError as problem:
                    self.fail(where, str(problem).removeprefix(f"record {e.seq}: "))
        for r in records:
            if r.erased and r.seq not in named:
                r.errors.append(
                    "its payload is missing but no erasure record in the pack names "
                    "it: withheld, not erased"
                )

    def _content(self, records: list[Item]) -> list[str]:
        refs: dict[str, int] = {}
        for r in records:
            line = self.org.lines.get(r.seq) if self.org is not None else None
            payload = line.payload if line is not None else r.payload
            file = payload.get("file") if isinstance(payload, dict) else None
            if not r.errors and isinstance(file, dict):
                for k in ("before_sha256", "after_sha256"):
                    if layout.is_sha256_hex(h := file.get(k)):
                        refs.setdefault(h, r.seq)
        with_content = bool(self.sel.get("with_content"))
        missing = [h for h in self.sel.get("content_missing", []) if isinstance(h, str)]
        for name, digest in self.content.items():
            h = name[len(layout.CONTENT) :]
            if not with_content:
                self.fail(name, "is a content file in a pack built without --with-content")
            elif digest != h:
                self.fail(name, "does not hash to its name: its content was changed")
            elif h not in refs:
                self.fail(name, "is named by no record in the pack")
        if not with_content:
            return []
        for h, seq in refs.items():
            name = layout.content_name(h)
            if name not in self.content and h not in missing:
                self.fail(
                    name,
                    f"record {seq} names it, but it is neither in the pack nor "
                    "listed as missing in selection.json: it was removed",
                )
        for h in missing:
            if h not in refs or layout.content_name(h) in self.content:
                self.fail(
                    layout.SELECTION,
                    f"content_missing lists {h}, which no record names or which is in the pack",
                )
        return missing

    # -- window, filters, consistency -------------------------------------------------------

    def _filters(self) -> dict[str, Any]:
        filters = self.sel.get("filters") or {}
        return filters if isinstance(filters, dict) else {}

    def _window(self, records: list[Item]) -> WindowCheck | None:
        filters = self._filters()
        subjects = self.org.subjects if self.org is not None else {}
        for r in records:
            envelope = subjects.get(r.seq, r.envelope)
            if envelope is not None and not matches(envelope, filters):
                r.errors.append("its time or kind is outside the pack's filters")
        raw = self.data.get(layout.WINDOW)
        wanted = bool(self.sel.get("window_complete"))
        if raw is None:
            if wanted and layout.WINDOW not in self.pack.names:
                self.fail(layout.WINDOW, "is missing: a file was removed")
            return None
        if not wanted:
            self.fail(layout.WINDOW, "is in a pack that selection.json says is not window-complete")
        window, self.window_hashes, problems = check_window(raw, self.cp, records, filters)
        self.problems += problems
        return window

    def _consistency(self) -> None:
        raw = self.data.get(layout.CONSISTENCY)
        sizes = self.sel.get("consistency_from", [])
        if raw and not raw.endswith(b"\n"):
            self.fail(layout.CONSISTENCY, "does not end with a newline: it was cut short")
        for number, line in enumerate((raw or b"").splitlines(), start=1):
            where = f"consistency.jsonl line {number}"
            try:
                obj = json.loads(line)
                if self.verifier is None or self.cp is None:
                    raise VerificationError("no verified checkpoint to check it against")
                old = open_checkpoint(obj["checkpoint"], self.verifier)
                proof = tuple(layout.unb64(h, "a proof hash", 32) for h in obj["proof"])
                merkle.verify_consistency(old.size, self.cp.size, proof, old.root, self.cp.root)
            except (ValueError, KeyError, TypeError, RecursionError, AffidavitError) as e:
                self.fail(where, f"does not prove the log only grew: {e}")
                continue
            self.consistency[old.size] = proof
        if self.sel and sorted(self.consistency) != sorted(s for s in sizes if type(s) is int):
            self.fail(layout.CONSISTENCY, "does not hold the proofs selection.json lists")

    def _from(self, kept: str) -> int | None:
        where = "your checkpoint"
        if self.verifier is None or self.cp is None:
            self.fail(where, "cannot be compared: the pack's checkpoint does not verify")
            return None
        try:
            old = open_checkpoint(kept, self.verifier)
        except AffidavitError as e:
            self.fail(where, f"is not signed by the pack's key: {e}")
            return None
        size, root = self.cp.size, self.cp.root
        try:
            if old.size > size:
                raise VerificationError(
                    f"it has size {old.size}, the pack's checkpoint only {size}: the log was "
                    "truncated, or the pack is older than your checkpoint"
                )
            if old.size in self.consistency or old.size == size:
                proof = self.consistency.get(old.size, ())
                merkle.verify_consistency(old.size, size, proof, old.root, root)
            elif self.window_hashes is not None:
                if merkle.root(self.window_hashes[: old.size]) != old.root:
                    raise VerificationError(
                        f"the log's first {old.size} records in window.jsonl do not have your "
                        "checkpoint's root: history was rewritten"
                    )
            else:
                raise VerificationError(
                    f"the pack carries no proof from size {old.size}; ask for a pack built "
                    "with `affidavit evidence --from <your checkpoint>` (or --window-complete)"
                )
        except VerificationError as e:
            self.fail(where, str(e))
            return None
        return old.size


def _check_filters(filters: dict[str, Any], *, org: bool = False) -> None:
    known = PAYLOAD_FILTERS + ENVELOPE_FILTERS + (("device",) if org else ())
    for name, value in filters.items():
        if name == "kinds":
            if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
                raise ValueError("filter 'kinds' is not a list of text")
        elif name not in known or not isinstance(value, str):
            raise ValueError(f"filter {name!r} is unknown or not text")
