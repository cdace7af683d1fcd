"""capture/jsontext.py gives what json gives, without importing json (and re) on its fast path.

Hypothesis compares :func:`jsontext.loads` and :func:`jsontext.dumps` with ``json.loads`` and
``json.dumps`` on generated values and texts; bad input must fail exactly as json fails; the
surrogate pre-check must agree with the regular expression it replaced; and a service-mode
hook run must import neither ``json`` nor ``re`` (``-X importtime`` lists what it imported).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from affidavit.capture import jsontext
from affidavit.capture.intake import may_hold_surrogate

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@given(values)
def test_dumps_is_json_dumps(value: Any) -> None:
    assert jsontext.dumps(value) == json.dumps(value)
    assert jsontext.dumps(value, compact=True) == json.dumps(value, separators=(",", ":"))


@given(values, st.sampled_from(["", " ", "\n\t ", "\r\n"]))
def test_loads_is_json_loads(value: Any, space: str) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        text = space + text + space
        assert jsontext.loads(text) == json.loads(text)
        raw = text.encode("utf-8", "surrogatepass")
        assert jsontext.loads(raw) == json.loads(raw)


def test_constants_and_big_numbers_as_json_reads_them() -> None:
    value = jsontext.loads("[NaN, Infinity, -Infinity, 1e400, 123456789012345678901234567890, 1.5]")
    assert math.isnan(value[0]) and value[1:4] == [math.inf, -math.inf, math.inf]
    assert value[4:] == [123456789012345678901234567890, 1.5]
    assert jsontext.dumps([math.inf, -math.inf]) == json.dumps([math.inf, -math.inf])


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "{",
        '{"a": 1,}',
        "[1, 2] x",
        "{} {}",
        '"\x01"',
        "\ufeff{}",
        "nul",
        '{"a" 1}',
        b"\xff{}",
    ],
)
def test_bad_input_fails_as_json_fails(bad: str | bytes) -> None:
    with pytest.raises((ValueError, UnicodeDecodeError)) as ours:
        jsontext.loads(bad)
    with pytest.raises((ValueError, UnicodeDecodeError)) as theirs:
        json.loads(bad)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


def test_bad_input_fails_as_json_fails_in_a_process_without_json() -> None:
    probe = (
        "import sys\n"
        "from affidavit.capture import jsontext\n"
        "assert 'json' not in sys.modules\n"
        "for bad in ('{\"a\": \"cut', '[1, 2', '[' * 100000 + ']' * 100000):\n"
        "    try:\n"
        "        jsontext.loads(bad)\n"
        "    except (ValueError, RecursionError) as e:\n"
        "        print(type(e).__name__, e)\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "JSONDecodeError Unterminated string starting at: line 1 column 7 (char 6)",
        "JSONDecodeError Expecting ',' delimiter: line 1 column 6 (char 5)",
        "RecursionError maximum recursion depth exceeded while decoding a JSON array from a "
        "unicode string",
    ]


@pytest.mark.parametrize(
    "raw",
    [
        b'\xef\xbb\xbf{"a": 1}',  # a UTF-8 byte-order mark
        '{"a": "\u00e9"}'.encode("utf-16"),
        '{"a": "\u00e9"}'.encode("utf-16-le"),
        '{"a": 1}'.encode("utf-32-be"),
    ],
)
def test_other_encodings_are_read_as_json_reads_them(raw: bytes) -> None:
    assert jsontext.loads(raw) == json.loads(raw)


def test_what_json_cannot_write_fails_the_same_way() -> None:
    for value in ({1j: 1}, [object()], {"a": {1, 2}}):
        with pytest.raises(TypeError) as ours:
            jsontext.dumps(value)
        with pytest.raises(TypeError) as theirs:
            json.dumps(value)
        assert str(ours.value) == str(theirs.value)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        jsontext.dumps(loop)


_OLD = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\xed[\xa0-\xbf]")


@given(st.binary(max_size=40) | st.text(max_size=20).map(lambda t: t.encode("unicode_escape")))
def test_the_surrogate_check_finds_what_the_pattern_found(raw: bytes) -> None:
    if _OLD.search(raw):
        assert may_hold_surrogate(raw)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return  # not UTF-8: walked anyway, which costs time, never correctness
    assert may_hold_surrogate(raw) == bool(_OLD.search(raw))


@pytest.mark.parametrize(
    "raw", [b'"\\ud83d\\ude00"', b'"\\uDFFF"', '"\ud800"'.encode("utf-8", "surrogatepass")]
)
def test_surrogates_are_found(raw: bytes) -> None:
    assert may_hold_surrogate(raw)


@pytest.mark.parametrize("raw", [b'"\\u00e9 \\ud7ff"', "\ud7a3 \uffff".encode(), b"\\\\u"])
def test_no_surrogate_is_found_where_none_is(raw: bytes) -> None:
    assert not may_hold_surrogate(raw)


def test_a_service_mode_hook_imports_neither_json_nor_re(tmp_path: Path) -> None:
    from affidavit.service.recorder import Recorder
    from affidavit.service.server import Server
    from ledger_helpers import new_ledger
    from test_hook import hook_env

    folder = Path(tmp_path)
    sock = folder / "s.sock"
    if len(str(sock)) > 100:  # a Unix socket path is at most 107 bytes
        pytest.fail(f"temp path too long for a socket: {sock}")
    server = Server(lambda: Recorder(new_ledger(folder)), str(sock), seal_interval=3600)
    server.bind()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    assert server.ready.wait(60)
    target = folder / "note.txt"
    target.write_text("hello\n")
    event = {
        "session_id": "s-1",
        "hook_event_name": "PostToolUse",
        "tool_name": "Edit",
        "tool_use_id": "toolu_imports",
        "cwd": str(folder),
        "tool_input": {"file_path": str(target), "old_string": "hi", "new_string": "hello"},
        "tool_response": {"filePath": str(target)},
    }
    env = {**hook_env(folder / "home"), "AFFIDAVIT_SPOOL": str(folder / "user")}
    (folder / "user.spool").mkdir(mode=0o700)  # left by an earlier hand-over, and empty
    try:
        run = subprocess.run(
            [sys.executable, "-X", "importtime", "-E", "-P", "-m", "affidavit", "hook",
             "--ledger", str(folder / "ledger.sqlite"), "--socket", str(sock)],
            input=json.dumps(event).encode(), capture_output=True, env=env, timeout=120,
        )  # fmt: skip
    finally:
        server.stop()
        thread.join(60)
    assert run.returncode == 0
    lines = run.stderr.decode().splitlines()
    assert lines and all(line.startswith("import time:") for line in lines), lines[-3:]
    imported = {line.rsplit("|", 1)[1].strip() for line in lines[1:]}
    assert "affidavit.capture.client" in imported  # the probe sees the hook's imports
    assert "json" not in imported and "re" not in imported, sorted(imported)
    assert "affidavit.capture.spool" not in imported  # nothing spooled: nothing to hand over
