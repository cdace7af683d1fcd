"""``affidavit install --system``: the recorder service's account, folders, ledger and unit.

What an administrator rolls out so that the agent's own account cannot hold the pen (issue
11): a system account (default ``_affidavit``) owns the ledger and its signing key (0600,
in a 0700 folder); a group (default ``affidavit``) holds the users whose hooks may reach the
service's socket folder (0770); a systemd unit (Linux) or a launchd daemon (macOS) runs
the ``service`` command (``--ledger PATH --key PATH --socket PATH``) as that
account.

Everything is first a :class:`Plan`, a list of :class:`Step` values in the order they run,
printed as is by ``--dry-run``. Applying it records what it really created in a manifest
(``/etc/affidavit/install.json``, :mod:`affidavit.capture.system_apply`), and uninstall
removes exactly what the manifest names: a folder, account or ledger that was there
before install is never touched, and a ledger that holds records is kept (with the
account owning it), since those records are the evidence. ``root`` (``--root DIR``) puts
the whole tree, account database included (``useradd --prefix``), under a folder, for
packaging and tests. Windows is refused: not supported yet.

Accounts: Linux ``groupadd``/``useradd --system`` (shadow-utils); macOS ``dseditgroup`` and
``dscl`` (the account gets the first free id from 200 up, hidden, shell ``/usr/bin/false``).
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from affidavit.errors import InputError

PLATFORMS = ("linux", "macos")
ACCOUNT = "_affidavit"
CLIENTS = "affidavit"
UNIT_NAME = "affidavit.service"
LAUNCHD_LABEL = "affidavit.recorder"


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the service's files go on one platform (paths on the target system)."""

    platform: str
    state: PurePosixPath
    socket_dir: PurePosixPath
    config: PurePosixPath
    unit: PurePosixPath
    managed: PurePosixPath  # Claude Code's managed settings folder
    home_dirs: tuple[str, ...]  # per-user folders of direct mode, as ~/… permission paths
    root_group: str

    @property
    def ledger(self) -> PurePosixPath:
        return self.state / "ledger.sqlite"

    @property
    def key(self) -> PurePosixPath:
        return self.state / "signing.key"

    @property
    def socket(self) -> PurePosixPath:
        return self.socket_dir / "affidavit.sock"

    @property
    def manifest(self) -> PurePosixPath:
        return self.config / "install.json"


LAYOUTS = {
    "linux": Layout(
        "linux",
        state=PurePosixPath("/var/lib/affidavit"),
        socket_dir=PurePosixPath("/run/affidavit"),
        config=PurePosixPath("/etc/affidavit"),
        unit=PurePosixPath("/etc/systemd/system") / UNIT_NAME,
        managed=PurePosixPath("/etc/claude-code"),
        home_dirs=("~/.local/share/affidavit", "~/.config/affidavit", "~/.local/state/affidavit"),
        root_group="root",
    ),
    "macos": Layout(
        "macos",
        state=PurePosixPath("/var/db/affidavit"),
        socket_dir=PurePosixPath("/var/run/affidavit"),
        config=PurePosixPath("/etc/affidavit"),
        unit=PurePosixPath("/Library/LaunchDaemons") / f"{LAUNCHD_LABEL}.plist",
        managed=PurePosixPath("/Library/Application Support/ClaudeCode"),
        home_dirs=("~/Library/Application Support/affidavit", "~/Library/Logs/affidavit"),
        root_group="wheel",
    ),
}


def this_platform(name: str | None = None) -> str:
    """``linux`` or ``macos`` (the running system unless ``name``); Windows is refused."""
    raw = name or sys.platform
    if raw.startswith("linux"):
        return "linux"
    if raw in ("darwin", "macos"):
        return "macos"
    if raw in ("win32", "cygwin", "windows"):
        raise InputError(
            "installing the recorder service and managed settings on Windows is not supported "
            "yet; use `affidavit install --scope user` there (direct mode)"
        )
    raise InputError(f"no recorder service layout for platform {raw!r}; expected linux or macos")


