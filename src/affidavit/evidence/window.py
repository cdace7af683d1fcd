"""The window: ``window.jsonl`` against the checkpoint, and what the pack left out.

``window.jsonl`` holds the leaf of every record of the checkpoint's tree, in seq order.
Rebuilding the RFC 9162 root from them and finding the checkpoint's root proves the list
whole; record times need not follow seqs (an import appends old records late), which is
why it is the whole log and not a seq range around the window. Against that list, every
record whose envelope falls in the pack's time window and kinds is either in
``records.jsonl`` or *withheld*; when every filter of the pack can be checked on envelopes
(time and kind only), a withheld record is a failure.
"""

from __future__ import annotations

from typing import Any

from affidavit import merkle
from affidavit.errors import InputError
from affidavit.evidence.records import Item
from affidavit.evidence.report import Problem, WindowCheck
from affidavit.note import Checkpoint
from affidavit.record import Envelope

PAYLOAD_FILTERS = ("actor", "agent", "session", "path", "function", "tool")
ENVELOPE_FILTERS = ("kinds", "since", "until")


def matches(envelope: Envelope, filters: dict[str, Any]) -> bool:
    """Whether the envelope passes the pack's time and kind filters (as `affidavit log`:
    ``since <= time < until``, a kind matches itself and its ``kind.*``)."""
    since, until, kinds = filters.get("since"), filters.get("until"), filters.get("kinds")
    return (
        (not since or envelope.time >= since)
        and (not until or envelope.time < until)
        and (
            not kinds or any(envelope.kind == k or envelope.kind.startswith(f"{k}.") for k in kinds)
        )
    )


def check_window(
    raw: bytes, checkpoint: Checkpoint | None, records: list[Item], filters: dict[str, Any]
) -> tuple[WindowCheck, list[bytes] | None, list[Problem]]:
    """The window's report, its leaf hashes if they rebuild the root, and its problems.

    Records whose envelope differs from the window's line at their seq get an error.
    """
    problems: list[Problem] = []
    leaves = raw.split(b"\n")
    if leaves.pop() != b"":
        problems.append(Problem("window.jsonl", "does not end with a newline: it was cut short"))
    hashes: list[bytes] | None = [merkle.leaf_hash(leaf) for leaf in leaves]
    size = checkpoint.size if checkpoint else None
    if checkpoint is None or len(leaves) != size or merkle.root(hashes or []) != checkpoint.root:
        hashes = None
        problems.append(
            Problem(
                "window.jsonl",
                f"its {len(leaves)} envelopes do not rebuild the root of the checkpoint's "
                f"{size} records: an envelope was removed, added, changed or reordered",
            )
        )
    for r in records:
        if r.leaf is not None and not (0 <= r.seq < len(leaves) and leaves[r.seq] == r.leaf):
            r.errors.append(f"its envelope is not line {r.seq + 1} of window.jsonl")
    selected = {r.seq for r in records}
    envelope_only = not any(k in filters for k in PAYLOAD_FILTERS)
    in_window = 0
    withheld: list[int] = []
    for seq, leaf in enumerate(leaves):
        try:
            envelope = Envelope.from_leaf(leaf)
        except InputError as e:
            problems.append(Problem(f"window.jsonl line {seq + 1}", str(e)))
            continue
        if not matches(envelope, filters):
            continue
        in_window += 1
        if seq not in selected:
            withheld.append(seq)
            if envelope_only:
                problems.append(
                    Problem(
                        f"record {seq}",
                        "is in the window and matches every filter but is not in "
                        "records.jsonl: it was left out",
                    )
                )
    return WindowCheck(len(leaves), in_window, tuple(withheld), envelope_only), hashes, problems
