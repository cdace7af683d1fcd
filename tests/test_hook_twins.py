"""One hook event sent both ways is counted once on the collector (``server.twins``).

A real collector (uvicorn, PostgreSQL) and a real endpoint: every hook payload in
``../shared/fixtures/`` goes through the real ``affidavit hook`` into the laptop's ledger,
which is sealed and shipped with the real CLI, and is POSTed to ``/v1/hooks`` as Claude
Code's ``http`` handler sends it. The records API, ``affidavit log --server`` and the gap
listing must then count each event once, the later record kept on the org log as
corroborating the first (a ``capture.corroboration`` record naming both by leaf hash).
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector_helpers import ORIGIN, Collector
from ledger_helpers import affidavit, new_ledger
from otlp_helpers import event, json_body
from pg_helpers import Schemas
from test_hook import QUIET, run_hook
from test_http_hooks import fixture_payloads, org_records, post

LAPTOP = "laptop.example.com/twins"
HTTP = "claude-code.http-hook"


@dataclass
class Both:
    c: Collector
    tokens: dict[str, str]
    ledger: Path

    def hook(self, body: bytes) -> None:
        done = run_hook(self.ledger, body, *QUIET)
        assert (done.returncode, done.stderr) == (0, b""), body[:200]

    def http(self, body: bytes) -> None:
        answer = post(self.c, self.tokens["http"], body)
        assert answer.status_code == 200, answer.text

    def ship(self) -> None:
        for args in (("seal",), ("ship", "--token", self.tokens["laptop"])):
            done = affidavit(self.ledger, *args)
            assert done.returncode == 0, done.stderr

    def join(self) -> None:
        """Two turns of the collector's join and seal (what its workers run every few
        seconds): the first puts shipped records in the org log, the second pairs them."""
        for _ in range(2):
            answer = self.c.post("/api/v1/seal", self.tokens["admin"], {})
            assert answer.status_code == 200, answer.text

    def records(self, **params: str) -> list[dict[str, Any]]:
        answer = self.c.get(
            "/api/v1/records", self.tokens["auditor"], params={"limit": "5000", **params}
        )
        assert answer.status_code == 200, answer.text
        return [json.loads(line) for line in answer.text.splitlines()]


@pytest.fixture
def both(pg_schemas: Schemas, tmp_path: Path) -> Iterator[Both]:
    c = Collector(pg_schemas, tmp_path / "collector")
    (tmp_path / "collector").mkdir()
    c.cli("init", "--origin", ORIGIN)
    tokens = {
        "laptop": c.token("device", "laptop"),
        "http": c.token("device", "cowork-plugin"),
        "admin": c.token("admin", "admin"),
        "auditor": c.token("auditor", "auditor"),
    }
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    new_ledger(laptop, origin=LAPTOP).close()
    ledger = laptop / "ledger.sqlite"
    # Seal every 1000 s only: the join runs when the test asks (POST /api/v1/seal).
    # No grace before a gap is listed (--gap-grace 0), so the gap listing needs no wait.
    env = {"AFFIDAVIT_SERVER_SEAL_EVERY": "1000"}
    with c.serving(env=env, options=("--gap-grace", "0")):
        done = affidavit(ledger, "enrol", c.url, "--token", tokens["laptop"])
        assert done.returncode == 0, done.stderr
        yield Both(c, tokens, ledger)


def event_of(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["kind"], row["session_id"], row["tool_use_id"], row["path"])


def test_every_fixture_sent_both_ways_is_counted_once(both: Both) -> None:
    payloads = fixture_payloads()
    names = list(payloads)
    half = len(names) // 2
    # Either order: the first half reaches the collector over http first, the rest after
    # the laptop's records, shipped, are in the org log.
    for name in names[:half]:
        both.http(payloads[name])
    for name in names:
        both.hook(payloads[name])
    both.ship()
    both.join()
    for name in names[half:]:
        both.http(payloads[name])
    both.join()
    counted = [r for r in both.records() if r["kind"] != "capture.corroboration"]
    every = [r for r in both.records(corroborating="1") if r["kind"] != "capture.corroboration"]
    shipped = [r for r in every if r["origin"] == LAPTOP and r["kind"] != "convention.snapshot"]
    by_http = [r for r in every if r["origin"] == HTTP]
    assert len(shipped) == len(by_http) == len(payloads)  # both witnesses kept every event
    # Each event once: no two counted records stand for the same hook event.
    hook_events = [r for r in counted if r["kind"] != "convention.snapshot"]
    assert len(hook_events) == len(payloads)
    copies = [r for r in every if r["corroborates"] is not None]
    assert len(copies) == len(payloads)
    # The one the org log took second is the copy: the first half's http records stand,
    # the second half's repeat the laptop's.
    first_http = {r["org_seq"] for r in by_http[:half]}
    standing = {r["org_seq"] for r in counted}
    assert first_http <= standing
    assert not {r["org_seq"] for r in by_http[half:]} & standing
    for copy in copies:
        origin, _, seq = copy["corroborates"].rpartition(":")
        (first,) = [r for r in every if (r["origin"], r["seq"]) == (origin, int(seq))]
        assert first["corroborates"] is None and event_of(first) == event_of(copy)
        assert first["origin"] != copy["origin"]  # two witnesses of one event
    # The proof: capture.corroboration records on the org log name both records.
    named = set()
    for _, kind, source, payload in org_records(both.c, own=True):
        if kind == "capture.corroboration":
            assert source == "affidavit.collector"
            for pair in payload["corroboration"]["pairs"]:
                named.add((pair["record"]["origin"], pair["record"]["seq"]))
                for side in ("record", "of"):
                    (row,) = [
                        r
                        for r in every
                        if (r["origin"], r["seq"]) == (pair[side]["origin"], pair[side]["seq"])
                    ]
                    assert base64.b64decode(pair[side]["leaf_hash"]) == base64.b64decode(
                        row["leaf_hash"]
                    )
    assert named == {(r["origin"], r["seq"]) for r in copies}
    # A second join turn changes nothing: each record is paired once.
    size = len(org_records(both.c, own=True))
    both.join()
    assert len(org_records(both.c, own=True)) == size
    verified = both.c.cli("verify")  # the org log, corroborations included, still verifies
    assert verified.returncode == 0, verified.stderr


def test_two_equal_events_without_a_tool_use_stay_two(both: Both) -> None:
    stop = json.dumps(
        {"hook_event_name": "Stop", "session_id": "s-stops", "cwd": "/w", "stop_hook_active": False}
    ).encode()
    for _ in range(2):  # two real stops that look alike, each seen by both hooks
        both.hook(stop)
        both.http(stop)
    both.http(stop)  # and a third stop only the http hook saw
    both.ship()
    both.join()
    counted = [r for r in both.records(session="s-stops") if r["kind"] == "agent.event"]
    every = [
        r for r in both.records(session="s-stops", corroborating="1") if r["kind"] == "agent.event"
    ]
    assert len(every) == 5
    assert len(counted) == 3  # three stops; each of the first two counted once
    assert Counter(r["origin"] for r in counted) == {HTTP: 3}  # http's arrived first here
    assert sorted(r["corroborates"] is not None for r in every) == [False] * 3 + [True] * 2


def test_two_different_prompts_without_a_tool_use_are_not_twins(both: Both) -> None:
    """Hook records keep the prompt in `prompt.text`, not in `raw_rest`: the event's key must
    still tell two prompts of one session apart, whichever witness sent them."""
    for text in ("summarise q1", "summarise q2"):
        both.http(
            json.dumps(
                {"hook_event_name": "UserPromptSubmit", "session_id": "s-two", "cwd": "/w",
                 "prompt": text}
            ).encode()
        )  # fmt: skip
    first = {"hook_event_name": "UserPromptSubmit", "session_id": "s-two", "cwd": "/w"}
    both.hook(json.dumps(first | {"prompt": "summarise q3"}).encode())
    both.ship()
    both.join()
    prompts = [r for r in both.records(session="s-two") if r["kind"] == "prompt.submit"]
    assert len(prompts) == 3
    every = both.records(session="s-two", corroborating="1")
    assert all(r["corroborates"] is None for r in every)


def test_an_observed_file_outranks_the_claim_that_came_first(both: Both, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "a.txt").write_text("to delete\n")
    event = {
        "session_id": "s-rm",
        "cwd": str(work),
        "tool_name": "Bash",
        "tool_input": {"command": "rm a.txt"},
        "tool_use_id": "toolu_rm",
    }
    pre = json.dumps(event | {"hook_event_name": "PreToolUse"}).encode()
    done = {"stdout": "", "stderr": "", "interrupted": False}
    post_ = json.dumps(event | {"hook_event_name": "PostToolUse", "tool_response": done}).encode()
    both.hook(pre)
    both.http(pre)
    (work / "a.txt").unlink()  # the command runs
    both.http(post_)  # the http hook's claim reaches the collector first
    both.join()
    (claim,) = both.records(kind="file")
    assert (claim["kind"], claim["origin"]) == ("file.claim", HTTP)  # all there is, so far
    both.hook(post_)
    both.ship()
    both.join()
    (observed,) = both.records(kind="file")
    assert (observed["kind"], observed["origin"]) == ("file.delete", LAPTOP)
    assert observed["path"] == str(work / "a.txt")
    every = both.records(kind="file", corroborating="1")
    (hidden,) = [r for r in every if r["corroborates"] is not None]
    assert hidden["kind"] == "file.claim"
    assert hidden["corroborates"] == f"{LAPTOP}:{observed['seq']}"
    # The command itself: one command.exec and one tool.intent counted, of the two each.
    kinds = Counter(r["kind"] for r in both.records(session="s-rm"))
    assert kinds["command.exec"] == kinds["tool.intent"] == 1


def test_log_server_counts_once_and_the_query_flag_is_checked(both: Both) -> None:
    body = json.dumps(
        {
            "hook_event_name": "UserPromptSubmit",
            "session_id": "s-log",
            "cwd": "/w",
            "prompt": "summarise q1",
        }
    ).encode()
    both.hook(body)
    both.ship()
    both.join()
    both.http(body)
    both.join()
    done = affidavit(
        both.ledger, "log", "--server", both.c.url, "--token", both.tokens["auditor"],
        "--session", "s-log", "--format", "jsonl",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    prompts = [r for r in rows if r["kind"] == "prompt.submit"]
    assert len(prompts) == 1 and prompts[0]["origin"] == LAPTOP  # the org log took it first
    bad = both.c.get("/api/v1/records", both.tokens["auditor"], params={"corroborating": "yes"})
    assert bad.status_code == 400 and "corroborating: 0 or 1" in bad.text


def test_the_gap_listing_counts_a_tool_call_sent_both_ways_once(both: Both) -> None:
    # The session sent telemetry (a prompt), but not this tool call's result: one
    # hook_without_otel gap, whichever hooks recorded the call.
    body = json.dumps(
        {
            "hook_event_name": "PostToolUse",
            "session_id": "s-gap",
            "cwd": "/w",
            "tool_name": "Bash",
            "tool_input": {"command": "ls"},
            "tool_response": {"stdout": "", "stderr": "", "interrupted": False},
            "tool_use_id": "toolu_gap",
        }
    ).encode()
    both.hook(body)
    both.ship()
    both.join()
    both.http(body)
    otel = json_body([event("user_prompt", "s-gap", "alice@example.com", prompt_length=3)])
    answer = httpx.post(
        both.c.url + "/v1/logs",
        json=otel,
        headers={"Authorization": f"Bearer {both.tokens['laptop']}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    both.join()
    answer = both.c.get("/api/v1/gaps", both.tokens["auditor"])
    assert answer.status_code == 200, answer.text
    gaps = [g for g in answer.json()["gaps"] if g.get("session_id") == "s-gap"]
    assert [(g["direction"], g["tool_use_id"]) for g in gaps] == [
        ("hook_without_otel", "toolu_gap")
    ]
    assert gaps[0]["device"] == LAPTOP  # the record that counts: the org log took it first
