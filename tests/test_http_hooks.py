"""``POST /v1/hooks``: Claude Code ``http`` hooks straight to a real collector.

A real collector (``affidavit server``, uvicorn on loopback, real PostgreSQL) gets every hook
payload in ``../shared/fixtures/`` POSTed as Claude Code's ``http`` handler sends it (JSON
body, ``Authorization: Bearer`` from an env var, a timeout); the same payloads go through the
real ``affidavit hook`` command into a SQLite ledger, and the records of both must be equal
field by field except the transport (source, actor, evidence).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from affidavit.capture.events import source_event
from affidavit.ledger import Ledger
from affidavit.server.hooks import SOURCE
from affidavit.server.orglog import SOURCE as COLLECTOR
from affidavit.store.postgres import PostgresStore
from collector_helpers import ORIGIN, Collector
from conftest import shared_path
from ledger_helpers import affidavit, new_ledger
from pg_helpers import Schemas
from test_hook import HOOK_DIRS, QUIET, hook_env, read_records, run_hook, size_of

# What only the transport decides (the source, too): who sent it, an edit's evidence and a
# shell command's claims (file.claim records), which stand in for what the hook sees on disk.
TRANSPORT = ("actor", "evidence", "claims")
CLAIM = "file.claim"
HOOK_TIMEOUT_S = 5.0  # the timeout our plugin gives the http handler (install --http)


@pytest.fixture(scope="module")
def served(
    pg_schemas: Schemas, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Collector, str]]:
    home = tmp_path_factory.mktemp("collector")
    c = Collector(pg_schemas, home)
    c.cli("init", "--origin", ORIGIN)
    token = c.token("device", "cowork-vm-7")
    with c.serving():
        yield c, token


def post(
    c: Collector, token: str | None, body: bytes, extra: dict[str, str] | None = None
) -> httpx.Response:
    """As Claude Code's http handler posts: JSON body, bearer header, the hook's timeout."""
    headers = {"Content-Type": "application/json", **(extra or {})}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(c.url + "/v1/hooks", content=body, headers=headers, timeout=HOOK_TIMEOUT_S)


def org_records(
    c: Collector, start: int = 0, *, own: bool = False
) -> list[tuple[int, str, str, dict[str, Any]]]:
    """(org seq, kind, source, payload) of the org log's records from ``start``; those the
    collector's join writes on its own schedule (corroborations, links) only with ``own``."""
    with psycopg.connect(c.db, autocommit=True) as conn:
        ledger = Ledger(PostgresStore.open(conn, f"{c.schema}_org", owned=False))
        out = []
        for seq in range(start, ledger.store.size()):
            rec = ledger.record(seq)
            if rec.envelope.source == COLLECTOR and not own:
                continue
            out.append((seq, str(rec.envelope.kind), rec.envelope.source, rec.payload or {}))
        return out


def org_size(c: Collector) -> int:
    with psycopg.connect(c.db, autocommit=True) as conn:
        return PostgresStore.open(conn, f"{c.schema}_org", owned=False).size()


def fixture_payloads() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for parts in HOOK_DIRS:
        folder = shared_path("fixtures", *parts)
        files |= {f"{'/'.join(parts)}/{p.name}": p.read_bytes() for p in folder.glob("*.json")}
    assert files
    return dict(sorted(files.items()))


def without(payload: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in keys}


def test_every_fixture_gives_the_same_records_both_ways(
    served: tuple[Collector, str], tmp_path: Path
) -> None:
    c, token = served
    new_ledger(tmp_path).close()
    ledger = tmp_path / "ledger.sqlite"
    compared = 0
    for name, body in fixture_payloads().items():
        start = size_of(ledger)
        done = run_hook(ledger, body, *QUIET)
        assert (done.returncode, done.stderr) == (0, b""), name
        by_command = [r for r in read_records(ledger, start) if r.kind != "convention.snapshot"]
        first = org_size(c)
        answer = post(c, token, body)
        assert answer.status_code == 200, (name, answer.text)
        assert answer.json() == {}, name  # no policy here: the empty hook output
        by_http = [r for r in org_records(c, first) if r[1] != CLAIM]
        assert [r.kind for r in by_command] == [kind for _, kind, _, _ in by_http], name
        for mine, (_, _, source, payload) in zip(by_command, by_http, strict=True):
            assert source == SOURCE == "claude-code.http-hook"
            assert payload["actor"] == {"device": "cowork-vm-7"}
            assert without(payload, TRANSPORT) == without(mine.payload, TRANSPORT), name
            compared += 1
    assert compared == len(fixture_payloads())


