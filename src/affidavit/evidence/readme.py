"""The pack's README.md: what the pack proves, for an auditor, and a recipe to check it.

The recipe is a stand-alone Python program that uses only ``hashlib``, ``base64``, ``json``,
``zipfile`` and the ``cryptography`` package, so an auditor need not trust Affidavit's code;
the tests cut it out of a generated README and run it on good and tampered packs.
"""

from __future__ import annotations

import textwrap
from typing import Any

from affidavit.evidence import layout
from affidavit.note import Checkpoint

RECIPE = """\
import base64, hashlib, json, sys, zipfile
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

def check(ok, what):
    if not ok:
        sys.exit(f"FAILED: {what}")

sha = lambda data: hashlib.sha256(data).digest()
node = lambda left, right: sha(b"\\x01" + left + right)  # RFC 9162 2.1.1
b64 = lambda text: base64.b64decode(text, validate=True)

pack = zipfile.ZipFile(sys.argv[1])
files = {name: pack.read(name) for name in pack.namelist()}
check(len(files) == len(pack.namelist()), "a file name appears twice")
manifest = json.loads(files.pop("manifest.json"))
check(manifest["format"] == "affidavit-evidence/1", "not an affidavit-evidence/1 pack")
check(set(manifest["files"]) == set(files), "files were added or removed")
for name, data in files.items():
    digest = hashlib.sha256(data).hexdigest()
    check(digest == manifest["files"][name], f"{name} was changed")
    check(not name.startswith("content/") or name == "content/" + digest, name)

# The log's key: the one given as an argument (pinned), else the pack's own vkey.txt.
vkey = sys.argv[2] if len(sys.argv) > 2 else files["vkey.txt"].decode().strip()
name, key_id, key = vkey.split("+", 2)
key = b64(key)
check(key[0] == 1 and sha(name.encode() + b"\\n" + key)[:4].hex() == key_id, "bad key")
# checkpoint.txt is a C2SP signed note: its text ends at the last blank line.
note = files["checkpoint.txt"].decode()
text, signatures = note[: note.rindex("\\n\\n") + 1], note[note.rindex("\\n\\n") + 2 :]
for line in signatures.splitlines():
    signer, _, signature = line.removeprefix("\\u2014 ").partition(" ")
    if signer == name and b64(signature)[:4].hex() == key_id:  # verify() raises if forged
        Ed25519PublicKey.from_public_bytes(key[1:]).verify(b64(signature)[4:], text.encode())
        break
else:
    check(False, "checkpoint.txt has no signature by the key")
origin, size, root = text.splitlines()
check(origin == name, "the checkpoint is of another log")
size, root = int(size), b64(root)

def proves(hash, index, proof):  # RFC 9162 2.1.3.2: verify an inclusion proof
    fn, sn = index, size - 1
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            hash = node(p, hash)
            while fn & 1 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            hash = node(hash, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hash == root

leaves, payloads = {}, {}
for line in (files["records.jsonl"] + files.get("erasures.jsonl", b"")).splitlines():
    r = json.loads(line)
    seq, leaf = r["seq"], b64(r["leaf"])
    proven = 0 <= seq < size and proves(sha(b"\\x00" + leaf), seq, map(b64, r["proof"]))
    check(proven, f"record {seq}: its proof does not lead to the checkpoint's root")
    if r["payload_json"] is not None:  # null when erased: only the envelope is proven
        commitment = sha(b64(r["salt"]) + r["payload_json"].encode())
        check(b64(json.loads(leaf)["commitment"]) == commitment, f"record {seq}: payload")
    leaves[seq] = leaf
    payloads[seq] = r["payload_json"]

for line in files.get("endpoints.jsonl", b"").splitlines():  # an org-log pack
    e = json.loads(line)  # the endpoint record the proven org.entry at org_seq names
    ref, leaf = json.loads(payloads[e["org_seq"]]), b64(e["leaf"])
    where = f"endpoints.jsonl: record {e['seq']} of {e['origin']}"
    check((ref["origin"], ref["seq"]) == (e["origin"], e["seq"]), where + ": not the one named")
    check(b64(ref["leaf_hash"]) == sha(b"\\x00" + leaf), where + ": its leaf was changed")
    if e["payload_json"] is not None:
        commitment = sha(b64(e["salt"]) + e["payload_json"].encode())
        check(b64(json.loads(leaf)["commitment"]) == commitment, where + ": payload")

def mth(hashes):  # RFC 9162 2.1.1: the root of a list of leaf hashes
    if len(hashes) < 2:
        return hashes[0] if hashes else sha(b"")
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node(mth(hashes[:k]), mth(hashes[k:]))

if "window.jsonl" in files:  # every envelope of the log, in seq order
    window = files["window.jsonl"].splitlines()
    check(len(window) == size, "window.jsonl does not hold every record of the log")
    check(mth([sha(b"\\x00" + leaf) for leaf in window]) == root, "window.jsonl: root")
    check(all(window[seq] == leaf for seq, leaf in leaves.items()), "window.jsonl: records")
print(f"OK: {len(leaves)} records proven against {origin} size {size}")
"""