@dataclass(frozen=True, slots=True)
class Step:
    """One thing install does. ``what``: account, group, folder, ledger, key, file or run."""

    what: str
    target: str
    mode: int | None = None
    owner: tuple[str, str] | None = None
    text: str | None = None  # a file's exact contents
    argv: tuple[str, ...] = ()  # the command that does it (accounts, service start)
    note: str = ""

    def show(self) -> str:
        """The step as ``--dry-run`` prints it: one line, then a file's contents indented."""
        head = f"{self.what:<8} {self.target}"
        if self.mode is not None:
            head += f"  mode {self.mode:04o}"
        if self.owner is not None:
            head += f"  owner {self.owner[0]}:{self.owner[1]}"
        if self.note:
            head += f"  ({self.note})"
        lines = [head]
        if self.argv:
            lines.append(f"    $ {shlex.join(self.argv)}")
        if self.text is not None:
            lines += [f"    | {line}".rstrip() for line in self.text.splitlines()]
        return "\n".join(lines) + "\n"


@dataclass(slots=True)
class Plan:
    layout: Layout
    account: str
    clients: str
    steps: list[Step] = field(default_factory=list)

    def show(self) -> str:
        return "".join(step.show() for step in self.steps)


def service_argv(python: str, layout: Layout) -> list[str]:
    """The command the unit runs (``-E``: no PYTHONPATH and friends from the environment)."""
    return [
        python,
        "-E",
        "-m",
        "affidavit",
        "service",
        "--ledger",
        str(layout.ledger),
        "--key",
        str(layout.key),
        "--socket",
        str(layout.socket),
    ]


def systemd_unit(python: str, layout: Layout, account: str, clients: str) -> str:
    """The unit: runs as the account, the socket folder made by systemd with the clients'
    group on every start, and the rest of the system read-only to the service."""
    return (
        "[Unit]\n"
        "Description=Affidavit recorder: the audit ledger of AI agents' file actions\n"
        "After=local-fs.target\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={shlex.join(service_argv(python, layout))}\n"
        f"User={account}\n"
        f"Group={clients}\n"
        "UMask=0077\n"
        f"RuntimeDirectory={layout.socket_dir.name}\n"
        "RuntimeDirectoryMode=0770\n"
        "RuntimeDirectoryPreserve=yes\n"
        f"ReadWritePaths={layout.state}\n"
        "ProtectSystem=strict\n"
        "ProtectHome=yes\n"
        "PrivateTmp=yes\n"
        "NoNewPrivileges=yes\n"
        "Restart=on-failure\n"
        "RestartSec=2\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def launchd_plist(python: str, layout: Layout, account: str, clients: str) -> str:
    """The launchd daemon: runs as the account at boot and again whenever it exits."""
    args = "".join(f"\t\t<string>{_xml(a)}</string>\n" for a in service_argv(python, layout))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" '
        '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
        '<plist version="1.0">\n'
        "<dict>\n"
        f"\t<key>Label</key>\n\t<string>{LAUNCHD_LABEL}</string>\n"
        f"\t<key>ProgramArguments</key>\n\t<array>\n{args}\t</array>\n"
        f"\t<key>UserName</key>\n\t<string>{_xml(account)}</string>\n"
        f"\t<key>GroupName</key>\n\t<string>{_xml(clients)}</string>\n"
        "\t<key>Umask</key>\n\t<integer>63</integer>\n"
        "\t<key>RunAtLoad</key>\n\t<true/>\n"
        "\t<key>KeepAlive</key>\n\t<true/>\n"
        f"\t<key>StandardErrorPath</key>\n\t<string>{layout.state}/service.log</string>\n"
        "</dict>\n"
        "</plist>\n"
    )


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def check_name(kind: str, name: str) -> str:
    """A portable account or group name (POSIX portable user names, at most 32)."""
    import re

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}", name):
        raise InputError(
            f"--{kind} {name!r}: not a portable {kind} name (letters, digits, '_', '.', '-'; "
            "not starting with a digit or '-'; at most 32 characters)"
        )
    return name
