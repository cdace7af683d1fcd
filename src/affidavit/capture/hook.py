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
  (:mod:`affidavit.compliance.policy`). Whatever goes wrong is one line on stderr and a line
  in the error log; the event, redacted, is spooled when nothing could take it
  (:mod:`affidavit.capture.spool`; on a disk without a free byte, into the space the
  reserve kept for that), so a gap is never silent.
"""

from __future__ import annotations

import os
import sys

from affidavit.capture.intake import MAX_STDIN as MAX_STDIN
from affidavit.capture.intake import actor_of as actor_of
from affidavit.capture.intake import decode as decode
from affidavit.capture.intake import error_draft as error_draft
from affidavit.capture.intake import now_text as now_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
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


BUSY_TIMEOUT = 5.0  # seconds; the hook command's own timeout in settings is 30 s
SEAL_INTERVAL = 60.0
SERVICE_TIMEOUT = 20.0  # seconds to wait for the service's ack, inside the hook's 30 s


class Options:
    __slots__ = (
        "busy_timeout",
        "config",
        "ledger",
        "manifest_cap",
        "max_file_bytes",
        "problems",
        "seal_interval",
        "service_timeout",
        "socket",
        "spool_base",
    )

    def __init__(self) -> None:
        from affidavit.capture import snapshots

        self.ledger = os.environ.get("AFFIDAVIT_LEDGER") or ""
        self.config: str | None = None  # policy: --config, else $AFFIDAVIT_CONFIG, else default
        self.max_file_bytes = snapshots.DEFAULT_MAX_FILE_BYTES
        self.manifest_cap = snapshots.DEFAULT_MANIFEST_CAP
        self.seal_interval = SEAL_INTERVAL
        self.busy_timeout = BUSY_TIMEOUT
        self.service_timeout = SERVICE_TIMEOUT
        self.socket = os.environ.get("AFFIDAVIT_SOCKET") or ""
        # Where failures spool and log: beside the ledger in direct mode, else the user's own.
        self.spool_base = ""
        self.problems: list[str] = []


_OPTIONS: dict[str, tuple[str, Callable[[str], object]]] = {
    "--ledger": ("ledger", str),
    "--busy-timeout": ("busy_timeout", float),
    "--max-file-bytes": ("max_file_bytes", int),
    "--manifest-cap": ("manifest_cap", int),
    "--seal-interval": ("seal_interval", float),
    "--config": ("config", str),  # policy (affidavit.compliance.policy)
    "--socket": ("socket", str),
    "--service-timeout": ("service_timeout", float),
}


def parse_options(argv: list[str]) -> Options:
    """``--ledger PATH --max-file-bytes N --manifest-cap N --seal-interval SECONDS
    --config PATH --socket PATH --service-timeout SECONDS``.

    An unknown option or a bad value is noted in ``problems`` and recorded as a
    ``capture.error`` beside the event, never raised: the hook command line is fixed in the
    agent's settings, so raising would lose every event it ever sends, without a record.
    """
    opts = Options()
    it = iter(argv)
    for arg in it:
        name, eq, value = arg.partition("=")
        if name not in _OPTIONS:
            opts.problems.append(f"unknown option {arg!r} ignored")
            continue
        if not eq:
            value = next(it, "")
        attr, convert = _OPTIONS[name]
        try:
            setattr(opts, attr, convert(value))
        except ValueError:
            opts.problems.append(f"bad value {value!r} for {name} ignored")
    if not opts.socket:
        from affidavit.capture.client import DEFAULT_SOCKET

        opts.socket = DEFAULT_SOCKET
    return opts


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
        block = record(opts, raw, close=close)
    except Exception as e:  # the agent must never be broken by its audit trail
        report_failure(opts, raw, f"{type(e).__name__}: {e}")
    # -- policy: an enforced rule blocks the tool call ---------------------------------------
    # Claude Code blocks a PreToolUse call when its hook exits 2 and shows the model stderr.
    # The verdict stands even if the ledger write failed (the event is then spooled).
    if block:
        from affidavit.compliance.policy import EXIT_BLOCK

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
        from affidavit.capture.direct import Capture

        capture = Capture(opts)
        capture.run(raw, close=close)
        return capture.verdict.block if capture.verdict else None
    opts.spool_base = client.user_spool_base()
    why = outcome.problem or (
        f"no recorder service at {opts.socket} and the ledger {opts.ledger} is not this account's"
    )
    report_failure(opts, raw, why, delivery=delivery.id)
    return None


def default_ledger(opts: Options) -> None:
    """The user's default ledger unless --ledger or $AFFIDAVIT_LEDGER named one (looked up
    only when the service did not take the event: platformdirs costs the hook time)."""
    if not opts.ledger:
        from affidavit.locations import default_ledger_path

        opts.ledger = str(default_ledger_path())


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


def report_failure(opts: Options, raw: bytes, reason: str, *, delivery: str = "") -> None:
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
    import hashlib

    from affidavit.capture import events, spool, writer
    from affidavit.capture.redact import redact_text

    head = {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
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
