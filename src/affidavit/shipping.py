"""Shipping an endpoint's ledger to the organisation's collector (the client side).

``enrol`` pins the collector's witness key in ``<ledger>.collector.json`` beside the ledger.
``ship`` asks the collector what it holds (so it resumes exactly where the collector is,
whatever happened before), then sends the records it lacks with a published checkpoint that
covers them and the consistency proof from the checkpoint the collector last cosigned; it
checks the returned C2SP cosignature against the pinned key and keeps it in the state file.
The collector stores each record once by (origin, seq), so a retried batch changes nothing.

Standard library only (``urllib``): endpoints do not need the server extra.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from affidavit.cosignature import Cosigner, verify_cosignature
from affidavit.errors import InputError, LedgerError, VerificationError
from affidavit.ledger import Ledger
from affidavit.note import Checkpoint, Verifier, open_checkpoint

MAX_BATCH = 10_000
TIMEOUT_S = 60
KEPT_COSIGNATURES = 256
"""Cosignatures kept in the state file, newest last. The newest is what ``verify`` checks and
it covers every earlier size (the collector cosigned it only after checking consistency), so
older ones are dropped: a service shipping every few seconds would otherwise grow the file
without end."""


def state_path(ledger: Path) -> Path:
    return ledger.with_name(ledger.name + ".collector.json")


@dataclass(frozen=True, slots=True)
class Witnessed:
    name: str
    size: int
    time: int


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _request(url: str, token: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
    # Imported here: urllib.request brings http.client, ssl and email, which the status
    # command (it reads the shipping state) would otherwise load for nothing.
    from affidavit import remote

    _, raw = remote.request(url, token, path, body, timeout=TIMEOUT_S)
    answer = remote.parse_json(url, path, raw)
    if not isinstance(answer, dict):
        raise LedgerError(f"the collector at {url} answered {path} with no JSON object")
    return answer


def _load(ledger_path: Path) -> dict[str, Any]:
    path = state_path(ledger_path)
    try:
        state: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"this ledger is not enrolled ({path} is missing); run `affidavit enrol URL`"
        ) from None
    except ValueError as e:
        raise InputError(f"{path}: not JSON: {e}") from e
    return state


def _save(ledger_path: Path, state: dict[str, Any]) -> None:
    import tempfile

    path = state_path(ledger_path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".collector-")
    try:
        os.write(fd, (json.dumps(state, indent=1) + "\n").encode())
        os.fsync(fd)
        os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def enrol(ledger: Ledger, ledger_path: Path, url: str, token: str) -> dict[str, Any]:
    """Register the ledger's key with the collector and pin the collector's keys."""
    answer = _request(url, token, "/api/v1/enrol", _identity(ledger))
    Cosigner.from_vkey(answer["witness_vkey"])  # refuse a malformed key before pinning it
    state = {
        "url": url,
        "collector": answer["collector"],
        "witness_vkey": answer["witness_vkey"],
        "org_vkey": answer["org_vkey"],
        "acked": _size(answer.get("cosigned"), ledger.verifier),
        "cosignatures": [],
    }
    path = state_path(ledger_path)
    if path.exists():
        old = _load(ledger_path)
        if old.get("witness_vkey") != state["witness_vkey"]:
            raise VerificationError(
                f"{path} pins witness key {old.get('witness_vkey')}, but {url} presents "
                f"{state['witness_vkey']}; delete {path} only if the collector really changed"
            )
        state["cosignatures"] = old.get("cosignatures", [])
    _save(ledger_path, state)
    return state


def _identity(ledger: Ledger) -> dict[str, Any]:
    return {"origin": ledger.origin, "vkey": ledger.verifier.vkey()}


def _size(note: str | None, verifier: Verifier) -> int:
    return 0 if note is None else open_checkpoint(note, verifier).size


def ship(ledger: Ledger, ledger_path: Path, token: str) -> tuple[int, int]:
    """Ship everything published that the collector lacks; returns (records sent, acked)."""
    state = _load(ledger_path)
    url, witness = state["url"], Cosigner.from_vkey(state["witness_vkey"])
    sent = 0
    while True:
        where = _request(url, token, "/api/v1/enrol", _identity(ledger))
        if where["witness_vkey"] != state["witness_vkey"]:
            raise VerificationError(f"{url} presents another witness key than the one pinned")
        held, acked = int(where["held"]), _size(where.get("cosigned"), ledger.verifier)
        target = _next_checkpoint(ledger, held)
        if target is None:
            state["acked"] = acked
            _save(ledger_path, state)
            return sent, acked
        size, note = target
        proof = ledger.prove_consistency(acked, size).proof if acked else ()
        body = {
            "origin": ledger.origin,
            "checkpoint": note,
            "proof": [_b64(p) for p in proof],
            "records": [
                {"seq": seq, "leaf": _b64(leaf), "salt": _b64(salt), "payload": _b64(payload)}
                for seq, leaf, _, salt, payload in ledger.rows(held, size)
            ],
        }
        answer = _request(url, token, "/api/v1/ship", body)
        cp = Checkpoint.parse_body(note[: note.index("\n\n") + 1])
        when = verify_cosignature(answer["cosignature"], cp.body(), witness)
        state["acked"] = int(answer["acked"])
        kept = state["cosignatures"]
        kept.append(
            {"size": size, "checkpoint": note, "cosignature": answer["cosignature"], "time": when}
        )
        del kept[:-KEPT_COSIGNATURES]
        _save(ledger_path, state)
        sent += int(answer["stored"])


def _next_checkpoint(ledger: Ledger, held: int) -> tuple[int, str] | None:
    """The largest published checkpoint past ``held`` that at most MAX_BATCH records reach."""
    best = None
    for size, note, _ in ledger.store.checkpoints():
        if size > held and (best is None or size - held <= MAX_BATCH):
            best = (size, note)
            if size - held >= MAX_BATCH:
                break
    return best


def load_url(ledger_path: Path) -> str:
    """The URL of the collector the ledger is enrolled with."""
    url = _load(ledger_path).get("url")
    if not isinstance(url, str) or not url:
        raise InputError(f"{state_path(ledger_path)}: field 'url' is missing")
    return url


def acknowledged(ledger_path: Path) -> int:
    """The size the collector last acknowledged, as the state file says (0: none yet)."""
    return int(_load(ledger_path).get("acked", 0))


def unshipped(ledger: Ledger, ledger_path: Path) -> int | None:
    """Records the collector has not acknowledged (None: not enrolled)."""
    if not state_path(ledger_path).exists():
        return None
    return ledger.store.size() - acknowledged(ledger_path)


def witnessed(ledger: Ledger, ledger_path: Path) -> Witnessed | None:
    """Check the newest kept cosignature: the pinned witness signed a checkpoint this ledger
    published. None when the ledger was never shipped; raises if the evidence is wrong."""
    if not state_path(ledger_path).exists():
        return None
    state = _load(ledger_path)
    kept = state.get("cosignatures") or []
    if not kept:
        return None
    newest = kept[-1]
    witness = Cosigner.from_vkey(state["witness_vkey"])
    ours = {size: note for size, note, _ in ledger.store.checkpoints()}
    if ours.get(newest["size"]) != newest["checkpoint"]:
        raise VerificationError(
            f"the collector cosigned a checkpoint of size {newest['size']} this ledger does "
            "not hold: the ledger was rewritten after it was shipped",
            where=f"checkpoint {newest['size']}",
        )
    cp = open_checkpoint(newest["checkpoint"], ledger.verifier)
    when = verify_cosignature(newest["cosignature"], cp.body(), witness)
    return Witnessed(witness.name, cp.size, when)