def test_an_edit_keeps_its_before_and_after_as_evidence(served: tuple[Collector, str]) -> None:
    c, token = served
    parts = HOOK_DIRS[0]
    body = shared_path("fixtures", *parts, "post_tool_use_edit.json").read_bytes()
    first = org_size(c)
    assert post(c, token, body).status_code == 200
    ((_, kind, _, payload),) = org_records(c, first)
    assert kind == "file.update"
    event = json.loads(body)
    evidence = payload["evidence"]
    assert evidence["before"] == event["tool_response"]["originalFile"] == "hi"
    assert evidence["after"] == "hello"
    assert evidence["patch"] == event["tool_response"]["structuredPatch"]


def test_an_unknown_event_is_kept_not_dropped(served: tuple[Collector, str]) -> None:
    c, token = served
    event = {
        "hook_event_name": "SomethingNewIn2027",
        "session_id": "s-unknown",
        "cwd": "/sessions/brave-owl/mnt/outputs",
        "extra": {"nested": [1, 2, 3]},
    }
    first = org_size(c)
    answer = post(c, token, json.dumps(event).encode())
    assert (answer.status_code, answer.json()) == (200, {})
    ((_, kind, _, payload),) = org_records(c, first)
    assert kind == "agent.event"
    assert payload["raw_rest"]["extra"] == {"nested": [1, 2, 3]}
    assert payload["agent"]["event"] == "SomethingNewIn2027"


def test_a_bad_token_is_refused_and_logged_without_it(served: tuple[Collector, str]) -> None:
    c, token = served
    body = json.dumps({"hook_event_name": "Stop", "session_id": "s"}).encode()
    first = org_size(c)
    wrong = token[:-4] + "AAAA"
    for bad in (None, wrong, "afv_1_short", "Basic abc"):
        answer = post(c, bad, body)
        assert answer.status_code == 401 and answer.json()["error"], bad
    assert org_records(c, first) == []  # nothing recorded for a refused request
    log = c.log.read_text()
    assert "http hook refused" in log
    assert token not in log and wrong not in log and token[:-4] not in log


def test_an_auditor_token_may_not_post_hooks(served: tuple[Collector, str]) -> None:
    c, _ = served
    auditor = c.token("auditor", "hooks-auditor")
    answer = post(c, auditor, json.dumps({"hook_event_name": "Stop"}).encode())
    assert answer.status_code == 403


def test_enforced_policy_denies_through_the_hook_output(served: tuple[Collector, str]) -> None:
    c, token = served
    config = c.home / "config" / "affidavit" / "affidavit.toml"  # the server's default config
    config.parent.mkdir(parents=True, exist_ok=True)
    granted = "/sessions/brave-owl/mnt/outputs"
    config.write_text(f'[[folders]]\npath = "{granted}"\n\n[enforce]\noutside_granted = true\n')
    try:

        def intent(path: str, use_id: str) -> dict[str, Any]:
            return {
                "hook_event_name": "PreToolUse",
                "session_id": "s-policy",
                "cwd": granted,
                "tool_name": "Write",
                "tool_input": {"file_path": path, "content": "x"},
                "tool_use_id": use_id,
            }

        first = org_size(c)
        inside = post(c, token, json.dumps(intent(granted + "/a.txt", "t-in")).encode())
        assert (inside.status_code, inside.json()) == (200, {})
        outside = post(c, token, json.dumps(intent("/etc/passwd", "t-out")).encode())
        assert outside.status_code == 200
        output = outside.json()["hookSpecificOutput"]
        assert output["hookEventName"] == "PreToolUse"
        assert output["permissionDecision"] == "deny"
        assert "/etc/passwd" in output["permissionDecisionReason"]
        assert "outside_granted" in output["permissionDecisionReason"]
        kinds = [(seq, kind, payload) for seq, kind, _, payload in org_records(c, first)]
        assert [k for _, k, _ in kinds] == ["tool.intent", "tool.intent", "policy.finding"]
        finding = kinds[2][2]["finding"]
        assert finding["rule"] == "outside_granted" and finding["enforced"] is True
        assert finding["action_seq"] == kinds[1][0]  # the org seq of the denied intent
    finally:
        config.unlink()


