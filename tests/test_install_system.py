"""``affidavit install --system`` / ``--scope managed``: the admin's rollout, for real.

The ``--dry-run`` plans are compared with golden files in ``assets/install/``, made from the
fixed arguments in :data:`GOLDEN` against an empty ``--root`` (regenerate one by running its
command line and saving stdout). The managed settings validate against the Claude Code
settings schema that SchemaStore publishes, read in place from ``../shared/vectors/``. Real
installs go into a temporary root prefix with its own account database (``useradd
--prefix``), so they need root and shadow-utils, as CI has.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from affidavit.capture import install as core
from affidavit.capture import managed, system
from affidavit.cli import run
from affidavit.errors import InputError
from affidavit.ledger import Ledger
from affidavit.record import Record
from conftest import ASSETS, shared_path

PYTHON = "/opt/affidavit/bin/python"
FIXED = ("--python", PYTHON, "--origin", "affidavit/golden")
GOLDEN = {
    "linux-system-managed.txt": ("--system", "--scope", "managed"),
    "macos-system-managed.txt": ("--system", "--scope", "managed", "--platform", "macos"),
    "linux-managed.txt": ("--scope", "managed"),
}


def cli(*args: str) -> int:
    return run(list(args))


def new_root(tmp_path: Path) -> Path:
    """An empty target system with an empty account database, as a fresh image has."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow"):
        for suffix in ("", "-"):  # the tools keep a backup of each; a real system has them
            (root / "etc" / (name + suffix)).write_text("", encoding="utf-8")
    return root


def needs_root_and_useradd() -> None:
    missing = []
    if os.geteuid() != 0:
        missing.append("root (chown to the service account)")
    if shutil.which("useradd") is None:
        missing.append("useradd (shadow-utils)")
    if missing:
        message = "needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI=true requires it")
        pytest.skip(message)


def ids(root: Path, table: str) -> dict[str, int]:
    text = (root / "etc" / table).read_text(encoding="utf-8")
    return {p[0]: int(p[2]) for p in (line.split(":") for line in text.splitlines()) if p[2:]}


def tree(root: Path) -> dict[str, tuple[int, int, int, bytes | None]]:
    """Every path under ``root``: mode, owner, group, and a file's bytes (the account
    tools' own ``-`` backups by name only: they hold the previous version by design)."""
    out: dict[str, tuple[int, int, int, bytes | None]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        backup = path.name.endswith("-") and path.parent.name == "etc"
        data = path.read_bytes() if path.is_file() and not backup else None
        out[str(path.relative_to(root))] = (st.st_mode, st.st_uid, st.st_gid, data)
    return out


# ---- dry run ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_dry_run_matches_the_golden_plan(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    assert cli("install", *GOLDEN[name], "--root", str(root), *FIXED, "--dry-run") == 0
    out, err = capsys.readouterr()
    assert out == (ASSETS / "install" / name).read_text(encoding="utf-8")
    assert err.startswith("dry run, nothing written: install would take ")
    assert list(root.iterdir()) == []


def test_golden_plans_name_no_machine_path() -> None:
    for name in GOLDEN:
        text = (ASSETS / "install" / name).read_text(encoding="utf-8")
        assert "/tmp" not in text and "/home/" not in text and "/work" not in text


def drop_in_of(plan_text: str) -> dict[str, Any]:
    """The managed drop-in's JSON as a dry-run plan prints it."""
    lines = plan_text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith("/affidavit.json  mode 0644")
                 or "managed-settings.d/affidavit.json" in line)  # fmt: skip
    body = []
    for line in lines[start + 1 :]:
        if not line.startswith("    |"):
            break
        body.append(line[6:])
    value = json.loads("\n".join(body))
    assert isinstance(value, dict)
    return value


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_managed_settings_validate_against_the_published_schema(name: str) -> None:
    schema = json.loads(
        shared_path("vectors", "claude-code-settings", "claude-code-settings.json").read_text(
            encoding="utf-8"
        )
    )
    validator = Draft7Validator(schema)
    document = drop_in_of((ASSETS / "install" / name).read_text(encoding="utf-8"))
    errors = [e.message for e in validator.iter_errors(document)]
    assert errors == []
    assert document["allowManagedHooksOnly"] is True
    assert set(document["hooks"]) == set(core.EVENTS)
    # The validator is not a rubber stamp: a wrong type and a malformed rule both fail it.
    assert not validator.is_valid({**document, "allowManagedHooksOnly": "yes"})
    assert not validator.is_valid({"permissions": {"deny": ["Delete(//var/lib/affidavit)"]}})


def test_deny_rules_cover_ledger_key_spool_and_config_for_every_tool() -> None:
    layout = system.LAYOUTS["linux"]
    rules = set(managed.deny_rules(layout))
    for folder in ("//var/lib/affidavit", "//etc/affidavit", "//run/affidavit"):
        for tool in ("Read", "Edit", "Write"):
            assert f"{tool}({folder}/**)" in rules
    assert "Bash(*/var/lib/affidavit*)" in rules
    for home in ("~/.local/share/affidavit", "~/.config/affidavit"):  # direct mode
        assert f"Read({home}/**)" in rules and f"Edit({home}/**)" in rules
    assert str(layout.ledger).startswith("/var/lib/affidavit/")
    assert str(layout.key).startswith("/var/lib/affidavit/")


