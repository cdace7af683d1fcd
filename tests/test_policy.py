"""Tests for the capture-time folder policy and ``affidavit findings``.

Every hook run is the real command in a subprocess (``python -m affidavit hook``) fed Claude
Code payloads: the real ones in ``../shared/fixtures/`` (read in place), with their paths
moved into this test's folders. The config is a real ``affidavit.toml`` granting three
folders under ``work/``: ``docs`` (plain), ``clinical`` (HIPAA-regulated) and ``finance``
(forbids card data); ``outside/`` is granted to nobody.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import zlib
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from affidavit import config, query
from affidavit.capture import events, policy
from affidavit.compliance.findings import ROW_FIELDS
from affidavit.ledger import Ledger
from conftest import shared_path
from ledger_helpers import affidavit, cli_env, new_ledger

FIXTURES = ("fixtures", "RonKat2008__agent-verdict", "tests", "fixtures", "hooks")
QUIET = ("--seal-interval", "3600")  # no detached seal


def luhn(body: str) -> str:
    """``body`` with its Luhn check digit: a card number no issuer has handed out."""
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c) * (1 if i % 2 else 2)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


CARD = luhn("453201511283036")  # Visa range, passes Luhn, not a well-known test number
SPACED = " ".join(CARD[i : i + 4] for i in range(0, 16, 4))


# -- the setting ----------------------------------------------------------------------------


class World:
    """Folders, a config file, a ledger, and the hook run the way Claude Code runs it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.work = root / "work"
        for name in ("docs", "clinical", "finance"):
            (self.work / name).mkdir(parents=True)
        self.outside = root / "outside"
        self.outside.mkdir()
        self.home = root / "home"
        self.config = root / "affidavit.toml"
        self.ledger = root / "ledger.sqlite"
        new_ledger(root).close()
        self.write_config()
        self.calls = 0

    def write_config(self, *, enforce: str = "", workspace_regulated: bool = False) -> None:
        self.config.write_text(
            f"""
[workspace]
regulated = {"true" if workspace_regulated else "false"}

[[folders]]
path = "{self.work / "docs"}"

[[folders]]
path = "{self.work / "clinical"}"
regulated = ["HIPAA"]

[[folders]]
path = "{self.work / "finance"}"
function = "finance"
forbidden_data = ["card"]

[enforce]
{enforce}
""",
            "utf-8",
        )

    def env(self) -> dict[str, str]:
        env = cli_env(self.home)
        env["USER"] = "policy-tester"
        env.pop("CLAUDE_CONFIG_DIR", None)
        return env

    def hook(
        self, event: dict[str, Any], *, named: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """One hook run, with ``--config`` naming the config unless ``named`` is False."""
        done = subprocess.run(
            [sys.executable, "-m", "affidavit", "hook", "--ledger", str(self.ledger), *QUIET]
            + (["--config", str(self.config)] if named else []),
            input=json.dumps(event).encode(),
            capture_output=True,
            env=self.env() if env is None else env,
            check=False,
        )
        assert done.stdout == b""
        return subprocess.CompletedProcess(
            done.args, done.returncode, "", done.stderr.decode("utf-8")
        )

    def records(self, start: int = 0) -> list[tuple[int, str, dict[str, Any]]]:
        """(seq, kind, payload) from ``start``, leaving out convention snapshots."""
        with Ledger.open(self.ledger, readonly=True) as opened:
            out = []
            for seq in range(start, opened.store.size()):
                record = opened.record(seq)
                kind = str(record.envelope.kind)
                if kind != "convention.snapshot":
                    out.append((seq, kind, record.payload or {}))
            return out

    def findings(self, start: int = 0) -> list[tuple[int, dict[str, Any]]]:
        """(seq, finding) of the findings from ``start`` (not the resolutions)."""
        records = self.records(start)
        return [
            (s, p["finding"]) for s, k, p in records if k == "policy.finding" and "finding" in p
        ]

    def size(self) -> int:
        with Ledger.open(self.ledger, readonly=True) as opened:
            return opened.store.size()

    def stored_bytes(self) -> bytes:
        """Every byte of the ledger on disk: the database, its WAL and shared memory."""
        return b"".join(
            p.read_bytes()
            for p in self.root.iterdir()
            if p.name.startswith(self.ledger.name) and p.is_file() and not p.name.endswith(".key")
        )

    def cli(self, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
        return affidavit(self.ledger, *args, stdin=stdin)


def fixture(name: str, **tool_input: Any) -> dict[str, Any]:
    """A real payload with its folder moved: ``tool_input`` fields replace the fixture's."""
    event: dict[str, Any] = json.loads(shared_path(*FIXTURES, name).read_text("utf-8"))
    event["tool_input"] = {**event.get("tool_input", {}), **tool_input}
    return event


class Session:
    """Plays tool calls the way Claude Code does: PreToolUse, the tool unless the hook
    blocked it (exit 2), then PostToolUse. Returns the PreToolUse run."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.n = 0

    def write(self, path: Path, content: str) -> subprocess.CompletedProcess[str]:
        self.n += 1
        use_id = f"toolu_policy_{self.n:03d}"
        pre = fixture("pre_tool_use_write.json", file_path=str(path), content=content)
        pre |= {"tool_use_id": use_id, "cwd": str(self.world.work)}
        done = self.world.hook(pre)
        if done.returncode == 2:
            return done
        assert done.returncode == 0, done.stderr
        existed = path.exists()
        path.write_text(content, "utf-8")
        post = fixture("post_tool_use_write.json", file_path=str(path), content=content)
        post |= {"tool_use_id": use_id, "cwd": str(self.world.work)}
        post["tool_response"] |= {
            "filePath": str(path),
            "content": content,
            "type": "update" if existed else "create",
        }
        after = self.world.hook(post)
        assert (after.returncode, after.stderr) == (0, "")
        return done

    def bash(self, cwd: Path, command: str) -> subprocess.CompletedProcess[str]:
        self.n += 1
        use_id = f"toolu_policy_{self.n:03d}"
        pre = fixture("pre_tool_use_bash.json", command=command) | {
            "tool_use_id": use_id,
            "cwd": str(cwd),
        }
        done = self.world.hook(pre)
        if done.returncode == 2:
            return done
        subprocess.run(command, shell=True, cwd=cwd, check=True, capture_output=True)
        post = fixture("post_tool_use_bash.json", command=command) | {
            "tool_use_id": use_id,
            "cwd": str(cwd),
        }
        after = self.world.hook(post)
        assert (after.returncode, after.stderr) == (0, "")
        return done

    def prompt(self, cwd: Path, text: str) -> subprocess.CompletedProcess[str]:
        event = json.loads(shared_path(*FIXTURES, "user_prompt_submit.json").read_text())
        return self.world.hook(event | {"prompt": text, "cwd": str(cwd)})


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


@pytest.fixture
def session(world: World) -> Session:
    return Session(world)


def seal_and_verify(world: World) -> None:
    done = world.cli("seal")
    assert done.returncode == 0, done.stderr
    done = world.cli("verify")
    assert done.returncode == 0, done.stderr


# -- outside the granted folders ------------------------------------------------------------


def test_write_inside_granted_folders_is_no_finding(world: World, session: Session) -> None:
    done = session.write(world.work / "docs" / "notes.md", "hello")
    assert (done.returncode, done.stderr) == (0, "")
    kinds = [k for _, k, _ in world.records()]
    assert kinds == ["tool.intent", "file.create"]
    assert world.findings() == []
    assert (world.work / "docs" / "notes.md").read_text() == "hello"


def test_write_outside_is_a_finding_linked_to_its_action(world: World, session: Session) -> None:
    target = world.outside / "leak.txt"
    done = session.write(target, "hello")
    assert (done.returncode, done.stderr) == (0, "")  # not enforced: recorded, not blocked
    records = world.records()
    assert [k for _, k, _ in records] == ["tool.intent", "policy.finding", "file.create"]
    [(seq, finding)] = world.findings()
    intent_seq, _, intent = records[0]
    assert finding["action_seq"] == intent_seq < seq
    assert finding["rule"] == "outside_granted"
    assert finding["path"] == str(target)
    assert finding["enforced"] is False
    assert finding["type"] == "policy"
    assert re.fullmatch(r"[0-9a-f]{12}", finding["id"])
    assert "outside the folders granted" in finding["detail"]
    payload = records[1][2]
    assert payload["agent"]["tool_use_id"] == intent["agent"]["tool_use_id"]
    assert payload["actor"]["user"] == "policy-tester"
    assert target.read_text() == "hello"  # the PostToolUse repeated no finding (same id)
    seal_and_verify(world)


def test_enforced_policy_blocks_a_write_outside_in_a_replayed_session(
    world: World, session: Session
) -> None:
    """The issue's done-when: enforce mode blocks a write outside the granted folders."""
    world.write_config(enforce="outside_granted = true")
    assert session.prompt(world.work, "tidy up the notes").returncode == 0
    assert session.write(world.work / "docs" / "a.md", "one").returncode == 0
    before = world.size()
    blocked = session.write(world.outside / "b.md", "two")
    assert session.write(world.work / "docs" / "c.md", "three").returncode == 0

    assert blocked.returncode == 2
    [line] = blocked.stderr.splitlines()
    assert line == (
        f"Affidavit policy: writing {world.outside / 'b.md'} is outside the folders granted "
        "to agents (rule outside_granted); ask an admin"
    )
    assert not (world.outside / "b.md").exists()
    records = world.records(before)
    kinds = [(k, p.get("agent", {}).get("tool_use_id")) for _, k, p in records]
    assert kinds == [
        ("tool.intent", "toolu_policy_002"),
        ("policy.finding", "toolu_policy_002"),  # no file.create: the tool never ran
        ("tool.intent", "toolu_policy_003"),
        ("file.create", "toolu_policy_003"),
    ]
    [(_, finding)] = world.findings()
    assert finding["enforced"] is True
    assert finding["action_seq"] == before
    seal_and_verify(world)


def test_an_event_delivered_twice_is_blocked_twice_and_found_once(world: World) -> None:
    world.write_config(enforce="outside_granted = true")
    event = fixture("pre_tool_use_write.json", file_path=str(world.outside / "x.txt"))
    runs = [world.hook(event) for _ in range(2)]
    assert [r.returncode for r in runs] == [2, 2]
    assert runs[0].stderr == runs[1].stderr
    assert len(world.findings()) == 1


def test_enforced_rule_blocks_only_its_own_rule(world: World, session: Session) -> None:
    world.write_config(enforce="outside_granted = true\nregulated_workspace = false")
    done = session.write(world.work / "clinical" / "visit.md", "follow-up in 2 weeks")
    assert (done.returncode, done.stderr) == (0, "")
    [(_, finding)] = world.findings()
    assert (finding["rule"], finding["enforced"]) == ("regulated_workspace", False)


def test_links_and_dotdot_do_not_escape(world: World, session: Session) -> None:
    (world.work / "docs" / "link").symlink_to(world.outside)
    session.write(world.work / "docs" / "link" / "x.txt", "via a link")
    session.write(world.work / "docs" / ".." / ".." / "outside" / "y.txt", "via ..")
    rules = [(f["rule"], Path(f["path"]).name) for _, f in world.findings()]
    assert rules == [("outside_granted", "x.txt"), ("outside_granted", "y.txt")]


def test_shell_side_effects_outside_are_findings(world: World, session: Session) -> None:
    world.write_config(enforce="outside_granted = true")
    done = session.bash(world.outside, "echo hi > made.txt")
    assert done.returncode == 0  # a command's working folder is not itself a finding
    records = world.records()
    [(seq, finding)] = world.findings()
    [(file_seq, _, payload)] = [r for r in records if r[1] == "file.create"]
    assert payload["via"] == "command-side-effect"
    assert (finding["action_seq"], finding["rule"]) == (file_seq, "outside_granted")
    assert finding["enforced"] is False  # it had already happened
    assert "creating" in finding["detail"] and finding["path"].endswith("made.txt")
    assert seq > file_seq


# -- regulated folders ----------------------------------------------------------------------


def test_regulated_folder_from_an_unregulated_workspace(world: World, session: Session) -> None:
    session.write(world.work / "clinical" / "visit.md", "follow-up")
    [(_, finding)] = world.findings()
    assert finding["rule"] == "regulated_workspace"
    assert finding["folder"] == str(world.work / "clinical")
    assert "(HIPAA)" in finding["detail"]


def test_regulated_workspace_may_use_regulated_folders(world: World, session: Session) -> None:
    world.write_config(workspace_regulated=True, enforce="regulated_workspace = true")
    assert session.write(world.work / "clinical" / "visit.md", "follow-up").returncode == 0
    assert session.bash(world.work / "clinical", "ls").returncode == 0
    assert world.findings() == []


def test_shell_in_a_regulated_folder_is_blocked_when_enforced(
    world: World, session: Session
) -> None:
    world.write_config(enforce="regulated_workspace = true")
    done = session.bash(world.work / "clinical", "cat visit.md")
    assert done.returncode == 2
    assert "running a command in" in done.stderr and "regulated_workspace" in done.stderr
    assert [k for _, k, _ in world.records()] == ["tool.intent", "policy.finding"]


# -- forbidden data -------------------------------------------------------------------------


def test_forbidden_card_in_write_content(world: World, session: Session) -> None:
    content = f"Refund the customer on card {SPACED} by Friday.\n"
    target = world.work / "finance" / "refunds.md"
    done = session.write(target, content)
    assert (done.returncode, done.stderr) == (0, "")
    [(_, finding)] = world.findings()
    assert finding["rule"] == "forbidden_data"
    assert finding["data_class"] == "card"
    assert finding["folder"] == str(world.work / "finance")
    [masked] = finding["masked"]
    assert CARD not in masked and SPACED not in masked and masked[-4:] == CARD[-4:]
    assert masked in finding["detail"]
    stored = world.stored_bytes()
    for form in (CARD, SPACED, CARD[:12], SPACED[:14]):
        assert form.encode() not in stored
    with closing(sqlite3.connect(world.ledger)) as conn:
        blobs = conn.execute("SELECT sha256, codec, data FROM blobs").fetchall()
    assert hashlib.sha256(content.encode()).hexdigest() not in {sha for sha, _, _ in blobs}
    for _, codec, data in blobs:
        assert CARD[-8:].encode() not in (zlib.decompress(data) if codec == "zlib" else data)
    intent = world.records()[0][2]
    assert masked in intent["tool"]["input"]["content"]  # the record says where it was
    seal_and_verify(world)


def test_forbidden_card_blocked_when_enforced(world: World, session: Session) -> None:
    world.write_config(enforce="forbidden_data = true")
    done = session.write(world.work / "finance" / "refunds.md", f"card {CARD}")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert "rule forbidden_data" in line and "card data" in line and CARD not in line
    assert not (world.work / "finance" / "refunds.md").exists()
    assert CARD.encode() not in world.stored_bytes()


def test_forbidden_card_in_an_edit(world: World) -> None:
    target = world.work / "finance" / "refunds.md"
    target.write_text("Refund pending\n")
    event = fixture("pre_tool_use_edit.json", file_path=str(target), new_string=f"card {CARD}")
    done = world.hook(event | {"cwd": str(world.work)})
    assert (done.returncode, done.stderr) == (0, "")
    [(_, finding)] = world.findings()
    assert finding["detail"].startswith(f"the Edit content for {target} holds card data (")
    [(_, _, intent)] = [r for r in world.records() if r[1] == "tool.intent"]
    assert intent["tool"]["input"]["new_string"] == f"card {finding['masked'][0]}"
    assert CARD.encode() not in world.stored_bytes()


def test_a_value_cut_at_the_cap_is_starred() -> None:
    text = "a" * (events.STRING_CAP - 8) + CARD + " and more"
    capped = events.cap(text)
    assert capped.startswith("a" * (events.STRING_CAP - 8) + CARD[:8] + policy.CUT_MARK)
    masked = policy.mask({"raw": [capped]}, {CARD: "453201******0366"})
    assert masked == {"raw": [capped.replace(CARD[:8], "*" * 8)]}


def test_card_where_it_is_not_forbidden_is_no_finding(world: World, session: Session) -> None:
    session.write(world.work / "docs" / "card.md", f"card {CARD}")
    assert world.findings() == []


def test_forbidden_card_in_a_prompt_and_a_command(world: World, session: Session) -> None:
    done = session.prompt(world.work / "finance", f"charge {CARD} again")
    assert (done.returncode, done.stderr) == (0, "")
    session.bash(world.work / "finance", f"echo {CARD} > note.txt")
    details = [(f["rule"], f["detail"].split(" holds")[0]) for _, f in world.findings()]
    finance = world.work / "finance"
    assert details == [
        ("forbidden_data", f"the prompt given in {finance}"),
        ("forbidden_data", f"the command run in {finance}"),
        ("forbidden_data", f"the content a command wrote to {finance / 'note.txt'}"),
    ]
    assert CARD.encode() not in world.stored_bytes()


# -- the config -----------------------------------------------------------------------------


def test_config_change_refreshes_the_cache(world: World, session: Session) -> None:
    session.write(world.outside / "a.txt", "1")
    assert len(world.findings()) == 1
    world.config.write_text(
        world.config.read_text() + f'\n[[folders]]\npath = "{world.outside}"\n', "utf-8"
    )
    size = world.size()
    session.write(world.outside / "b.txt", "2")
    assert world.findings(size) == []
    with closing(sqlite3.connect(world.ledger)) as conn:
        (cached,) = conn.execute("SELECT value FROM meta WHERE key = ?", (policy.CACHE_KEY,))
    key, compiled = cached[0].split("\n", 1)
    assert key.startswith(f"policy:{policy.FORMAT}:{world.config}:")
    assert [f["path"] for f in json.loads(compiled)["folders"]][-1] == str(world.outside)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[enforce\noutside_granted = true\n", "not valid TOML"),
        ('[enforce]\noutside_granted = "yes"\n', ":2: field enforce.outside_granted"),
        ('[[folders]]\npath = "/srv"\nforbidden_data = ["cards"]\n', "'cards' is not one of"),
    ],
)
def test_a_broken_config_never_blocks_and_is_recorded_once(
    world: World, session: Session, text: str, message: str
) -> None:
    """A typo in the policy file must not stop the agent: no policy, one capture.error."""
    world.config.write_text(text, "utf-8")
    first = session.write(world.outside / "a.txt", "1")
    second = session.write(world.outside / "b.txt", "2")
    assert (first.returncode, second.returncode) == (0, 0)
    assert (first.stderr, second.stderr) == ("", "")
    errors = [p["error"] for _, k, p in world.records() if k == "capture.error"]
    assert len(errors) == 1
    assert errors[0]["stage"] == "policy"
    assert str(world.config) in errors[0]["message"] and message in errors[0]["message"]
    assert world.findings() == []
    seal_and_verify(world)


def test_a_named_config_that_is_missing_is_recorded_once(world: World, session: Session) -> None:
    world.config.unlink()
    session.write(world.outside / "a.txt", "1")
    session.write(world.outside / "b.txt", "2")
    [error] = [p["error"] for _, k, p in world.records() if k == "capture.error"]
    assert f"{world.config} (named by --config or AFFIDAVIT_CONFIG) is missing" in error["message"]


def test_config_from_the_environment_then_the_default_path(world: World) -> None:
    event = fixture("pre_tool_use_write.json", file_path=str(world.outside / "x"))
    env = world.env() | {"AFFIDAVIT_CONFIG": str(world.config)}
    assert world.hook(event | {"tool_use_id": "toolu_a"}, named=False, env=env).returncode == 0
    assert len(world.findings()) == 1
    default = world.home / "config" / "affidavit" / "affidavit.toml"  # XDG_CONFIG_HOME/...
    default.parent.mkdir(parents=True)
    default.write_text(world.config.read_text())
    assert world.hook(event | {"tool_use_id": "toolu_b"}, named=False).returncode == 0
    assert len(world.findings()) == 2


def test_no_config_means_no_policy(world: World, session: Session) -> None:
    world.config.unlink()
    for _ in range(2):
        done = world.hook(fixture("pre_tool_use_write.json", file_path="/etc/x"), named=False)
        assert (done.returncode, done.stderr) == (0, "")
    assert [k for _, k, _ in world.records()] == ["tool.intent", "tool.intent"]
    with closing(sqlite3.connect(world.ledger)) as conn:
        assert (
            conn.execute("SELECT 1 FROM meta WHERE key = ?", (policy.CACHE_KEY,)).fetchall() == []
        )


@pytest.mark.parametrize("xdg", [None, "/srv/conf", "relative/conf", ""])
def test_default_config_path_is_platformdirs(
    monkeypatch: pytest.MonkeyPatch, xdg: str | None
) -> None:
    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    import platformdirs

    want = platformdirs.user_config_path("affidavit") / "affidavit.toml"
    assert policy.default_config_path() == str(config.default_path()) == str(want)


FOLDER_CASES = [
    ("/srv/work/finance/q3.xlsx", "/srv/work/finance"),
    ("/srv/work/finance", "/srv/work/finance"),
    ("/srv/work/finance-old/q3.xlsx", "/srv/work/finance"),
    ("/srv/work/finance/deep/er/x", "/srv/work/finance/"),
    ("/home/a/finance/q3.xlsx", "finance"),
    ("/home/a/finance/q3.xlsx", "finance/**"),
    ("/home/a/refinance/q3.xlsx", "finance"),
    ("/srv/x.xlsx", "/srv/*.xlsx"),
    ("/srv/a/x.xlsx", "/srv/*.xlsx"),
    ("C:\\work\\finance\\x", "finance"),
    ("/srv/[a]/x", "/srv/[ab]"),
]


@pytest.mark.parametrize(("path", "folder"), FOLDER_CASES)
def test_folders_match_like_the_query_filters(path: str, folder: str) -> None:
    compiled = re.compile(policy.folder_pattern(folder))
    assert bool(compiled.match(path.replace("\\", "/"))) == query.path_matches(path, folder)


# -- affidavit findings ---------------------------------------------------------------------


def test_findings_list_and_resolve(world: World, session: Session) -> None:
    session.write(world.outside / "a.txt", "1")
    session.write(world.work / "clinical" / "b.txt", "2")
    data = {
        "kind": "policy.finding",
        "source": "affidavit.scan",
        "payload": {"finding": {"type": "data", "data_class": "card", "path": "/srv/x.csv"}},
    }
    assert world.cli("append", stdin=json.dumps(data).encode()).returncode == 0

    listed = world.cli("findings", "--format", "jsonl")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["type"], r["rule"], r["status"]) for r in rows] == [
        ("policy", "outside_granted", "open"),
        ("policy", "regulated_workspace", "open"),
        ("data", "card", "open"),
    ]
    assert "3 findings, 3 open" in listed.stderr
    policy_id, _, data_id = (r["id"] for r in rows)

    done = world.cli(
        "findings", "resolve", policy_id[:6], "--reason", "moved to docs", "--by", "ann"
    )
    assert done.returncode == 0, done.stderr
    assert f"resolved finding {policy_id}" in done.stderr
    done = world.cli("findings", "resolve", data_id, "--reason", "test data", "--json")
    assert json.loads(done.stdout)["resolved"] == data_id

    still = world.cli("findings", "--open", "--format", "json")
    assert [r["rule"] for r in json.loads(still.stdout)] == ["regulated_workspace"]
    every = world.cli("findings", "--all", "--format", "jsonl")
    by_id = {r["id"]: r for r in map(json.loads, every.stdout.splitlines())}
    resolved = by_id[policy_id]
    assert (resolved["status"], resolved["reason"], resolved["resolved_by"]) == (
        "resolved",
        "moved to docs",
        "ann",
    )
    assert by_id[data_id]["resolved_by"]  # the OS user by default

    again = world.cli("findings", "resolve", policy_id, "--reason", "twice")
    assert again.returncode == 2 and "already resolved" in again.stderr
    unknown = world.cli("findings", "resolve", "ffffffffffff", "--reason", "x")
    assert unknown.returncode == 2 and "no finding" in unknown.stderr
    blank = world.cli("findings", "resolve", data_id, "--reason", " ")
    assert blank.returncode == 2

    resolutions = [p for _, k, p in world.records() if k == "policy.finding" and "resolution" in p]
    assert [r["resolution"]["finding_id"] for r in resolutions] == [policy_id, data_id]
    assert resolutions[0]["resolution"] == {
        "finding_id": policy_id,
        "reason": "moved to docs",
        "by": "ann",
    }
    seal_and_verify(world)


def test_findings_exit_one_when_any_is_open(world: World, session: Session) -> None:
    session.write(world.outside / "a.txt", "1")
    assert world.cli("findings").returncode == 1  # a script can gate on open findings


def test_findings_exit_zero_when_none_open(world: World) -> None:
    done = world.cli("findings", "--format", "csv")
    assert done.returncode == 0
    assert done.stdout.splitlines() == [",".join(ROW_FIELDS)]
    assert world.cli("findings", "--all", "--open").returncode == 2


@pytest.mark.parametrize("module", ["affidavit.capture.hook", "affidavit.capture.direct"])
def test_hook_stays_fast_to_import(module: str) -> None:
    """Direct mode imports the policy module; neither it nor the hook's service-mode path may
    pull in anything heavy (the hook loads direct mode only when no service answers)."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, {module}; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tomllib', 'platformdirs', 'dataclasses', 'click', 'affidavit')))",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=True,
    )
    loaded = done.stdout
    for heavy in ("tomllib", "platformdirs", "dataclasses", "click", "affidavit.config"):
        assert f"'{heavy}'" not in loaded
    if module == "affidavit.capture.direct":
        assert "'affidavit.capture.policy'" in loaded
