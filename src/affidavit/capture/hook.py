"""``affidavit hook``: record one Claude Code / Cowork hook event, durably.

Runs inside the agent on every tool call, so:

* standard library and the pure record code only; click, rich and cryptography never load;
* three modes, tried in this order (the README's "Capture modes" says which guarantees each
  gives):

  1. **service**: a recorder service (``affidavit service``) answers on its socket
     (``--socket``, else ``$AFFIDAVIT_SOCKET``, else :data:`client.DEFAULT_SOCKET`). The hook
     reads the files it alone can read, sends one framed message, waits for the ack and
     exits (:mod:`affidavit.capture.client`);
  2. **direct**: no service answers and the ledger is the user's own: the hook writes it
     in one short transaction (:mod:`affidavit.capture.direct`);
  3. **spool**: no service answers and the ledger is not the user's: the event, redacted,
     goes to the user's 0600 spool, which the next run that reaches the service hands over;

* it exits 0, or 2 when an enforced policy rule blocks the tool call
  (:mod:`affidavit.capture.policy`). Whatever goes wrong is one line on stderr and a line
  in the error log; the event, redacted, is spooled when nothing could take it
  (:mod:`affidavit.capture.spool`; on a disk without a free byte, into the space the
  reserve kept for that), so a gap is never silent.
"""

from __future__ import annotations

import os
import sys

from affidavit.capture.failure import report_failure as report_failure
from affidavit.capture.failure import spool_entry as spool_entry
from affidavit.capture.intake import MAX_STDIN as MAX_STDIN
from affidavit.capture.intake import actor_of as actor_of
from affidavit.capture.intake import decode as decode
from affidavit.capture.intake import error_draft as error_draft
from affidavit.capture.intake import now_text as now_text
from affidavit.capture.intake import with_env
from affidavit.capture.options import BUSY_TIMEOUT as BUSY_TIMEOUT
from affidavit.capture.options import SEAL_INTERVAL as SEAL_INTERVAL
from affidavit.capture.options import SERVICE_TIMEOUT as SERVICE_TIMEOUT
from affidavit.capture.options import Options as Options
from affidavit.capture.options import default_ledger as default_ledger
from affidavit.capture.options import parse_options as parse_options

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from affidavit.capture.direct import Capture as Capture
    from affidavit.capture.direct import start_seal as start_seal
    from affidavit.capture.replay import replay_spool as replay_spool
    from affidavit.capture.stage import append_storable as append_storable

# Service mode must not pay for what only direct mode uses (SQLite store, policy, redaction):
# these names load on first use.
_LAZY = {
    "Capture": "affidavit.capture.direct",
    "start_seal": "affidavit.capture.direct",
    "replay_spool": "affidavit.capture.replay",
    "append_storable": "affidavit.capture.stage",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_hook(argv: list[str], *, close: bool = True) -> int:
    """Entry point. Returns the exit code: 0, or 2 when a policy blocks the tool call.

    ``close=False`` leaves the SQLite connection open for a caller that ends the process
    right after (see :func:`affidavit.cli.main`).
    """
    raw = b""
    opts = Options()
    block: str | None = None
    try:
        raw = sys.stdin.buffer.read(MAX_STDIN + 1)
        if len(raw) > MAX_STDIN:
            # Drain the rest so the agent's write completes instead of failing with EPIPE.
            while sys.stdin.buffer.read(1 << 20):
                pass
        opts = parse_options(argv)
        raw = with_env(raw, os.environ)  # a cloud session says so only in its environment
        block = record(opts, raw, close=close)
    except Exception as e:  # the agent must never be broken by its audit trail
        report_failure(opts, raw, f"{type(e).__name__}: {e}")
    # -- policy: an enforced rule blocks the tool call ---------------------------------------
    # Claude Code blocks a PreToolUse call when its hook exits 2 and shows the model stderr.
    # The verdict stands even if the ledger write failed (the event is then spooled).
    if block:
        from affidavit.capture.policy import EXIT_BLOCK

        print(block, file=sys.stderr)
        return EXIT_BLOCK
    # -- end policy --
    return 0


def record(opts: Options, raw: bytes, *, close: bool) -> str | None:
    """Record the event in the first mode that can take it; returns a policy block, if any."""
    from affidavit.capture import client

    delivery = client.Delivery(opts, raw)
    outcome = delivery.run()
    if outcome.acked:
        return outcome.block
    default_ledger(opts)
    if outcome.problem is None and owns(opts.ledger):  # no service: direct mode
        from affidavit.capture import inflight
        from affidavit.capture.digest import sha256_hex

        # Marked before direct mode's imports, so a kill during them leaves a trace too.
        event, _ = decode(raw)
        facts = inflight.facts_of(event, len(raw), sha256_hex(raw))
        marker = inflight.Marker.create(opts.ledger, facts)
        from affidavit.capture.direct import Capture

        capture = Capture(opts)
        capture.run(raw, close=close, marker=marker)
        return capture.verdict.block if capture.verdict else None
    opts.spool_base = client.user_spool_base()
    why = outcome.problem or (
        f"no recorder service at {opts.socket} and the ledger {opts.ledger} is not this account's"
    )
    try:
        report_failure(opts, raw, why, delivery=delivery.id)
    finally:
        delivery.release()  # spooled (or said why not): the marker's work is done
    return None


def owns(ledger: str) -> bool:
    """Whether the ledger (or, before it exists, its folder) belongs to this account."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # Windows: no service mode, always direct
        return True
    for path in (ledger, os.path.dirname(ledger) or "."):
        try:
            return bool(os.stat(path).st_uid == getuid())
        except FileNotFoundError:
            continue
        except OSError:
            return False
    return True  # nothing there yet: direct mode creates nothing, and spools beside it
