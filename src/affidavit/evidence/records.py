"""Parsing and checking one line of ``records.jsonl`` or ``erasures.jsonl`` on its own.

A line is checked against the checkpoint's root (inclusion proof) and against its own
envelope (commitment); what needs the rest of the pack (erasures, window, filters) is the
checker's. Errors are collected on the item, so a report names every fault of a record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from affidavit import merkle
from affidavit.errors import InputError, VerificationError
from affidavit.evidence import layout
from affidavit.note import Checkpoint
from affidavit.record import SALT_SIZE, Envelope, commitment, read_leaf


@dataclass(slots=True)
class Item:
    """One parsed line; ``errors`` empty when it holds on its own."""

    seq: int
    envelope: Envelope | None = None
    leaf: bytes | None = None
    payload: Any = None
    body: bytes | None = None
    erased: bool = False
    errors: list[str] = field(default_factory=list)


def parse_item(line: bytes, checkpoint: Checkpoint | None) -> Item:
    """Check one line; raises InputError only when it has no seq to report under."""
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise InputError(f"is not JSON ({e})") from e
    except RecursionError as e:
        raise InputError("is not a record line: it nests too deeply") from e
    if not isinstance(obj, dict) or type(obj.get("seq")) is not int:
        raise InputError("has no seq")
    item = Item(obj["seq"])
    try:
        if list(obj) != list(layout.RECORD_FIELDS):
            raise InputError(f"its fields are not {', '.join(layout.RECORD_FIELDS)}")
        item.leaf = layout.unb64(obj["leaf"], "leaf")
        item.envelope = Envelope.from_leaf(item.leaf)
        read_leaf(item.leaf)  # the same envelope checks as `affidavit verify`
        proof = obj["proof"]
        if not isinstance(proof, list):
            raise InputError("proof is not a list")
        hashes = [layout.unb64(h, "a proof hash", merkle.HASH_SIZE) for h in proof]
    except InputError as e:
        item.errors.append(str(e))
        return item
    if checkpoint is None:
        item.errors.append("no checkpoint to check its proof against")
    else:
        try:
            merkle.verify_inclusion(
                merkle.leaf_hash(item.leaf), item.seq, checkpoint.size, hashes, checkpoint.root
            )
        except VerificationError:
            item.errors.append(
                "its inclusion proof does not lead to the checkpoint's root "
                "(the leaf, the seq or a proof hash was changed)"
            )
    salt, body = obj["salt"], obj["payload_json"]
    if salt is None and body is None:
        item.erased = True
        return item
    try:
        salt_bytes = layout.unb64(salt, "salt", SALT_SIZE)
        if not isinstance(body, str):
            raise InputError("payload_json is not a string")
        body_bytes = body.encode("utf-8")
        item.payload = json.loads(body_bytes)
        item.body = body_bytes
    except (InputError, ValueError) as e:  # UnicodeEncodeError is a ValueError
        item.errors.append(str(e))
        return item
    except RecursionError:
        item.errors.append("payload_json nests too deeply")
        return item
    if commitment(salt_bytes, body_bytes) != item.envelope.commitment:
        item.errors.append("its payload_json or salt does not match the envelope's commitment")
    return item
