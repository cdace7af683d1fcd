"""What the hook does when it cannot record an event: one stderr line, the event spooled
(redacted, never the raw input), a line in the error log.

Standard library only: this runs in the hook.
"""

from __future__ import annotations

import sys

from affidavit.capture.intake import actor_of, decode, error_draft, now_text
from affidavit.capture.options import Options, default_ledger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def report_failure(
    opts: Options, raw: bytes, reason: str, *, delivery: str = "", marker: str = ""
) -> None:
    """One stderr line; the event, redacted, spooled for the next run; the error log.

    On a full disk the spool gives up the reserve (:func:`spool.release_reserve`) and tries
    again, so the event is kept even when the disk has not one byte left.
    """
    import errno

    from affidavit.capture import spool
    from affidavit.capture.redact import redact_text

    default_ledger(opts)
    line = redact_text(reason.splitlines()[0] if reason else "unknown error")[0]
    print(f"affidavit hook: {line[:300]}", file=sys.stderr)
    base = opts.spool_base or opts.ledger
    if not base:
        return
    stamp = now_text()
    entry = spool_entry(raw, line, stamp)
    if delivery:  # the service may have committed it before it died: the id says so
        entry["delivery"] = delivery
    if marker:  # a kill before the marker goes must not make this event a gap as well
        entry["marker"] = marker
    try:
        try:
            spool.write(base, entry)
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EDQUOT) or not spool.release_reserve(base):
                raise
            spool.write(base, entry)
    except OSError as e:
        print(f"affidavit hook: could not spool the event either: {e}", file=sys.stderr)
    spool.append_error_log(base, {"time": stamp, "error": line})


def spool_entry(raw: bytes, line: str, stamp: str) -> dict[str, Any]:
    """What the spool keeps of an event: its drafts as the ledger would hold them (redacted),
    and the input's size and hash; never the raw input (see :mod:`affidavit.capture.spool`)."""
    from affidavit.capture import events, spool, writer
    from affidavit.capture.digest import sha256_hex
    from affidavit.capture.redact import redact_text

    head = {"bytes": len(raw), "sha256": sha256_hex(raw)}
    entry: dict[str, Any] = {"format": spool.FORMAT, "time": stamp, "error": line, "input": head}
    try:
        event, problem = decode(raw)
        if event is not None:
            drafts = events.map_event(event, actor=actor_of(None))
            entry["records"] = [[kind, writer.redacted(payload)] for kind, payload in drafts]
            return entry
    except Exception as e:  # the same bug would fail the replay: keep what names the input
        problem = f"{type(e).__name__}: {e}"
    _, error = error_draft({}, problem or "unreadable event", raw)
    entry["input"] = writer.redacted(error["input"])
    entry["problem"] = redact_text(problem or "")[0]
    return entry
