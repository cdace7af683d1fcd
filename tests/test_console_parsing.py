"""The console's parsers on bad input: URL filters, the roles setting, tool inputs for the
side-by-side view, JSON handed to the page, redirects after sign-in. Each refuses with one
line naming the place, or degrades to showing less; none raises anything else."""

from __future__ import annotations

import json

import pytest

from affidavit.errors import InputError
from affidavit.server.console import diffs, proof, timeline
from affidavit.server.console.render import when
from affidavit.server.console.session import safe_next
from affidavit.server.console.settings import parse_roles


def test_roles_parse_and_refuse_with_the_pair_named() -> None:
    got = parse_roles(" A@Example.com=admin, b@x.org=auditor ,")
    assert got == {"a@example.com": "admin", "b@x.org": "auditor"}
    for bad in ("a@x.org", "a@x.org=root", "=admin", "a@x.org=admin,b@x.org=device"):
        with pytest.raises(InputError, match=r"AFFIDAVIT_CONSOLE_ROLES: .* is not email=role"):
            parse_roles(bad)
    assert parse_roles("") == {}
    assert parse_roles("ünï@exämple.com=auditor") == {"ünï@exämple.com": "auditor"}


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"since": ["yesterday"]}, "filter since: 'yesterday' is not an ISO 8601 time"),
        ({"until": ["2026-13-01"]}, "filter until"),
        ({"since": ["\x00\x01"]}, "filter since"),
        ({"person": ["x" * 501]}, "filter person: at most 500 characters"),
        ({"before": ["12abc"]}, "before: an org seq"),
        ({"before": [""]}, "before: an org seq"),
    ],
)
def test_bad_filters_are_refused_naming_the_filter(
    params: dict[str, list[str]], words: str
) -> None:
    with pytest.raises(InputError, match=words.replace("(", r"\(")):
        timeline.parse(params).api_filters()


def test_filters_map_to_the_records_api_and_back_to_a_url() -> None:
    view = timeline.parse(
        {
            "person": [" ünï@example.com "],
            "folder": ["finance/2026"],
            "kind": ["file", " ", "command.exec"],
            "since": ["2026-11-26T13:00:00+02:00"],
            "until": ["2026-11-27"],
            "ignored": ["x"],
        }
    )
    api = view.api_filters()
    assert api == {
        "actor": "ünï@example.com",
        "path": "finance/2026",
        "since": "2026-11-26T11:00:00.000000Z",
        "until": "2026-11-27T00:00:00.000000Z",
        "kind": ["file", "command.exec"],
    }
    assert ("before", "7") in view.query(before=7)
    assert ("kind", "file") in view.query() and not any(k == "before" for k, _ in view.query())


def test_side_by_side_survives_any_tool_input() -> None:
    rows, partial = diffs.side_by_side({"old_string": "a\nb\n", "new_string": "a\nc\n"})
    assert rows == [("equal", "1", "a", "1", "a"), ("replace", "2", "b", "2", "c")]
    assert not partial
    for given in (
        {},
        {"edits": "not a list"},
        {"edits": [1, None, {"old_string": 5}]},
        {"old_string": ["x"], "new_string": {"y": 1}},
        {"content": b"\x00\xff".decode("latin-1")},
        {"content": "x" * 10 + "…[cut 99 chars; sha256 ab]"},
    ):
        rows, partial = diffs.side_by_side(given)  # type: ignore[arg-type]
        assert isinstance(rows, list)
    assert diffs.side_by_side({"content": "x…[cut 9 chars; sha256 ab]"})[1] is True
    assert diffs.side_by_side({})[1] is True


def test_json_handed_to_the_page_cannot_end_its_script_element() -> None:
    value = {"path": "</script><script>alert(1)</script><!--", "amp": "&"}
    text = proof.script_json(value)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == value


def test_times_always_show_their_zone() -> None:
    assert when("2026-11-26T12:00:00.123456Z") == "2026-11-26 12:00:00 UTC"
    assert when(None) == "" and when("") == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/console/record/3", "/console/record/3"),
        ("https://evil.example/", "/console/timeline"),
        ("//evil.example/console/", "/console/timeline"),
        ("/consolex", "/console/timeline"),
        (None, "/console/timeline"),
    ],
)
def test_sign_in_comes_back_only_to_a_console_page(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected
