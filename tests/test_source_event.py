"""The source event a hook record keeps: ``raw_rest`` holds what the mapper did not keep
verbatim elsewhere, and :func:`source_event` rebuilds the event (redacted and capped as it
was stored) from it, or reads ``raw`` from records written before ``raw_rest``."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from affidavit.capture.events import cap, map_event, source_event
from affidavit.record import canonical_json

ACTOR = {"user": "ana", "host": "laptop-1"}
EDIT = {
    "cwd": "/home/ana/proj",
    "hook_event_name": "PostToolUse",
    "permission_mode": "acceptEdits",
    "prompt_id": "b6027b00-cda7-421e-a049-e52ae7462dd1",
    "session_id": "5668ec28-8187-4443-bfc9-b89bf23120bc",
    "tool_name": "Edit",
    "tool_input": {
        "file_path": "/home/ana/proj/note.txt",
        "old_string": "the old words of the file",
        "new_string": "the new words of the file",
        "replace_all": False,
    },
    "tool_response": {"filePath": "/home/ana/proj/note.txt", "userModified": False},
    "tool_use_id": "toolu_01G4c8Ku4BpQJyNapaRu2EaE",
    "transcript_path": "/home/ana/.claude/projects/p/5668ec28.jsonl",
    "duration_ms": 2,
}


def mapped(event: dict[str, Any]) -> dict[str, Any]:
    ((_, payload),) = map_event(event, actor=ACTOR)
    return payload


def test_fields_held_elsewhere_are_kept_once_and_put_back() -> None:
    payload = mapped(EDIT)
    assert "raw" not in payload
    assert payload["raw_rest"] == {
        "tool_response": EDIT["tool_response"],
        "transcript_path": EDIT["transcript_path"],
        "duration_ms": 2,
    }
    stored = canonical_json(payload)
    assert stored.count(b"the old words of the file") == 1
    assert stored.count(EDIT["session_id"].encode()) == 1
    assert source_event(payload) == EDIT


def test_a_record_written_with_the_whole_event_still_reads() -> None:
    old = {"agent": {"event": "Stop"}, "raw": {"hook_event_name": "Stop", "x": 1}}
    assert source_event(old) == {"hook_event_name": "Stop", "x": 1}
    assert source_event({"agent": {"event": "Stop"}}) is None  # not mapped from an event


def test_a_field_the_mapper_cut_or_left_empty_stays_whole() -> None:
    long_input = {"file_path": "/p/a.py", "content": "x" * 2000}  # tool.input cuts at 1 KiB
    event = EDIT | {"tool_name": "Write", "tool_input": long_input, "cwd": "", "prompt": ""}
    payload = mapped(event)
    assert payload["raw_rest"]["tool_input"] == long_input
    assert payload["raw_rest"]["cwd"] == "" and payload["raw_rest"]["prompt"] == ""
    assert source_event(payload) == event


def test_a_default_the_mapper_filled_in_is_not_taken_for_the_event() -> None:
    event = {"session_id": "s1", "whatever": [1, 2]}  # no hook_event_name: agent.event unknown
    payload = mapped(event)
    assert payload["agent"]["event"] == "unknown"
    assert source_event(payload) == event
    prompt = mapped({"hook_event_name": "UserPromptSubmit", "session_id": "s1"})
    assert prompt["prompt"] == {"text": ""}
    assert source_event(prompt) == {"hook_event_name": "UserPromptSubmit", "session_id": "s1"}


def test_a_long_prompt_keeps_its_capped_form_in_the_rest() -> None:
    event = {"hook_event_name": "UserPromptSubmit", "prompt": "p" * 5000}
    payload = mapped(event)
    assert len(payload["prompt"]["text"]) == 5000
    assert source_event(payload) == cap(event)


KEYS = st.sampled_from(
    ["cwd", "hook_event_name", "permission_mode", "prompt_id", "session_id", "tool_use_id",
     "tool_name", "agent_id", "tool_input", "prompt", "error", "tool_response", "extra"]
)  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(["", "unknown", "PreToolUse", "PostToolUse", "UserPromptSubmit", "Edit"]),
    st.text(max_size=20),
    st.integers(-5, 5),
    st.booleans(),
    st.none(),
    st.dictionaries(st.sampled_from(["file_path", "command", "x"]), st.text(max_size=8)),
    st.lists(st.integers(0, 3), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=10))
def test_any_event_is_rebuilt_exactly(event: dict[str, Any]) -> None:
    assert source_event(mapped(event)) == cap(event)
