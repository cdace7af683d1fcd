"""The pure half of diff/rollback from an http hook's evidence: texts, or only a patch."""

from __future__ import annotations

import pytest

from affidavit.capture.evidence_diff import diff_of, restore_of
from affidavit.errors import InputError

FILE = {"path": "/sessions/s/mnt/outputs/a.txt"}
PATCH = [{"oldStart": 1, "oldLines": 1, "newStart": 1, "newLines": 1, "lines": ["-hi", "+hello"]}]


def test_texts_give_a_diff_and_a_restore() -> None:
    payload = {"file": FILE, "evidence": {"before": "hi\n", "after": "hello\n"}}
    assert "-hi\n+hello\n" in diff_of("file.update", payload, seq=3)
    restore = restore_of("file.update", payload, seq=3)
    assert (restore.path, restore.before) == (FILE["path"], "hi\n")
    assert "-hello\n+hi\n" in restore.patch


def test_texts_over_the_cap_fall_back_to_claude_codes_patch() -> None:
    payload = {"file": FILE, "evidence": {"patch": PATCH, "cut": ["before", "after"]}}
    text = diff_of("file.update", payload, seq=4)
    assert text.splitlines()[2:] == ["@@ -1,1 +1,1 @@", "-hi", "+hello"]
    with pytest.raises(InputError, match="did not keep the text after"):
        restore_of("file.update", payload, seq=4)


@pytest.mark.parametrize(
    ("kind", "payload", "message"),
    [
        ("command.exec", {"file": FILE}, "not a file edit"),
        ("file.update", {"file": FILE}, "no before/after evidence"),
        ("file.update", {"evidence": {"after": "x"}}, "names no file path"),
        ("file.update", {"file": FILE, "evidence": {"patch": "nope"}}, "neither the texts"),
        ("file.update", {"file": FILE, "evidence": {"patch": [{"lines": ["-a"]}]}}, "line numbers"),
        ("file.update", {"file": FILE, "evidence": {"patch": [7]}}, "not a list of hunks"),
    ],
)
def test_records_without_enough_evidence_are_refused(
    kind: str, payload: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        diff_of(kind, payload, seq=5)
