"""Plan, apply and undo ``install --system`` (the layout and texts: :mod:`.system`).

The manifest (``<config>/install.json``, 0644, root's) lists what install created and
nothing else: the account and groups it added, the folders it made (parents included, so
an install into an empty ``--root`` is undone to the last folder), the files it wrote with
their SHA-256, and the ledger and key if it made them. Uninstall reads it back: a file whose
content changed since is kept and named; a ledger holding records is kept with its key,
folder and the account that owns them, and the manifest is rewritten to name just those.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

from affidavit.capture import system
from affidavit.capture.system import Layout, Plan, Step
from affidavit.errors import InputError
from affidavit.files import fsync_folder, write_atomically

MANIFEST_FORMAT = 1


def under(root: Path, path: PurePosixPath | str) -> Path:
    """``path`` of the target system inside ``root``."""
    return root / str(path).lstrip("/")


class Accounts:
    """Account and group lookups in the target system's database (``root``'s ``etc``)."""

    def __init__(self, root: Path, *, native: bool) -> None:
        self.root, self.native = root, native

    def _table(self, name: str) -> dict[str, int]:
        if not self.native:
            return {}
        try:
            text = under(self.root, f"/etc/{name}").read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        out: dict[str, int] = {}
        for line in text.splitlines():
            parts = line.split(":")
            if len(parts) > 2 and parts[2].isdigit():
                out[parts[0]] = int(parts[2])
        return out

    def uid(self, name: str) -> int | None:
        if name == "root":
            return 0  # also in a --root whose database does not list it
        if self.native and self.root == Path("/"):
            import pwd

            try:
                return pwd.getpwnam(name).pw_uid
            except KeyError:
                return None
        return self._table("passwd").get(name)

    def gid(self, name: str) -> int | None:
        if name in ("root", "wheel"):
            return 0
        if self.native and self.root == Path("/"):
            import grp

            try:
                return grp.getgrnam(name).gr_gid
            except KeyError:
                return None
        return self._table("group").get(name)

    def ids(self, owner: tuple[str, str]) -> tuple[int, int]:
        uid, gid = self.uid(owner[0]), self.gid(owner[1])
        if uid is None or gid is None:
            raise InputError(f"owner {owner[0]}:{owner[1]} is not in the account database")
        return uid, gid


def load_manifest(root: Path, layout: Layout) -> dict[str, Any] | None:
    path = under(root, layout.manifest)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not an install manifest ({e}); nothing was changed") from e
    if not isinstance(value, dict) or value.get("format") != MANIFEST_FORMAT:
        raise InputError(f"{path}: not an install manifest of this version; nothing was changed")
    return value


def plan_install(
    layout: Layout,
    *,
    root: Path,
    account: str,
    clients: str,
    python: str,
    origin: str | None,
    native: bool,
) -> Plan:
    """The steps that bring ``root`` to an installed service, skipping what is there."""
    db = Accounts(root, native=native)
    old = load_manifest(root, layout) if native else None
    made: dict[str, Any] = {"groups": [], "folders": [], "files": {}}
    plan = Plan(layout, account, clients)
    add = plan.steps.append
    linux = layout.platform == "linux"
    for group, label in ((account, "the service account"), (clients, "its clients")):
        if db.gid(group) is None and group not in made["groups"]:
            argv = ["groupadd", "--system", group] if linux else _dseditgroup(group, label)
            add(Step("group", group, argv=tuple(argv), note=label))
            made["groups"].append(group)
    if db.uid(account) is None:
        add(Step("account", account, argv=tuple(_useradd(layout, account)), note="system user"))
        made["account"] = account
    own = (account, account)
    folders = [
        (layout.state, 0o700, own),
        (layout.socket_dir, 0o770, (account, clients)),
        (layout.config, 0o755, ("root", layout.root_group)),
    ]
    if native:  # a system folder on the real platform, not made unless missing (a --root)
        folders.append((layout.unit.parent, 0o755, ("root", layout.root_group)))
    shared: list[str] = []  # the config folder: the manifest's own, shared with managed
    for folder, mode, owner in folders:
        into = shared if folder == layout.config else made["folders"]
        folder_steps(plan, root, folder, mode, owner, into, native=native)
    ledger, key = under(root, layout.ledger), under(root, layout.key)
    if ledger.exists() != key.exists():
        have, lack = (ledger, key) if ledger.exists() else (key, ledger)
        raise InputError(f"{have} exists but {lack} does not; move it away, nothing was changed")
    if not ledger.exists():
        shown = origin or "affidavit/<host name>/<random>"
        add(Step("ledger", str(layout.ledger), 0o600, own, note=f"new ledger, origin {shown}"))
        add(Step("key", str(layout.key), 0o600, own, note="new Ed25519 signing key"))
        made["ledger"], made["key"] = str(layout.ledger), str(layout.key)
    make = system.systemd_unit if linux else system.launchd_plist
    text = make(python, layout, account, clients)
    unit = under(root, layout.unit)
    before = unit.read_text(encoding="utf-8") if native and unit.exists() else None
    if before != text:
        ours = old is not None and str(layout.unit) in old.get("files", {})
        if before is not None and not ours:
            raise InputError(f"{unit} exists and is not Affidavit's; nothing was changed")
        add(Step("file", str(layout.unit), 0o644, ("root", layout.root_group), text=text))
    made["files"][str(layout.unit)] = sha_text(text)
    add(manifest_step(layout, old, "system", made, shared))
    if root == Path("/"):
        for argv in _start(layout):
            add(Step("run", argv[0], argv=tuple(argv)))
    return plan


def _useradd(layout: Layout, account: str) -> list[str]:
    if layout.platform == "linux":
        return ["useradd", "--system", "--gid", account, "--no-create-home", "--home-dir",
                str(layout.state), "--shell", "/usr/sbin/nologin", "--comment",
                "Affidavit recorder", account]  # fmt: skip
    return ["dscl", ".", "-create", f"/Users/{account}"]  # ids and attributes: _macos_account


def _dseditgroup(group: str, label: str) -> list[str]:
    return ["dseditgroup", "-o", "create", "-r", f"Affidavit: {label}", group]


def _start(layout: Layout) -> list[list[str]]:
    if layout.platform == "linux":
        return [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", system.UNIT_NAME]]
    return [["launchctl", "bootstrap", "system", str(layout.unit)]]


def stop_argv(layout: Layout) -> list[str]:
    if layout.platform == "linux":
        return ["systemctl", "disable", "--now", system.UNIT_NAME]
    return ["launchctl", "bootout", f"system/{system.LAUNCHD_LABEL}"]


def sha_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def folder_steps(
    plan: Plan,
    root: Path,
    folder: PurePosixPath,
    mode: int,
    owner: tuple[str, str],
    made: list[str],
    *,
    native: bool,
) -> None:
    """Steps making ``folder`` and any missing parent (0755, root's), noted in ``made``."""
    for parent in reversed([folder, *folder.parents][:-1]):  # from the top, "/" left out
        top = parent == folder
        exists = under(root, parent).is_dir() if native else not top
        if exists or str(parent) in made or any(s.target == str(parent) for s in plan.steps):
            continue
        shape = (mode, owner) if top else (0o755, ("root", plan.layout.root_group))
        plan.steps.append(Step("folder", str(parent), *shape))
        made.append(str(parent))


def manifest_step(
    layout: Layout,
    old: dict[str, Any] | None,
    section: str,
    made: dict[str, Any],
    shared: list[str],
) -> Step:
    """The manifest with ``section`` (system or managed) merged into what it held before."""
    doc: dict[str, Any] = dict(old or {"format": MANIFEST_FORMAT, "platform": layout.platform})
    doc["folders"] = list(dict.fromkeys([*doc.get("folders", []), *shared]))
    prev = doc.get(section, {})
    new: dict[str, Any] = {}
    for key, value in made.items():
        if isinstance(value, list):
            new[key] = list(dict.fromkeys([*prev.get(key, []), *value]))
        elif isinstance(value, dict):
            new[key] = {**prev.get(key, {}), **value}
        else:
            new[key] = prev.get(key) or value
    doc[section] = {**prev, **new}
    return Step(
        "file",
        str(layout.manifest),
        0o644,
        ("root", layout.root_group),
        text=json.dumps(doc, indent=2) + "\n",
        note="what uninstall removes",
    )


# ---- apply ----------------------------------------------------------------------------------


def apply_install(plan: Plan, *, root: Path, origin: str | None) -> list[str]:
    """Run the plan; returns notes for the summary (a service not started, and why)."""
    db = Accounts(root, native=True)
    notes: list[str] = []
    for step in _manifest_first(plan):
        try:
            if _apply(step, plan, root=root, origin=origin, db=db, notes=notes):
                break
        except PermissionError as e:
            raise InputError(
                f"cannot write {step.target}: {e.strerror or 'permission denied'}; the service "
                "and managed settings need an administrator (run the command with sudo), or "
                "name a settings file you may write with --settings"
            ) from e
    return notes


def _apply(
    step: Step, plan: Plan, *, root: Path, origin: str | None, db: Accounts, notes: list[str]
) -> bool:
    """Do one step; True to stop (the service cannot be started here)."""
    from affidavit.ledger import Ledger

    layout = plan.layout
    if step.what in ("group", "account"):
        run_tool(with_root(list(step.argv), root, layout))
        if step.what == "account" and layout.platform == "macos":
            _macos_account(step.target, plan.account)
    elif step.what == "folder":
        path = under(root, step.target)
        path.mkdir(mode=0o700)
        _own(path, step, db)
        fsync_folder(path.parent)
    elif step.what == "ledger":
        ledger, key = under(root, layout.ledger), under(root, layout.key)
        Ledger.create(ledger, origin=origin or _origin(), key_path=key).close()
        for path in (ledger, Path(f"{ledger}-wal"), Path(f"{ledger}-shm"), key):
            if path.exists():
                _own(path, step, db)
    elif step.what == "file":
        assert step.text is not None and step.mode is not None and step.owner is not None
        write_atomically(under(root, step.target), step.text, mode=step.mode,
                         owner=db.ids(step.owner))  # fmt: skip
    elif step.what == "run":
        if step.argv[0] == "systemctl" and not os.path.isdir("/run/systemd/system"):
            notes.append("systemd is not running here; start the service at boot with: "
                         f"systemctl enable --now {system.UNIT_NAME}")  # fmt: skip
            return True
        run_tool(list(step.argv))
    return False


def _manifest_first(plan: Plan) -> list[Step]:
    """The steps with the manifest (and its folders) first: an install that stops half way
    is then undone by uninstall too, which skips what is not there."""
    manifest = str(plan.layout.manifest)
    first = [s for s in plan.steps if s.what == "folder" and manifest.startswith(s.target + "/")]
    first += [s for s in plan.steps if s.target == manifest]
    return first + [s for s in plan.steps if s not in first]


def _origin() -> str:
    """As ``affidavit init`` names a ledger: the host, and random bytes to tell two apart."""
    import socket

    host = "".join(c if c.isalnum() or c in ".-" else "-" for c in socket.gethostname())
    return f"affidavit/{host or 'host'}/{os.urandom(4).hex()}"


def _own(path: Path, step: Step, db: Accounts) -> None:
    assert step.mode is not None and step.owner is not None
    os.chown(path, *db.ids(step.owner), follow_symlinks=False)
    os.chmod(path, step.mode)


def with_root(argv: list[str], root: Path, layout: Layout) -> list[str]:
    if root == Path("/"):
        return argv
    if layout.platform != "linux":
        raise InputError("--root cannot hold macOS accounts; create them on the machine")
    return [argv[0], "--prefix", str(root), *argv[1:]]


def _macos_account(name: str, account: str) -> None:
    """The attributes of a new hidden system user on macOS, with the first free id ≥ 200."""
    listing = run_tool(["dscl", ".", "-list", "/Users", "UniqueID"])
    taken = {int(p[-1]) for p in (line.split() for line in listing.splitlines()) if p[-1:]}
    uid = next(i for i in range(200, 500) if i not in taken)
    gid = run_tool(["dscl", ".", "-read", f"/Groups/{account}", "PrimaryGroupID"]).split()[-1]
    for key, value in (("UniqueID", str(uid)), ("PrimaryGroupID", gid),
                       ("UserShell", "/usr/bin/false"), ("NFSHomeDirectory", "/var/empty"),
                       ("RealName", "Affidavit recorder"), ("IsHidden", "1")):  # fmt: skip
        run_tool(["dscl", ".", "-create", f"/Users/{name}", key, value])


def run_tool(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        raise InputError(f"`{argv[0]}` is not installed; it is needed to {argv[1:3]}")
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        raise InputError(f"`{' '.join(argv)}` failed: {why[0] if why else done.returncode}")
    return done.stdout
