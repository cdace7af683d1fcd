"""The export's fast reads of a committed payload (affidavit.views) give exactly what the
plain reads give: :func:`load_payload` what ``json.loads`` gives, whichever parser runs, and
the per-section column reader what the per-column JSON-path reader gives."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from affidavit.store import derived
from affidavit.views import _at, _payload_values, _typed, load_payload

TRICKY = [
    b'{"a": 1}',
    b'{"big": 123456789012345678901234567890}',  # past 64 bits: orjson refuses, json reads
    b'{"lone": "\\ud800"}',  # a lone surrogate escape: orjson refuses, json reads
    b'{"huge": 1e400}',  # past the float range
    b'{"dup": 1, "dup": 2}',  # the last one wins in both
    b'{"nul": "a\\u0000b", "uni": "\\u00e9\\u2028"}',
    b'[1, 2, {"x": null}]',
    b'{"deep": ' + b"[" * 200 + b"]" * 200 + b"}",
]


def test_load_payload_gives_what_json_gives() -> None:
    for text in TRICKY:
        assert load_payload(text) == json.loads(text), text


def plain(body: Any) -> list[Any]:
    return [_typed(_at(body, p), t) for _, p, t in derived.PAYLOAD_COLUMNS]


leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner),
    max_leaves=8,
)
SECTIONS = sorted({p.split(".")[1] for _, p, _ in derived.PAYLOAD_COLUMNS})
KEYS = sorted({p.split(".")[2] for _, p, _ in derived.PAYLOAD_COLUMNS})
sections = st.dictionaries(
    st.sampled_from(KEYS) | st.text(max_size=3), leaves | st.text(alphabet="a\x00b"), max_size=6
)
payloads = st.dictionaries(st.sampled_from(SECTIONS), sections | values, max_size=5) | values


@settings(max_examples=400, deadline=None)
@given(payloads)
def test_section_reader_matches_the_path_reader(body: Any) -> None:
    assert _payload_values(body) == plain(body)


def test_section_reader_on_a_full_payload() -> None:
    body = {
        "actor": {"user": "ann", "email": "ann@example.com"},
        "agent": {"product": "claude-code", "session_id": "s", "tool_use_id": "t", "tool": "Edit"},
        "file": {"path": "a/b\x00c", "before_sha256": "0" * 64, "after_sha256": 7, "size": True},
        "command": {"text": "ls"},
    }
    got = _payload_values(body)
    assert got == plain(body)
    assert got[6] == "a/b" and got[8] is None and got[9] is None