def test_records_say_cowork_and_the_vm_surface(served: tuple[Collector, str]) -> None:
    c, token = served
    event = {
        "hook_event_name": "PostToolUse",
        "session_id": "s-cowork",
        "cwd": "/sessions/magical-laughing-wright/mnt/outputs",
        "transcript_path": "/sessions/magical-laughing-wright/.claude/projects/x/s.jsonl",
        "tool_name": "mcp__workspace__bash",
        "tool_input": {"command": "ls"},
        "tool_response": {"stdout": "a\n"},
        "tool_use_id": "t-cowork",
    }
    first = org_size(c)
    assert post(c, token, json.dumps(event).encode()).status_code == 200
    ((_, kind, _, payload),) = org_records(c, first)
    assert kind == "command.exec"
    assert (payload["agent"]["product"], payload["agent"]["surface"]) == ("cowork", "vm")


def test_a_cloud_session_says_remote_both_ways(
    served: tuple[Collector, str], tmp_path: Path
) -> None:
    # code.claude.com/docs/en/claude-code-on-the-web: in a cloud session CLAUDE_CODE_REMOTE is
    # "true" and CLAUDE_CODE_REMOTE_SESSION_ID holds its id. The command hook reads them from
    # its environment; the http hook forwards them as headers (install --http), the collector
    # adds them to the event the same way, so both records are the same.
    c, token = served
    cloud = {"CLAUDE_CODE_REMOTE": "true", "CLAUDE_CODE_REMOTE_SESSION_ID": "session_01Cloud"}
    event = {
        "hook_event_name": "PostToolUse",
        "session_id": "s-remote",
        "cwd": "/home/user/repo",
        "transcript_path": "/home/user/.claude/projects/-home-user-repo/s-remote.jsonl",
        "tool_name": "Bash",
        "tool_input": {"command": "ls"},
        "tool_response": {"stdout": "a\n", "stderr": "", "interrupted": False},
        "tool_use_id": "t-remote",
    }
    body = json.dumps(event).encode()
    new_ledger(tmp_path).close()
    ledger = tmp_path / "ledger.sqlite"
    done = subprocess.run(
        [sys.executable, "-m", "affidavit", "hook", "--ledger", str(ledger), *QUIET],
        input=body,
        capture_output=True,
        env=hook_env(tmp_path / "home") | cloud,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    (mine,) = [r for r in read_records(ledger) if r.kind != "convention.snapshot"]
    headers = {"X-Affidavit-Remote": "true", "X-Affidavit-Remote-Session": "session_01Cloud"}
    first = org_size(c)
    assert post(c, token, body, headers).status_code == 200
    ((_, kind, _, payload),) = org_records(c, first)
    assert kind == mine.kind == "command.exec"
    assert without(payload, TRANSPORT) == without(mine.payload, TRANSPORT)
    agent = payload["agent"]
    assert (agent["product"], agent["surface"]) == ("claude-code", "remote")
    assert agent["remote_session_id"] == "session_01Cloud"
    assert source_event(payload)["affidavit_env"] == cloud  # what the hook saw, kept with it
    # The same event from a laptop: Claude Code sends the unset variables as empty headers.
    first = org_size(c)
    empty = dict.fromkeys(headers, "")
    assert post(c, token, body, empty).status_code == 200
    ((_, _, _, payload),) = org_records(c, first)
    assert payload["agent"]["surface"] == "cli" and "affidavit_env" not in source_event(payload)


def test_a_shell_command_over_http_claims_the_files_it_names(
    served: tuple[Collector, str], tmp_path: Path
) -> None:
    c, token = served
    # Files on the collector's own disk that a disk-reading parse would find: a glob match,
    # a folder's content. The claims must not name them: that disk is not the command's.
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner.txt").write_text("x")
    (tmp_path / "old.log").write_text("x")
    command = "rm -r sub && mv a.txt b.txt; sed -i s/x/y/ /etc/hosts *.log > out.txt; rm ~/z"
    event = {
        "hook_event_name": "PostToolUse",
        "session_id": "s-claims",
        "cwd": str(tmp_path),
        "tool_name": "Bash",
        "tool_input": {"command": command},
        "tool_response": {"stdout": "", "stderr": "", "interrupted": False},
        "tool_use_id": "t-claims",
    }
    first = org_size(c)
    assert post(c, token, json.dumps(event).encode()).status_code == 200
    records = org_records(c, first)
    assert [kind for _, kind, _, _ in records] == ["command.exec"] + [CLAIM] * 5
    claimed = [payload["file"]["path"] for _, _, _, payload in records[1:]]
    w = str(tmp_path)  # a redirection is read before its command's words, as the shell does
    assert claimed == [f"{w}/sub", f"{w}/a.txt", f"{w}/b.txt", f"{w}/out.txt", "/etc/hosts"]
    for _, _, _, payload in records[1:]:
        assert payload["claim"] == {"by": "command", "observed": False}
        assert payload["agent"] == records[0][3]["agent"]  # the same tool call, session, event
        assert payload["outcome"] == "ok" and "before_sha256" not in payload["file"]
    summary = records[0][3]["claims"]
    assert summary["files"] == 5
    reasons = [m["reason"] for m in summary["missed"]]
    assert any("/*.log' is a pattern" in r for r in reasons), reasons
    assert any("'~/z' is under a home folder" in r for r in reasons), reasons


def test_a_command_that_names_no_file_claims_none(served: tuple[Collector, str]) -> None:
    c, token = served
    for command in ("ls -la", "git status", "echo 'rm -rf /'"):
        event = {
            "hook_event_name": "PostToolUse",
            "session_id": "s-noclaims",
            "cwd": "/home/user/repo",
            "tool_name": "Bash",
            "tool_input": {"command": command},
            "tool_response": {"stdout": ""},
            "tool_use_id": "t-" + command,
        }
        first = org_size(c)
        assert post(c, token, json.dumps(event).encode()).status_code == 200
        ((_, kind, _, payload),) = org_records(c, first)
        assert kind == "command.exec" and payload["claims"] == {"files": 0}, command


# -- bad input: a clear 4xx, the event's gap recorded, the server keeps serving ---------------

BAD_BODIES = {
    "truncated": b'{"hook_event_name": "PreToolUse", "tool_input": {"command": "ls',
    "array": b'[{"hook_event_name": "Stop"}]',
    "string": b'"PreToolUse"',
    "binary": bytes(range(256)) * 4,
    "empty": b"",
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "bad utf-8": b'{"hook_event_name": "Stop", "x": "\xff\xfe"}',
}


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_bad_bodies_are_4xx_and_recorded_as_capture_errors(
    served: tuple[Collector, str], case: str
) -> None:
    c, token = served
    first = org_size(c)
    answer = post(c, token, BAD_BODIES[case])
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error and "\n" not in error
    ((seq, kind, _, payload),) = org_records(c, first)
    assert kind == "capture.error" and answer.json()["recorded"] == seq
    assert payload["input"]["bytes"] == len(BAD_BODIES[case])
    assert payload["actor"] == {"device": "cowork-vm-7"}
    still = post(c, token, json.dumps({"hook_event_name": "Stop", "session_id": "s"}).encode())
    assert (still.status_code, still.json()) == (200, {})


def test_wrong_field_types_and_odd_unicode_are_kept(served: tuple[Collector, str]) -> None:
    c, token = served
    odd = [
        {"hook_event_name": 7, "tool_name": ["Write"], "tool_input": "not an object"},
        {
            "hook_event_name": "PostToolUse",
            "tool_name": "Edit",
            "tool_input": None,
            "tool_response": 3.5,
            "session_id": {"x": 1},
        },
        {"hook_event_name": "UserPromptSubmit", "prompt": "rtl \u202e gnp.exe \u0000 nul"},
    ]
    lone_surrogate = b'{"hook_event_name": "UserPromptSubmit", "prompt": "cut \\ud83d here"}'
    first = org_size(c)
    for event in odd:
        answer = post(c, token, json.dumps(event).encode())
        assert (answer.status_code, answer.json()) == (200, {}), event
    answer = post(c, token, lone_surrogate)
    assert (answer.status_code, answer.json()) == (200, {})
    got = org_records(c, first)
    assert [kind for _, kind, _, _ in got] == [
        "agent.event",
        "file.update",
        "prompt.submit",
        "prompt.submit",
    ]
    assert got[2][3]["prompt"]["text"] == "rtl \u202e gnp.exe \u0000 nul"
    assert got[3][3]["prompt"]["text"] == "cut \\ud83d here"


def test_a_body_over_the_limit_is_413_and_the_server_keeps_serving(
    served: tuple[Collector, str],
) -> None:
    c, token = served
    huge = b'{"hook_event_name": "Stop", "pad": "' + b"x" * (33 * 2**20) + b'"}'
    answer = httpx.post(
        c.url + "/v1/hooks",
        content=huge,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert answer.status_code == 413 and "over" in answer.json()["error"]
    big = json.dumps({"hook_event_name": "Stop", "pad": "y" * (4 * 2**20)}).encode()
    first = org_size(c)
    assert post(c, token, big).status_code == 200
    ((_, kind, _, payload),) = org_records(c, first)
    assert kind == "agent.event" and "cut" in payload["raw_rest"]["pad"]  # capped, as the hook caps


def test_log_server_shows_what_http_hooks_sent(
    served: tuple[Collector, str], tmp_path: Path
) -> None:
    c, token = served
    auditor = c.token("auditor", "hooks-log-auditor")
    event = {
        "hook_event_name": "PostToolUse",
        "session_id": "s-log-check",
        "cwd": "/sessions/quiet-fox/mnt/outputs",
        "tool_name": "Write",
        "tool_input": {"file_path": "/sessions/quiet-fox/mnt/outputs/r.md", "content": "# r\n"},
        "tool_response": {"type": "create", "filePath": "/sessions/quiet-fox/mnt/outputs/r.md"},
        "tool_use_id": "t-log-check",
    }
    first = org_size(c)
    assert post(c, token, json.dumps(event).encode()).status_code == 200
    result = affidavit(
        tmp_path / "unused", "log", "--server", c.url, "--token", auditor, "--format", "jsonl",
        "--session", "s-log-check",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (row,) = map(json.loads, result.stdout.splitlines())
    assert (row["org_seq"], row["kind"], row["origin"]) == (first, "file.create", SOURCE)
    assert row["path"] == "/sessions/quiet-fox/mnt/outputs/r.md"
    assert row["after_sha256"] == hashlib.sha256(b"# r\n").hexdigest()


# -- diff and rollback from the evidence, without access to the file --------------------------


def cli_on(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return affidavit(tmp_path / "unused", *args)


def test_diff_and_rollback_work_from_the_evidence(
    served: tuple[Collector, str], tmp_path: Path
) -> None:
    c, token = served
    auditor = c.token("auditor", "hooks-diff-auditor")
    before, after = "# plan\nstep one\nstep two\n", "# plan\nstep one\nstep 2, edited\n"
    target = tmp_path / "work" / "plan.md"
    event = {
        "hook_event_name": "PostToolUse",
        "session_id": "s-diff",
        "cwd": str(target.parent),
        "tool_name": "Edit",
        "tool_input": {
            "file_path": str(target),
            "old_string": "step two",
            "new_string": "step 2, edited",
            "replace_all": False,
        },
        "tool_response": {"filePath": str(target), "originalFile": before},
        "tool_use_id": "t-diff",
    }
    first = org_size(c)
    assert post(c, token, json.dumps(event).encode()).status_code == 200
    server = ("--server", c.url, "--token", auditor)
    shown = cli_on(tmp_path, "diff", str(first), *server)
    assert shown.returncode == 0, shown.stderr
    assert "-step two\n+step 2, edited\n" in shown.stdout
    out = tmp_path / "restore"
    done = cli_on(tmp_path, "rollback", str(first), *server, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "nothing was changed" in done.stderr and "patch " in done.stderr
    assert (out / f"restore-{first}.plan.md").read_text() == before
    # The user applies the patch where the file is: it goes back to what it was.
    target.parent.mkdir()
    target.write_text(after)
    patch = out / f"restore-{first}.patch"
    subprocess.run(["patch", str(target), str(patch)], check=True, capture_output=True)
    assert target.read_text() == before
    # A record with no evidence (a command) is refused in one line, not guessed at.
    bash = shared_path("fixtures", *HOOK_DIRS[0], "post_tool_use_bash.json").read_bytes()
    seq = org_size(c)
    assert post(c, token, bash).status_code == 200
    refused = cli_on(tmp_path, "diff", str(seq), *server)
    assert refused.returncode == 2 and "not a file edit" in refused.stderr
    missing = cli_on(tmp_path, "diff", "999999", *server)
    assert missing.returncode == 2 and "404" in missing.stderr


def test_rollback_of_a_created_file_says_it_deletes_it(
    served: tuple[Collector, str], tmp_path: Path
) -> None:
    c, token = served
    auditor = c.token("auditor", "hooks-create-auditor")
    body = shared_path("fixtures", *HOOK_DIRS[0], "post_tool_use_write.json").read_bytes()
    seq = org_size(c)
    assert post(c, token, body).status_code == 200
    server = ("--server", c.url, "--token", auditor, "--json")
    done = cli_on(tmp_path, "rollback", str(seq), *server, "--out", str(tmp_path / "r"))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["restore_file"], answer["applied"]) == (None, False)
    assert Path(answer["patch"]).read_text().endswith("-hi\n\\ No newline at end of file\n")


def test_past_the_deadline_the_answer_is_a_503_not_a_wait(
    pg_schemas: Schemas, tmp_path: Path
) -> None:
    # A deadline no request can meet: every hook is answered 503, which Claude Code treats
    # as a non-blocking error (the agent goes on), and the server keeps serving.
    c = Collector(pg_schemas, tmp_path)
    c.cli("init", "--origin", ORIGIN)
    token = c.token("device", "deadline")
    with c.serving(env={"AFFIDAVIT_HOOK_DEADLINE": "0.000001"}):
        body = json.dumps({"hook_event_name": "Stop", "session_id": "s-late"}).encode()
        for _ in range(3):
            answer = post(c, token, body)
            assert answer.status_code == 503 and "no answer within" in answer.json()["error"]
        assert c.get("/api/v1/whoami", token).status_code == 200


def test_forbidden_data_is_masked_and_its_text_not_kept_as_evidence(
    served: tuple[Collector, str],
) -> None:
    from test_policy import CARD, SPACED

    c, token = served
    config = c.home / "config" / "affidavit" / "affidavit.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    finance = "/sessions/calm-heron/mnt/finance"
    config.write_text(f'[[folders]]\npath = "{finance}"\nforbidden_data = ["card"]\n')
    content = f"Refund the customer on card {SPACED} by Friday.\n"
    event = {
        "hook_event_name": "PostToolUse",
        "session_id": "s-card",
        "cwd": finance,
        "tool_name": "Write",
        "tool_input": {"file_path": finance + "/refunds.md", "content": content},
        "tool_response": {"type": "create", "filePath": finance + "/refunds.md"},
        "tool_use_id": "t-card",
    }
    try:
        first = org_size(c)
        assert post(c, token, json.dumps(event).encode()).json() == {}  # happened: no deny
        (write, finding) = org_records(c, first)
    finally:
        config.unlink()
    assert (write[1], finding[1]) == ("file.create", "policy.finding")
    assert finding[3]["finding"]["rule"] == "forbidden_data"
    stored = json.dumps([write[3], finding[3]])
    for form in (CARD, SPACED):
        assert form not in stored
    assert "after" not in write[3]["evidence"] and "after" in write[3]["evidence"]["cut"]


def test_the_org_log_with_hook_records_seals_and_verifies(served: tuple[Collector, str]) -> None:
    c, token = served
    body = json.dumps({"hook_event_name": "SessionEnd", "session_id": "s-end"}).encode()
    assert post(c, token, body).status_code == 200
    c.cli("seal")
    done = c.cli("verify")
    assert done.returncode == 0, done.stderr
    assert org_size(c) > len(fixture_payloads())  # every test's records are in what verified
