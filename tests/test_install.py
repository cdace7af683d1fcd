"""``affidavit install`` / ``uninstall`` against copies of realistic Claude Code settings files.

The assets in ``assets/settings/`` follow the shapes of the Claude Code settings and hooks
reference: a user file with other tools' hooks (a ``Bash`` PreToolUse matcher, a PostToolUse
group with two commands), a hand-edited project file with 4-space indent, inline arrays,
non-ASCII text and no final newline, an empty ``{}``, and one that is not valid JSON.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from affidavit.capture import install as core
from affidavit.cli import run
from affidavit.errors import InputError

SETTINGS = Path(__file__).resolve().parent / "assets" / "settings"
VALID = ["user-with-other-hooks.json", "project-4-space-indent.json", "empty.json"]
COMMAND = core.hook_command("/opt/affidavit/venv/bin/python")


def copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / ".claude" / "settings.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SETTINGS / name, target)
    return target


def load(path: Path) -> dict[str, Any]:
    value = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(value, dict)
    return value


def ours(settings: dict[str, Any]) -> dict[str, list[str]]:
    """Event → the affidavit commands registered on it."""
    found: dict[str, list[str]] = {}
    for event, groups in settings.get("hooks", {}).items():
        for group in groups:
            for hook in group["hooks"]:
                if core.MARKER in hook.get("command", ""):
                    found.setdefault(event, []).append(hook["command"])
    return found


def others(settings: dict[str, Any]) -> dict[str, list[Any]]:
    """The hooks tree with affidavit's entries (and the groups holding only them) removed."""
    out: dict[str, list[Any]] = {}
    for event, groups in settings.get("hooks", {}).items():
        kept = []
        for group in groups:
            rest = [h for h in group["hooks"] if core.MARKER not in h.get("command", "")]
            if rest:
                kept.append({**group, "hooks": rest})
        if kept:
            out[event] = kept
    return out


def cli(*args: str) -> int:
    return run(list(args))


# ---- merge ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", VALID)
def test_install_adds_one_hook_per_event_and_keeps_everything_else(
    name: str, tmp_path: Path
) -> None:
    path = copy(name, tmp_path)
    before = load(path)
    change = core.install_settings(path, COMMAND)
    after = load(path)
    assert change.changed and change.added == len(core.EVENTS)
    assert ours(after) == {event: [COMMAND] for event in core.EVENTS}
    assert others(after) == before.get("hooks", {})
    assert {k: v for k, v in after.items() if k != "hooks"} == {
        k: v for k, v in before.items() if k != "hooks"
    }
    assert [k for k in after if k != "hooks"] == [k for k in before if k != "hooks"]


def test_matcher_only_on_tool_events(tmp_path: Path) -> None:
    path = copy("empty.json", tmp_path)
    core.install_settings(path, COMMAND)
    for event, groups in load(path)["hooks"].items():
        (group,) = groups
        assert ("matcher" in group) == (event in core.TOOL_EVENTS)
        assert group.get("matcher", "*") == "*"
        (hook,) = group["hooks"]
        assert hook == {"type": "command", "command": COMMAND, "timeout": core.TIMEOUT}


def test_other_tools_hooks_stay_in_place(tmp_path: Path) -> None:
    path = copy("user-with-other-hooks.json", tmp_path)
    core.install_settings(path, COMMAND)
    hooks = load(path)["hooks"]
    assert hooks["PreToolUse"][0]["matcher"] == "Bash"
    assert [h["command"] for h in hooks["PostToolUse"][0]["hooks"]] == [
        "jq -r '.tool_input.file_path' | xargs npx prettier --write",
        "jq -r '.tool_input.file_path' | xargs npx eslint --fix",
    ]
    assert hooks["PreToolUse"][1]["hooks"][0]["command"] == COMMAND


def test_keeps_the_files_indent_and_newline_style(tmp_path: Path) -> None:
    path = copy("project-4-space-indent.json", tmp_path)
    core.install_settings(path, COMMAND)
    text = path.read_text(encoding="utf-8")
    assert text.startswith('{\n    "$schema"')
    assert not text.endswith("\n")
    assert "Recherche & Développement" in text


@pytest.mark.parametrize("name", [*VALID, None])
def test_install_twice_is_install_once(name: str | None, tmp_path: Path) -> None:
    path = copy(name, tmp_path) if name else tmp_path / "settings.json"
    core.install_settings(path, COMMAND)
    once = path.read_bytes()
    again = core.install_settings(path, COMMAND)
    assert not again.changed and again.added == 0
    assert path.read_bytes() == once


def test_new_interpreter_replaces_the_old_entries(tmp_path: Path) -> None:
    path = copy("user-with-other-hooks.json", tmp_path)
    core.install_settings(path, COMMAND)
    newer = core.hook_command("/home/ann/.venvs/affidavit-2/bin/python")
    change = core.install_settings(path, newer)
    assert change.added == len(core.EVENTS) and change.removed == len(core.EVENTS)
    assert ours(load(path)) == {event: [newer] for event in core.EVENTS}


def test_an_entry_with_our_exact_command_is_kept_as_it_is(tmp_path: Path) -> None:
    path = copy("empty.json", tmp_path)
    core.install_settings(path, COMMAND)
    settings = load(path)
    settings["hooks"]["Stop"][0]["hooks"][0]["timeout"] = 5  # the admin tuned it
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    assert not core.install_settings(path, COMMAND).changed
    assert load(path)["hooks"]["Stop"][0]["hooks"][0]["timeout"] == 5


