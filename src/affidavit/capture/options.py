"""The hook's command line: ``affidavit hook --ledger PATH ...``, parsed leniently.

Standard library only: this runs in the hook.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_SOCKET = "/run/affidavit/recorder.sock"
"""Where the recorder service listens unless --socket or $AFFIDAVIT_SOCKET say otherwise."""

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
    "--config": ("config", str),  # policy (affidavit.capture.policy)
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
        opts.socket = DEFAULT_SOCKET
    return opts


def default_ledger(opts: Options) -> None:
    """The user's default ledger unless --ledger or $AFFIDAVIT_LEDGER named one (looked up
    only when the service did not take the event: platformdirs costs the hook time)."""
    if not opts.ledger:
        from affidavit.locations import default_ledger_path

        opts.ledger = str(default_ledger_path())