def test_windows_is_not_supported_yet(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InputError, match="Windows is not supported yet"):
        system.this_platform("win32")
    monkeypatch.setattr(sys, "platform", "win32")
    assert cli("install", "--system", "--dry-run") == 2
    assert "on Windows is not supported yet" in capsys.readouterr().err


def test_another_platform_only_as_a_dry_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("install", "--system", "--platform", "macos") == 2
    assert "add --dry-run" in capsys.readouterr().err


def test_root_and_platform_need_an_admin_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("install", "--root", "x") == 2
    assert "--root and --platform go with --system or --scope managed" in capsys.readouterr().err
    assert cli("install", "--system", "--root", str(tmp_path / "nowhere"), "--dry-run") == 2
    assert f"--root {tmp_path / 'nowhere'}: no such folder" in capsys.readouterr().err


def test_a_non_administrator_is_told_to_use_sudo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert cli("install", "--system", "--root", str(tmp_path)) == 2
    assert "needs an administrator: run it with sudo" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_bad_account_names_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("install", "--system", "--root", str(tmp_path), "--user", "-rf", "--dry-run") == 2
    assert "--user '-rf': not a portable user name" in capsys.readouterr().err


# ---- real installs into a root prefix ------------------------------------------------------


def test_system_install_sets_modes_and_owners(tmp_path: Path) -> None:
    needs_root_and_useradd()
    root = new_root(tmp_path)
    args = ("--system", "--scope", "managed", "--root", str(root), *FIXED)
    assert cli("install", *args) == 0
    users, groups = ids(root, "passwd"), ids(root, "group")
    uid, own_gid, clients = users["_affidavit"], groups["_affidavit"], groups["affidavit"]

    def check(path: str, mode: int, owner: tuple[int, int]) -> None:
        st = (root / path.lstrip("/")).lstat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (mode, *owner), path

    check("/var/lib/affidavit", 0o700, (uid, own_gid))
    check("/var/lib/affidavit/ledger.sqlite", 0o600, (uid, own_gid))
    check("/var/lib/affidavit/signing.key", 0o600, (uid, own_gid))
    check("/run/affidavit", 0o770, (uid, clients))
    check("/etc/systemd/system/affidavit.service", 0o644, (0, 0))
    check("/etc/claude-code/managed-settings.d/affidavit.json", 0o644, (0, 0))
    check("/etc/affidavit/install.json", 0o644, (0, 0))
    shell = (root / "etc" / "passwd").read_text(encoding="utf-8").split(":")[-1].strip()
    assert shell == "/usr/sbin/nologin"
    # A real ledger under its own key: it opens, signs and verifies.
    ledger = root / "var/lib/affidavit/ledger.sqlite"
    with Ledger.open(ledger, key_path=root / "var/lib/affidavit/signing.key") as opened:
        assert opened.origin == "affidavit/golden"
        opened.seal()
        opened.verify()
    unit = (root / "etc/systemd/system/affidavit.service").read_text(encoding="utf-8")
    assert "User=_affidavit\nGroup=affidavit\n" in unit
    assert f"ExecStart={PYTHON} -E -m affidavit service --ledger /var/lib/affidavit" in unit


def test_install_twice_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    needs_root_and_useradd()
    root = new_root(tmp_path)
    args = ("install", "--system", "--scope", "managed", "--root", str(root), *FIXED)
    assert cli(*args) == 0
    before = tree(root)
    capsys.readouterr()
    assert cli(*args) == 0
    assert capsys.readouterr().err == f"already installed under {root.absolute()}\n"
    assert tree(root) == before


def test_install_then_uninstall_leaves_nothing_behind(tmp_path: Path) -> None:
    needs_root_and_useradd()
    root = new_root(tmp_path)
    before = tree(root)
    assert cli("install", "--system", "--scope", "managed", "--root", str(root), *FIXED) == 0
    assert len(tree(root)) > len(before) + 10
    assert cli("uninstall", "--system", "--scope", "managed", "--root", str(root)) == 0
    assert tree(root) == before


def test_uninstall_removes_only_what_install_wrote(tmp_path: Path) -> None:
    needs_root_and_useradd()
    root = new_root(tmp_path)
    (root / "etc/group").write_text("affidavit:x:4242:alice\n", encoding="utf-8")
    policy = root / "etc/claude-code/managed-settings.json"
    policy.parent.mkdir(parents=True)
    policy.write_text('{"permissions": {"deny": ["Read(./.env)"]}}\n', encoding="utf-8")
    (root / "var/lib").mkdir(parents=True)
    before = tree(root)
    assert cli("install", "--system", "--scope", "managed", "--root", str(root), *FIXED) == 0
    manifest = json.loads((root / "etc/affidavit/install.json").read_text(encoding="utf-8"))
    assert manifest["system"]["groups"] == ["_affidavit"]  # "affidavit" was there already
    assert "/var/lib" not in manifest["system"]["folders"]
    assert "/etc/claude-code" not in manifest["managed"]["folders"]
    assert cli("uninstall", "--system", "--scope", "managed", "--root", str(root)) == 0
    assert tree(root) == before