def test_all_events_adds_the_newer_events(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    core.install_settings(path, COMMAND, events=core.EVENTS + core.NEWER_EVENTS)
    assert set(ours(load(path))) == set(core.EVENTS + core.NEWER_EVENTS)
    # a plain reinstall keeps (and would update) the newer events instead of dropping them
    assert not core.install_settings(path, COMMAND).changed
    assert core.install_settings(path, COMMAND + " ").added == len(core.EVENTS + core.NEWER_EVENTS)


def test_missing_file_and_folder_are_created(tmp_path: Path) -> None:
    path = tmp_path / "project" / ".claude" / "settings.json"
    change = core.install_settings(path, COMMAND)
    assert change.before is None and path.exists()
    assert set(load(path)) == {"hooks"}
    assert not (path.parent / ("settings.json" + core.BACKUP_SUFFIX)).exists()


# ---- dry run, bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("name", [*VALID, None])
def test_dry_run_writes_nothing_and_shows_a_diff(name: str | None, tmp_path: Path) -> None:
    path = copy(name, tmp_path) if name else tmp_path / ".claude" / "settings.json"
    listing = sorted(tmp_path.rglob("*"))
    before = path.read_bytes() if name else None
    change = core.install_settings(path, COMMAND, dry_run=True)
    assert sorted(tmp_path.rglob("*")) == listing
    assert (path.read_bytes() if name else None) == before
    diff = change.diff()
    assert diff.count(f"+{' ' * 12}") > 0 and COMMAND.replace('"', '\\"') in diff
    assert diff.splitlines()[0] == ("--- /dev/null" if name is None else f"--- {path}")


def test_bad_json_is_refused_with_file_and_line_and_left_alone(tmp_path: Path) -> None:
    path = copy("trailing-comma.json", tmp_path)
    before = path.read_bytes()
    with pytest.raises(InputError) as e:
        core.install_settings(path, COMMAND)
    assert str(e.value).startswith(f"{path}:6:")
    assert "not valid JSON" in str(e.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("[1, 2]\n", "expected a JSON object"), ('{"hooks": []}', '"hooks" is not an object')],
)
def test_wrong_shapes_are_refused(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        core.install_settings(path, COMMAND)
    assert path.read_text(encoding="utf-8") == text


def test_cli_refuses_bad_json_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copy("trailing-comma.json", tmp_path)
    before = path.read_bytes()
    assert cli("install", "--settings", str(path)) == 2
    assert f"{path}:6:" in capsys.readouterr().err
    assert path.read_bytes() == before


# ---- uninstall and the round trip -----------------------------------------------------------


@pytest.mark.parametrize("name", VALID)
def test_round_trip_is_byte_identical(name: str, tmp_path: Path) -> None:
    path = copy(name, tmp_path)
    original = path.read_bytes()
    mode = path.stat().st_mode
    core.install_settings(path, COMMAND)
    core.install_settings(path, core.hook_command("/usr/local/bin/python3.12"))  # an upgrade
    change = core.uninstall_settings(path)
    assert change.removed == len(core.EVENTS)
    assert path.read_bytes() == original
    assert path.stat().st_mode == mode
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json"]


def test_round_trip_of_a_missing_file_removes_it_again(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    core.install_settings(path, COMMAND)
    change = core.uninstall_settings(path)
    assert change.after is None and not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_uninstall_after_user_edits_keeps_them_and_removes_only_ours(tmp_path: Path) -> None:
    path = copy("project-4-space-indent.json", tmp_path)
    original = load(path)
    core.install_settings(path, COMMAND)
    edited = load(path)
    edited["model"] = "opus"
    edited["hooks"]["PostToolUse"].insert(
        0, {"matcher": "Write", "hooks": [{"type": "command", "command": "make fmt"}]}
    )
    path.write_text(json.dumps(edited, indent=4, ensure_ascii=False), encoding="utf-8")
    core.uninstall_settings(path)
    after = load(path)
    assert ours(after) == {}
    assert after["model"] == "opus"
    assert after["hooks"] == {
        "PostToolUse": [{"matcher": "Write", "hooks": [{"type": "command", "command": "make fmt"}]}]
    }
    assert {k: v for k, v in after.items() if k not in ("hooks", "model")} == {
        k: v for k, v in original.items() if k != "model"
    }
    assert path.read_text(encoding="utf-8").startswith('{\n    "')
    assert not (path.parent / ("settings.json" + core.BACKUP_SUFFIX)).exists()


def test_uninstall_leaves_a_hook_the_user_put_in_our_group(tmp_path: Path) -> None:
    path = copy("user-with-other-hooks.json", tmp_path)
    core.install_settings(path, COMMAND)
    settings = load(path)
    theirs = {"type": "command", "command": "logger stop"}
    settings["hooks"]["Stop"][0]["hooks"].append(theirs)
    path.write_text(json.dumps(settings, indent=2), encoding="utf-8")
    core.uninstall_settings(path)
    assert load(path)["hooks"]["Stop"] == [{"hooks": [theirs]}]


def test_uninstall_of_a_file_without_our_hooks_changes_nothing(tmp_path: Path) -> None:
    path = copy("user-with-other-hooks.json", tmp_path)
    before = path.read_bytes()
    assert not core.uninstall_settings(path).changed
    assert path.read_bytes() == before
    assert not core.uninstall_settings(tmp_path / "absent.json").changed


def test_uninstall_dry_run_writes_nothing(tmp_path: Path) -> None:
    path = copy("user-with-other-hooks.json", tmp_path)
    core.install_settings(path, COMMAND)
    installed = sorted((p.name, p.read_bytes()) for p in path.parent.iterdir())
    change = core.uninstall_settings(path, dry_run=True)
    assert change.changed and change.removed == len(core.EVENTS)
    assert sorted((p.name, p.read_bytes()) for p in path.parent.iterdir()) == installed
    assert change.after == (SETTINGS / "user-with-other-hooks.json").read_text(encoding="utf-8")


def test_plan_functions_are_pure_text(tmp_path: Path) -> None:
    text = (SETTINGS / "user-with-other-hooks.json").read_text(encoding="utf-8")
    plan = core.plan_install(text, COMMAND)
    assert plan is not None and plan.text is not None
    assert core.plan_install(plan.text, COMMAND) is None
    back = core.plan_uninstall(plan.text, original=text)
    assert back is not None and back.text == text
    assert core.plan_uninstall(text) is None
    assert core.plan_uninstall(None) is None


def test_a_symlinked_settings_file_is_written_through_the_link(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "claude-settings.json"
    real.parent.mkdir()
    shutil.copyfile(SETTINGS / "user-with-other-hooks.json", real)
    link = copy("empty.json", tmp_path)
    link.unlink()
    link.symlink_to(real)
    core.install_settings(link, COMMAND)
    assert link.is_symlink() and ours(load(real))
    core.uninstall_settings(link)
    assert link.is_symlink()
    assert real.read_bytes() == (SETTINGS / "user-with-other-hooks.json").read_bytes()


# ---- the command ----------------------------------------------------------------------------


def test_hook_command_uses_this_absolute_interpreter() -> None:
    python = core.interpreter()
    assert os.path.isabs(python) and os.access(python, os.X_OK)
    assert Path(python).exists()
    assert os.path.samefile(python, sys.executable)
    args = shlex.split(core.hook_command(python))
    assert args == [python, "-E", "-P", "-m", "affidavit", "hook"]


def test_hook_command_quotes_paths_with_spaces() -> None:
    command = core.hook_command("/Users/Ann Lee/venv/bin/python", Path("/Volumes/Audit Disk/l.db"))
    assert shlex.split(command) == [
        "/Users/Ann Lee/venv/bin/python",
        "-E",
        "-P",
        "-m",
        "affidavit",
        "hook",
        "--ledger",
        "/Volumes/Audit Disk/l.db",
    ]
    assert core.MARKER in command


def test_a_version_manager_shim_is_refused(tmp_path: Path) -> None:
    shim = tmp_path / "shims" / "python"
    shim.parent.mkdir()
    shim.write_text('#!/usr/bin/env bash\nexec pyenv exec "$0" "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    with pytest.raises(InputError, match="shim"):
        core.interpreter(str(shim))
    script = tmp_path / "python"
    script.write_bytes(shim.read_bytes())
    script.chmod(0o755)
    with pytest.raises(InputError, match="shim"):
        core.interpreter(str(script))


def test_the_installed_command_runs_the_hook(tmp_path: Path) -> None:
    """The command line exactly as Claude Code runs it: through a shell, event on stdin.

    Needs ``affidavit.capture.hook`` (``run_hook``), which must exit 0 whatever happens.
    """
    path = tmp_path / "settings.json"
    ledger = tmp_path / "l.sqlite"
    core.install_settings(path, core.hook_command(core.interpreter(), ledger))
    command = load(path)["hooks"]["PostToolUse"][0]["hooks"][0]["command"]
    work = tmp_path / "project"
    work.mkdir()
    (work / "notes.txt").write_text("hello\n", encoding="utf-8")
    event = {
        "session_id": "3f1c2a9e-0000-4000-8000-000000000001",
        "transcript_path": str(tmp_path / "transcript.jsonl"),
        "cwd": str(work),
        "permission_mode": "default",
        "hook_event_name": "PostToolUse",
        "tool_name": "Write",
        "tool_input": {"file_path": str(work / "notes.txt"), "content": "hello\n"},
        "tool_response": {"filePath": str(work / "notes.txt"), "success": True},
        "tool_use_id": "toolu_01TEST",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFFIDAVIT_")}
    done = subprocess.run(
        ["bash", "-c", command],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        cwd=work,
        env={**env, "HOME": str(tmp_path)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_a_package_in_the_agents_folder_cannot_shadow_affidavit(tmp_path: Path) -> None:
    fake = tmp_path / "affidavit"
    fake.mkdir()
    (fake / "__init__.py").write_text("", encoding="utf-8")
    (fake / "__main__.py").write_text(
        "import pathlib; pathlib.Path('hijacked').write_text('x')\n", encoding="utf-8"
    )
    command = core.hook_command(core.interpreter(), tmp_path / "l.sqlite")
    subprocess.run(
        ["bash", "-c", command], input=b"{}", capture_output=True, cwd=tmp_path, timeout=120
    )
    assert not (tmp_path / "hijacked").exists()


# ---- scopes ---------------------------------------------------------------------------------


def test_scope_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert core.settings_path("user") == tmp_path / ".claude" / "settings.json"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "cfg"))
    assert core.settings_path("user") == tmp_path / "cfg" / "settings.json"
    assert core.settings_path("project", project=tmp_path) == tmp_path / ".claude/settings.json"
    monkeypatch.chdir(tmp_path)
    assert core.settings_path("project") == tmp_path / ".claude" / "settings.json"
    drop_in = Path("managed-settings.d") / "affidavit.json"
    assert core.settings_path("managed", platform="linux") == Path("/etc/claude-code") / drop_in
    assert (
        core.settings_path("managed", platform="darwin")
        == Path("/Library/Application Support/ClaudeCode") / drop_in
    )
    assert core.settings_path("managed", platform="win32") == Path(
        "C:/Program Files/ClaudeCode"
    ) / (drop_in)
    with pytest.raises(InputError, match="--settings"):
        core.settings_path("managed", platform="sunos5")


def test_managed_without_permission_says_sudo_or_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root"
    root.mkdir()

    def denied(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    # Tests may run as root, where chmod does not stop a write; fail the rename instead.
    monkeypatch.setattr(os, "replace", denied)
    assert cli("install", "--scope", "managed", "--root", str(root)) == 2
    err = capsys.readouterr().err
    assert "cannot write /etc/" in err and "sudo" in err and "--settings" in err
    assert not list(root.rglob("*.json"))


def test_managed_scope_writes_and_removes_a_drop_in(tmp_path: Path) -> None:
    # More in tests/test_install_system.py: the drop-in is the managed install's own file.
    root = tmp_path / "root"
    managed = root / "etc" / "claude-code"
    managed.mkdir(parents=True)
    base = managed / "managed-settings.json"
    base.write_text('{"permissions": {"deny": ["Read(./.env)"]}}\n', encoding="utf-8")
    assert cli("install", "--scope", "managed", "--root", str(root)) == 0
    drop_in = managed / "managed-settings.d" / "affidavit.json"
    assert set(ours(load(drop_in))) == set(core.EVENTS)
    assert cli("uninstall", "--scope", "managed", "--root", str(root)) == 0
    assert not drop_in.exists()
    assert base.read_text(encoding="utf-8") == '{"permissions": {"deny": ["Read(./.env)"]}}\n'


# ---- CLI ------------------------------------------------------------------------------------


def test_cli_install_uninstall_messages_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AFFIDAVIT_LEDGER", raising=False)
    path = copy("user-with-other-hooks.json", tmp_path)
    original = path.read_bytes()
    assert cli("install", "--settings", str(path)) == 0
    assert capsys.readouterr().err == f"added {len(core.EVENTS)} hooks to {path}\n"
    assert cli("install", "--settings", str(path)) == 0
    assert capsys.readouterr().err == f"already installed in {path}\n"
    assert cli("uninstall", "--settings", str(path), "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["changed"] and out["files"][0]["removed"] == len(core.EVENTS)
    assert path.read_bytes() == original
    assert cli("uninstall", "--settings", str(path)) == 0
    assert capsys.readouterr().err == f"not installed in {path}\n"


def test_cli_dry_run_prints_the_diff_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copy("project-4-space-indent.json", tmp_path)
    before = path.read_bytes()
    assert cli("install", "--settings", str(path), "--dry-run") == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"--- {path}\n+++ {path}\n@@")
    assert "dry run" in err and "would have added" in err
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json"]


def test_cli_bakes_in_the_ledger_only_when_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AFFIDAVIT_LEDGER", raising=False)
    path = tmp_path / "settings.json"
    assert cli("install", "--settings", str(path), "--json") == 0
    assert "--ledger" not in json.loads(capsys.readouterr().out)["command"]
    ledger = tmp_path / "audit" / "ledger.sqlite"
    assert cli("--ledger", str(ledger), "install", "--settings", str(path), "--json") == 0
    command = json.loads(capsys.readouterr().out)["command"]
    assert shlex.split(command)[-2:] == ["--ledger", str(ledger)]
    assert ours(load(path)) == {event: [command] for event in core.EVENTS}
    monkeypatch.setenv("AFFIDAVIT_LEDGER", str(tmp_path / "env.sqlite"))
    assert cli("install", "--settings", str(path), "--json") == 0
    assert shlex.split(json.loads(capsys.readouterr().out)["command"])[-1] == str(
        tmp_path / "env.sqlite"
    )


def test_cli_project_scope(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("install", "--project", str(tmp_path)) == 0
    path = tmp_path / ".claude" / "settings.json"
    assert set(ours(load(path))) == set(core.EVENTS)
    assert cli("uninstall", "--scope", "project", "--project", str(tmp_path)) == 0
    assert not path.exists()


def test_cli_user_scope_uses_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli("install") == 0
    assert set(ours(load(tmp_path / ".claude" / "settings.json"))) == set(core.EVENTS)


@pytest.mark.parametrize(
    "args",
    [
        ["--plugin", "p", "--scope", "user"],
        ["--settings", "s.json", "--scope", "project"],
        ["--project", ".", "--scope", "managed"],
    ],
)
def test_cli_rejects_mixed_targets(args: list[str], tmp_path: Path) -> None:
    assert cli("install", *args) == 2
    assert list(tmp_path.iterdir()) == []


# ---- plugin ---------------------------------------------------------------------------------


def test_plugin_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plugin = tmp_path / "affidavit-plugin"
    assert cli("install", "--plugin", str(plugin)) == 0
    assert capsys.readouterr().err == f"added {len(core.EVENTS)} hooks to {plugin}\n"
    manifest = load(plugin / ".claude-plugin" / "plugin.json")
    assert manifest["name"] == "affidavit" and manifest["version"]
    hooks = load(plugin / "hooks" / "hooks.json")
    assert set(hooks["hooks"]) == set(core.EVENTS)
    for groups in hooks["hooks"].values():
        (group,) = groups
        (hook,) = group["hooks"]
        assert hook["type"] == "command"
        python = shlex.split(hook["command"])[0]
        assert os.path.isabs(python) and os.access(python, os.X_OK)
        assert "CLAUDE_PLUGIN_ROOT" not in hook["command"]
    assert sorted(str(p.relative_to(plugin)) for p in plugin.rglob("*") if p.is_file()) == [
        ".claude-plugin/plugin.json",
        "hooks/hooks.json",
    ]
    assert cli("install", "--plugin", str(plugin)) == 0
    assert capsys.readouterr().err == f"already installed in {plugin}\n"
    assert cli("uninstall", "--plugin", str(plugin)) == 0
    assert not plugin.exists()


def test_plugin_refuses_to_overwrite_what_is_not_ours(tmp_path: Path) -> None:
    plugin = tmp_path / "formatter"
    (plugin / ".claude-plugin").mkdir(parents=True)
    manifest = plugin / ".claude-plugin" / "plugin.json"
    manifest.write_text('{"name": "formatter", "version": "1.0.0"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="not Affidavit's"):
        core.install_plugin(plugin, COMMAND)
    with pytest.raises(InputError, match="not Affidavit's"):
        core.uninstall_plugin(plugin)
    assert manifest.read_text(encoding="utf-8") == '{"name": "formatter", "version": "1.0.0"}\n'
    assert not (plugin / "hooks").exists()


def test_plugin_refuses_foreign_hooks_file(tmp_path: Path) -> None:
    plugin = tmp_path / "mixed"
    (plugin / "hooks").mkdir(parents=True)
    hooks_file = plugin / "hooks" / "hooks.json"
    shutil.copyfile(SETTINGS / "user-with-other-hooks.json", hooks_file)
    with pytest.raises(InputError, match="not Affidavit's"):
        core.install_plugin(plugin, COMMAND)
    assert hooks_file.read_bytes() == (SETTINGS / "user-with-other-hooks.json").read_bytes()
    assert not (plugin / ".claude-plugin").exists()


def test_plugin_dry_run_writes_nothing(tmp_path: Path) -> None:
    plugin = tmp_path / "p"
    changes = core.install_plugin(plugin, COMMAND, dry_run=True)
    assert [c.changed for c in changes] == [True, True]
    assert not plugin.exists()