_PAYLOAD_FILTERS = ("actor", "agent", "session", "path", "function", "tool")


def render_readme(selection: dict[str, Any], checkpoint: Checkpoint, vkey: str) -> bytes:
    """The README for a pack whose selection.json is ``selection``."""
    filters = selection["filters"]
    shown = ", ".join(f"`{k}={v}`" for k, v in sorted(filters.items())) or "none (every record)"
    records, erased = selection["records"], selection["erased"]
    facts = [
        f"* Log: `{checkpoint.origin}`, checkpoint of tree size {checkpoint.size} "
        f"(`{checkpoint.body().splitlines()[2]}` is its root hash).",
        f"* Verifier key in the pack: `{vkey}`.",
        f"* Filters: {shown}.",
        f"* Records: {records} in `records.jsonl`, {erased} of them erased"
        + (
            f"; the {selection['erasures']} erasure record(s) naming them are in `erasures.jsonl`."
            if erased
            else "."
        ),
        f"* Built: {selection['created']} (the builder's clock; nothing proves it).",
    ]
    if selection["unpublished_left_out"]:
        facts.append(
            f"* {selection['unpublished_left_out']} more record(s) matched but were not yet "
            "covered by a signed checkpoint, so they are not in this pack."
        )
    if selection["with_content"]:
        missing = len(selection["content_missing"])
        facts.append(
            "* File contents the records name (before/after SHA-256) are in `content/`"
            + (
                f"; {missing} were not kept by the log (over its size cap) and are listed as "
                "missing in `selection.json`."
                if missing
                else "."
            )
        )
    if selection["window_complete"]:
        facts.append(
            f"* `window.jsonl` holds the envelope of all {checkpoint.size} records of the log, "
            "so the window can be checked for completeness (see below)."
        )
    if selection.get("log") == "org":
        facts.append(
            f"* An org-log pack: `{checkpoint.origin}` is the organisation's collector, whose log "
            "holds every record its devices shipped by reference (`org.entry`: origin, seq, leaf "
            f"hash, kind). `endpoints.jsonl` holds the {selection['endpoint_records']} endpoint "
            "record(s) those entries name; each must hash to the leaf hash its proven entry "
            "holds and match its own commitment. Witness cosignatures, if any, follow the "
            "org key's signature in `checkpoint.txt`."
        )
    if selection["consistency_from"]:
        sizes = ", ".join(str(s) for s in selection["consistency_from"])
        facts.append(f"* `consistency.jsonl` proves the log only grew since size(s) {sizes}.")
    payload_filters = [f"`{k}`" for k in _PAYLOAD_FILTERS if k in filters]
    text = _TEMPLATE.format(
        origin=checkpoint.origin,
        facts="\n".join(_wrap(f) for f in facts),
        recipe=RECIPE,
        window=_wrap(
            _WINDOW_PAYLOAD.format(names=", ".join(payload_filters))
            if payload_filters
            else _WINDOW_ENVELOPE
        ),
        format=layout.FORMAT,
    )
    return text.encode("utf-8")


def _wrap(text: str) -> str:
    return textwrap.fill(
        text, width=90, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
    )


_WINDOW_PAYLOAD = (
    "* Filters on payload fields ({names}) cannot be checked on envelopes, so the records "
    "of the window left out of `records.jsonl` may or may not match them: "
    "`affidavit verify-pack` lists them by seq as *withheld*; ask for any of them by seq."
)
_WINDOW_ENVELOPE = (
    "* Every filter of this pack (time, kind) can be checked on envelopes, so "
    "`affidavit verify-pack` fails if a record of the window that matches them is not in "
    "`records.jsonl`."
)