def test_uninstall_keeps_a_ledger_that_holds_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    needs_root_and_useradd()
    root = new_root(tmp_path)
    assert cli("install", "--system", "--scope", "managed", "--root", str(root), *FIXED) == 0
    state = root / "var/lib/affidavit"
    with Ledger.open(state / "ledger.sqlite", key_path=state / "signing.key") as opened:
        record = Record.create("agent.event", "test", {"n": 1}, time=datetime.now(UTC))
        opened.append([record])
    capsys.readouterr()
    assert cli("uninstall", "--system", "--scope", "managed", "--root", str(root)) == 0
    err = capsys.readouterr().err
    assert "kept /var/lib/affidavit/ledger.sqlite (holds 1 records: the evidence stays)" in err
    assert (state / "ledger.sqlite").exists() and (state / "signing.key").exists()
    assert "_affidavit" in ids(root, "passwd")
    assert not (root / "etc/systemd/system/affidavit.service").exists()
    assert not (root / "etc/claude-code").exists()
    left = json.loads((root / "etc/affidavit/install.json").read_text(encoding="utf-8"))
    assert set(left) == {"format", "platform", "folders", "system"}
    assert left["system"]["ledger"] == "/var/lib/affidavit/ledger.sqlite"
    # Once the evidence is archived and removed by hand, uninstall finishes the job.
    for path in state.iterdir():
        path.unlink()
    assert cli("uninstall", "--system", "--root", str(root)) == 0
    assert not (root / "var").exists() and not (root / "etc/affidavit").exists()
    assert ids(root, "passwd") == {} and ids(root, "group") == {}


def test_an_edited_unit_is_kept_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    needs_root_and_useradd()
    root = new_root(tmp_path)
    assert cli("install", "--system", "--root", str(root), *FIXED) == 0
    unit = root / "etc/systemd/system/affidavit.service"
    unit.write_text(unit.read_text(encoding="utf-8") + "# local change\n", encoding="utf-8")
    capsys.readouterr()
    assert cli("uninstall", "--system", "--root", str(root)) == 0
    assert "kept /etc/systemd/system/affidavit.service (changed since install)" in (
        capsys.readouterr().err
    )
    assert unit.exists()


def test_managed_drop_in_beside_an_existing_policy(tmp_path: Path) -> None:
    root = tmp_path / "root"
    base = root / "etc/claude-code/managed-settings.json"
    base.parent.mkdir(parents=True)
    base.write_text('{"permissions": {"deny": ["Read(./.env)"]}}\n', encoding="utf-8")
    assert cli("install", "--scope", "managed", "--root", str(root), "--python", PYTHON) == 0
    drop_in = root / "etc/claude-code/managed-settings.d/affidavit.json"
    document = json.loads(drop_in.read_text(encoding="utf-8"))
    assert document == managed.document(
        core.hook_command(PYTHON, socket=system.LAYOUTS["linux"].socket),
        system.LAYOUTS["linux"],
        events=core.EVENTS,
    )
    assert cli("uninstall", "--scope", "managed", "--root", str(root)) == 0
    assert not drop_in.parent.exists() and not (root / "etc/affidavit").exists()
    assert base.read_text(encoding="utf-8") == '{"permissions": {"deny": ["Read(./.env)"]}}\n'


def test_a_foreign_drop_in_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"
    foreign = root / "etc/claude-code/managed-settings.d/affidavit.json"
    foreign.parent.mkdir(parents=True)
    foreign.write_text('{"model": "opus"}\n', encoding="utf-8")
    assert cli("install", "--scope", "managed", "--root", str(root)) == 2
    assert "exists and is not Affidavit's; nothing was changed" in capsys.readouterr().err
    assert foreign.read_text(encoding="utf-8") == '{"model": "opus"}\n'
    assert sorted(p.name for p in (root / "etc").iterdir()) == ["claude-code"]


@pytest.mark.parametrize("name", ["linux-system-managed.txt", "macos-system-managed.txt"])
def test_the_managed_hooks_call_the_socket_the_service_listens_on(name: str) -> None:
    """The installed service and the hooks in managed settings must meet on one socket."""
    import re

    plan = (ASSETS / "install" / name).read_text(encoding="utf-8")
    hooks = set(re.findall(r"affidavit hook --socket (\S+?)\"", plan))
    served = set(re.findall(r"--socket (\S+?\.sock)\b", plan.split('"hooks"')[0]))
    served |= set(re.findall(r"<string>(\S+?\.sock)</string>", plan))
    assert len(hooks) == 1 and hooks == served, (hooks, served)
