"""The one row checker: each stored record, on its own and in order.

For every row (seq, leaf, leaf hash, salt, payload), streamed in seq order:

* seqs run without gaps from 0;
* the stored leaf hash is the RFC 9162 leaf hash of the leaf bytes;
* the leaf is a canonical envelope with a known kind, a well-formed source and a real time
  (:func:`affidavit.record.read_leaf`);
* a present payload and salt hash to the envelope's commitment;
* a missing payload is accounted for by an erasure record (:mod:`affidavit.verify.erasure`),
  checked when the stream ends, since the erasure comes later.
"""

from __future__ import annotations

from binascii import b2a_base64
from collections.abc import Iterable
from hashlib import sha256

from affidavit import merkle
from affidavit.errors import InputError, VerificationError
from affidavit.record import read_leaf
from affidavit.verify.erasure import erased_by

_ERASURE = "erasure"

RawRow = tuple[int, object, object, object, object]


class RowCheck:
    """Feed rows with :meth:`add` in seq order; call :meth:`finish` after the last."""

    def __init__(self, start: int = 0) -> None:
        self.expected = start
        self.erased: list[int] = []
        self.erasures: set[int] = set()

    def add(self, seq: int, leaf: object, stored_hash: object, salt: object, body: object) -> bytes:
        """Check one row; returns its leaf hash."""
        where = f"record {seq}"
        if seq != self.expected:
            raise VerificationError(
                f"record {self.expected} is missing: the ledger jumps from "
                f"{self.expected - 1} to {seq}",
                where=f"record {self.expected}",
            )
        self.expected += 1
        if type(leaf) is not bytes or type(stored_hash) is not bytes:  # a damaged row
            raise VerificationError(f"{where}: its row is not a record's bytes", where=where)
        h = merkle.leaf_hash(leaf)
        if h != stored_hash:
            raise VerificationError(
                f"{where}: its leaf bytes do not hash to its stored leaf hash", where=where
            )
        try:
            commitment, kind, source, _ = read_leaf(leaf)
        except InputError as e:
            raise VerificationError(
                f"{where}: its leaf is not a valid envelope: {e}", where=where
            ) from e
        if body is None or salt is None:
            if kind == _ERASURE:
                erased_by(seq, source, None)  # raises: an erasure must keep its payload
            self.erased.append(seq)
            return h
        if type(salt) is not bytes or type(body) is not bytes:
            raise VerificationError(f"{where}: its payload is not stored bytes", where=where)
        if b2a_base64(sha256(salt + body).digest(), newline=False) != commitment:
            raise VerificationError(
                f"{where}: its payload or salt does not match the envelope's commitment",
                where=where,
            )
        if kind == _ERASURE:
            self.erasures.update(erased_by(seq, source, body))
        return h

    def add_batch(self, rows: Iterable[RawRow]) -> list[bytes]:
        """:meth:`add` each row in order, in fewer Python steps; returns their leaf hashes.

        The fast path settles only a live, whole, non-erasure row in sequence whose hashes
        all match; every other row (a gap, a damaged row, an erased or erasure record, any
        mismatch) goes through :meth:`add`, so each outcome and message is :meth:`add`'s.
        """
        hashes: list[bytes] = []
        keep = hashes.append
        leaf_hash, parse, encode = merkle.leaf_hash, read_leaf, b2a_base64
        expected = self.expected
        for row in rows:
            seq, leaf, stored_hash, salt, body = row
            if (
                seq == expected
                and type(leaf) is bytes
                and type(stored_hash) is bytes
                and type(salt) is bytes
                and type(body) is bytes
                and (h := leaf_hash(leaf)) == stored_hash
            ):
                try:
                    commitment, kind, _, _ = parse(leaf)
                except InputError:
                    kind = _ERASURE  # add() raises the precise error
                if (
                    kind != _ERASURE
                    and encode(sha256(salt + body).digest(), newline=False) == commitment
                ):
                    keep(h)
                    expected += 1
                    continue
            self.expected = expected
            keep(self.add(*row))
            expected = self.expected
        self.expected = expected
        return hashes

    def finish(self) -> None:
        """Every missing payload must be named by an erasure record."""
        for seq in self.erased:
            if seq not in self.erasures:
                where = f"record {seq}"
                raise VerificationError(
                    f"{where}: its payload is gone but no erasure record names it", where=where
                )