_TEMPLATE = """\
# Evidence pack from `{origin}`

This ZIP file is an evidence pack made by Affidavit: records from an append-only log of
what AI agents (Claude Code, Cowork) did to files, each with a proof that it is in the log
whose state `checkpoint.txt` signs. It can be checked offline, without trusting Affidavit:
see "Verify it yourself".

{facts}

## What the pack proves

* **Each record is in the log, unchanged.** A record is an *envelope* (schema version,
  time, kind, source and a *commitment*) and a *payload* (who, which agent and session,
  which file, which command...). The envelope's RFC 8785 JSON is a leaf of an RFC 9162
  Merkle tree; `proof` is its inclusion proof, by seq, to the root in `checkpoint.txt`.
* **The payload is the one recorded.** commitment = SHA-256(salt || payload_json bytes).
  Change one character of a payload or salt and this fails.
* **The log's owner signed that state.** `checkpoint.txt` is a C2SP tlog-checkpoint, an
  Ed25519 signed note. Check it against the verifier key you got from the log's owner,
  not only the one in `vkey.txt`: whoever could change the pack could also sign a new
  checkpoint with a new key.
* **Erased records were erased, not withheld.** An erased record keeps its envelope (proven
  as above) with `payload_json` and `salt` null; the erasure record naming it, itself
  proven, is in `erasures.jsonl`.
* **No record of the window is missing** (packs built with `--window-complete`).
  `window.jsonl` holds the leaf (envelope) of every record of the log up to the
  checkpoint, in seq order, and no payload. Rebuilding the Merkle root from them and
  finding the checkpoint's root proves the list is whole: none removed, added, changed or
  reordered. Since record times need not follow seq order (an import adds old records
  late), the whole log is included, not only the records whose time is in the window; it
  shows kinds and times only.
{window}
* **The log only grew** since a checkpoint you kept: `affidavit verify-pack --from FILE`
  checks the consistency proof in `consistency.jsonl` (a pack built with `--from FILE`),
  or, with `window.jsonl`, rebuilds the root at your checkpoint's size from the leaves.

## What it does not prove

* That the times are true: they are the capturing machine's clock.
* That a filter on payload fields (actor, path, tool...) was applied honestly to the
  records left out; only `--window-complete` shows what was left out.
* Anything about records published after this pack's checkpoint.
* `manifest.json` lists the SHA-256 of every other file, so any change to one file is
  caught, but it is not signed: it and this README are a table of contents. Everything
  above rests on the signed checkpoint alone.

## Files

* `README.md`: this text.
* `manifest.json`: `{{"files": {{name: SHA-256 hex}}, "format": "{format}"}}`, for every
  other file.
* `selection.json`: the filters, counts and options the pack was built with.
* `checkpoint.txt`: the signed checkpoint, byte for byte as signed.
* `vkey.txt`: the log's verifier key, `name+keyid+base64(0x01 || key)`.
* `records.jsonl`: one record per line, by seq: `seq`; `leaf`, the base64 envelope bytes;
  `salt`, base64; `payload_json`, the exact canonical JSON text committed to; `proof`, the
  RFC 9162 audit path (base64 hashes) to the checkpoint's root.
* `erasures.jsonl`: the erasure records that name erased records, in the same form.
* `window.jsonl` (`--window-complete`): every leaf of the log, one per line, as is.
* `consistency.jsonl` (`--from`): `checkpoint`, one the auditor kept, and `proof`, the
  RFC 9162 consistency proof from it to `checkpoint.txt`.
* `content/<sha256>` (`--with-content`): file contents the payloads name, by SHA-256.
* `endpoints.jsonl` (org-log packs): per `org.entry`, `org_seq`, `origin`, `seq` and the
  endpoint record it names (`leaf`, `salt`, `payload_json`, as in `records.jsonl`).

## Verify it yourself

With Affidavit: `affidavit verify-pack pack.zip --key 'VERIFIER KEY'` (add `--json` for a
per-record report, `--from kept-checkpoint.txt` to check the log only grew).

Without it: Python 3.11 or newer and `pip install cryptography`; save the program below as
`verify_pack.py` and run `python verify_pack.py pack.zip 'VERIFIER KEY'` (without the key
it trusts `vkey.txt`). It prints `OK` or names what failed. Read it before you run it:
whoever could change this pack could change this README too, so keep your own copy.
It checks the manifest, the key, the checkpoint signature, every proof and commitment, and
the window's root; `affidavit verify-pack` also checks the erasures, the content files
against the records, the filters and the consistency proofs.

```python
{recipe}```
"""
