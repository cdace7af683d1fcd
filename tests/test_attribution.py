"""Whose session a transcript records (:mod:`affidavit.capture.attribution`), case by case."""

from __future__ import annotations

from typing import Any

import pytest

from affidavit.capture.attribution import home_user, owner_of

CLAUDE = ".claude/projects/-p/0e72a50a.jsonl"
COWORK = "Library/Application Support/Claude/local-agent-mode-sessions/acct-1/org-9/local_s.json"


@pytest.mark.parametrize(
    ("path", "cwd", "want"),
    [
        # The transcript sits in an account's Claude Code folder: that account.
        (f"/Users/alice/{CLAUDE}", None, {"user": "alice", "basis": "transcript location"}),
        (f"/home/bob/{CLAUDE}", None, {"user": "bob", "basis": "transcript location"}),
        (
            "C:\\Users\\Carol Ann\\.claude\\projects\\C--Users-p\\s.jsonl",
            None,
            {"user": "Carol Ann", "basis": "transcript location"},
        ),
        ("d:/Users/dan/.claude/projects/x/s.jsonl", None, {"user": "dan"}),
        (f"/mnt/c/Users/erin/{CLAUDE}", None, {"user": "erin"}),
        (f"/root/{CLAUDE}", None, {"user": "root"}),
        # Cowork's folder also names the Claude account and organization.
        (
            f"/Users/fay/{COWORK}",
            "/sessions/quiet-bold-turing/mnt/outputs",
            {"user": "fay", "account_id": "acct-1", "org_id": "org-9"},
        ),
        # A copy elsewhere: the session's working directory decides.
        ("/tmp/copied/s.jsonl", "/Users/alice/dev/app", {"user": "alice", "basis": "working dir"}),
        ("/srv/t/s.jsonl", "/home/bob/src", {"user": "bob", "basis": "working dir"}),
        ("/srv/t/s.jsonl", "C:\\Users\\Carol\\repo", {"user": "Carol", "basis": "working dir"}),
        # Both: the location wins, and a different cwd owner stays visible.
        (f"/home/bob/{CLAUDE}", "/home/alice/shared", {"user": "bob", "cwd_user": "alice"}),
        # No evidence: unknown, never a guess.
        ("/tmp/copied/s.jsonl", None, {"user": "unknown", "basis": "no evidence"}),
        ("/tmp/copied/s.jsonl", "/sessions/x/mnt/outputs", {"user": "unknown"}),
        ("/home/bob/Downloads/s.jsonl", "/opt/app", {"user": "unknown"}),  # no Claude folder
        (f"/Users/Shared/{CLAUDE}", None, {"user": "unknown"}),  # not a person's home
        ("C:\\Users\\Public\\.claude\\projects\\p\\s.jsonl", None, {"user": "unknown"}),
        ("relative/.claude/projects/p/s.jsonl", "relative", {"user": "unknown"}),
        ("", "", {"user": "unknown"}),
    ],
)
def test_owner_from_location_and_cwd(path: str, cwd: str | None, want: dict[str, Any]) -> None:
    if want.get("basis") == "working dir":
        want = {**want, "basis": "working directory"}
    got = owner_of(path, cwd=cwd)
    assert {k: got.get(k) for k in want} == want
    if want["user"] == "unknown":
        assert got["basis"] == "no evidence" and "cwd_user" not in got


def test_importer_statement_replaces_the_inference_and_says_so() -> None:
    got = owner_of(f"/home/bob/{CLAUDE}", cwd="/home/bob", stated={"user": "robert", "email": ""})
    assert got == {"user": "robert", "basis": "stated by the importer", "cwd_user": "bob"}
    got = owner_of("/tmp/x.jsonl", stated={"email": "a@example.com"})
    assert got == {"user": "unknown", "email": "a@example.com", "basis": "stated by the importer"}


def test_user_type_is_kept_but_names_no_one() -> None:
    got = owner_of("/tmp/x.jsonl", user_type="external")
    assert got == {"user": "unknown", "basis": "no evidence", "user_type": "external"}


@pytest.mark.parametrize(
    ("path", "user"),
    [
        ("/Users/alice", "alice"),
        ("/home/bob/", "bob"),
        ("/var/root/x", "root"),
        ("/homeless/bob/x", None),
        ("/Users/../etc", None),
        ("/home//x", None),
        ("C:Users\\x", None),
        ("\\\\server\\Users\\x", None),
    ],
)
def test_home_user(path: str, user: str | None) -> None:
    assert home_user(path) == user
