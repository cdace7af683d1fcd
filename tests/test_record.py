"""Tests for affidavit.record: envelope/payload split, commitments, leaf bytes, RFC 8785.

The fast canonical-JSON path (the C ``json`` encoder) is compared byte for byte with the
``rfc8785`` package by Hypothesis over arbitrary JSON values.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from affidavit import record
from affidavit.errors import InputError, VerificationError
from affidavit.record import (
    SALT_SIZE,
    Envelope,
    Kind,
    Record,
    canonical_json,
    check_kind,
    check_source,
    format_time,
    parse_time,
)

T0 = datetime(2026, 11, 26, 10, 5, 3, 123, tzinfo=UTC)
SALT = bytes(range(16))
PAYLOAD: dict[str, Any] = {
    "path": "finance/q3.xlsx",
    "actor": "alice@example.com",
    "session": "s-1",
    "sha256": "ab" * 32,
    "bytes": 1234,
    "ratio": 0.5,
    "tags": ["a", "é", "\U0001f600"],
    "ok": True,
    "note": None,
}


def make(payload: dict[str, Any] | None = None, **kw: Any) -> Record:
    kw.setdefault("time", T0)
    kw.setdefault("salt", SALT)
    return Record.create(
        Kind.FILE_UPDATE, "claude-code.hook", PAYLOAD if payload is None else payload, **kw
    )


# -- envelope / payload split ---------------------------------------------------------------


def test_leaf_is_rfc8785_of_the_envelope_only() -> None:
    r = make()
    envelope = json.loads(r.leaf)
    assert set(envelope) == {"commitment", "kind", "source", "time", "v"}
    assert r.leaf == rfc8785.dumps(envelope)
    assert envelope == {
        "commitment": base64.b64encode(r.envelope.commitment).decode("ascii"),
        "kind": "file.update",
        "source": "claude-code.hook",
        "time": "2026-11-26T10:05:03.000123Z",
        "v": 1,
    }
    # Nothing personal from the payload reaches the leaf.
    for value in ("finance", "alice", "s-1", "ab" * 32):
        assert value.encode() not in r.leaf


def test_commitment_is_sha256_of_salt_and_rfc8785_payload() -> None:
    r = make()
    expected = hashlib.sha256(SALT + rfc8785.dumps(PAYLOAD)).digest()
    assert r.envelope.commitment == expected
    assert r.payload_json == rfc8785.dumps(PAYLOAD)
    assert r.salt == SALT
    assert r.payload == PAYLOAD
    assert not r.erased
    r.verify_commitment()


def test_envelope_leaf_matches_the_record_leaf_and_round_trips() -> None:
    r = make()
    assert r.envelope.leaf() == r.leaf
    assert Envelope.from_leaf(r.leaf) == r.envelope


def test_default_salt_is_random_so_equal_payloads_commit_differently() -> None:
    a = Record.create(Kind.FILE_READ, "t", {"path": "x"}, time=T0)
    b = Record.create(Kind.FILE_READ, "t", {"path": "x"}, time=T0)
    assert a.salt is not None and len(a.salt) == SALT_SIZE
    assert a.salt != b.salt
    assert a.envelope.commitment != b.envelope.commitment
    assert a.payload_json == b.payload_json


def test_payload_key_order_does_not_change_the_commitment() -> None:
    forward = make({"a": 1, "b": 2})
    backward = make({"b": 2, "a": 1})
    assert forward.leaf == backward.leaf


@pytest.mark.parametrize("salt", [b"", bytes(15), bytes(17)])
def test_salt_of_the_wrong_size_is_refused(salt: bytes) -> None:
    with pytest.raises(InputError, match="16 bytes"):
        make(salt=salt)


@pytest.mark.parametrize("payload", [[1, 2], "text", 3, None])
def test_payload_must_be_an_object(payload: Any) -> None:
    with pytest.raises(InputError, match="JSON object"):
        Record.create(Kind.FILE_READ, "t", payload, time=T0)


def test_verify_commitment_fails_for_changed_payload_salt_or_erasure() -> None:
    r = make()
    changed = Record(r.envelope, r.leaf, r.payload_json.replace(b"1234", b"1235"), r.salt)  # type: ignore[union-attr]
    with pytest.raises(VerificationError, match="commitment"):
        changed.verify_commitment()
    with pytest.raises(VerificationError, match="commitment"):
        Record(r.envelope, r.leaf, r.payload_json, bytes(16)).verify_commitment()
    erased = Record(r.envelope, r.leaf, None, None)
    assert erased.erased and erased.payload is None
    with pytest.raises(VerificationError, match="erased"):
        erased.verify_commitment()


# -- time -----------------------------------------------------------------------------------


def test_time_is_utc_rfc3339_with_microseconds() -> None:
    assert format_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
    assert format_time(T0) == "2026-11-26T10:05:03.000123Z"


def test_time_offsets_are_converted_to_utc() -> None:
    plus2 = datetime(2026, 1, 1, 1, 30, 0, 999999, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(plus2) == "2025-12-31T23:30:00.999999Z"
    minus = datetime(2026, 6, 30, 22, 0, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))
    assert format_time(minus) == "2026-07-01T03:30:00.000000Z"
    assert make(time=plus2).envelope.time == "2025-12-31T23:30:00.999999Z"


def test_naive_time_is_refused() -> None:
    with pytest.raises(InputError, match="time zone"):
        format_time(datetime(2026, 1, 1))
    with pytest.raises(InputError, match="time zone"):
        make(time=datetime(2026, 1, 1))


def test_parse_time_needs_an_offset() -> None:
    assert parse_time("2026-11-26T10:00:00Z") == datetime(2026, 11, 26, 10, tzinfo=UTC)
    assert format_time(parse_time("2026-11-26T12:00:00.5+02:00")) == "2026-11-26T10:00:00.500000Z"
    with pytest.raises(InputError, match="no offset"):
        parse_time("2026-11-26T10:00:00")
    for bad in ("yesterday", "", "2026-13-01T00:00:00Z"):
        with pytest.raises(InputError, match="RFC 3339"):
            parse_time(bad)


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.timezones()
    )
)
def test_any_aware_time_formats_to_the_same_instant(moment: datetime) -> None:
    text = format_time(moment)
    assert text.endswith("Z") and len(text) == len("2026-11-26T10:05:03.000123Z")
    offset = moment.utcoffset()
    assert offset is not None
    # The wall time minus its offset (fold-aware, so DST repeats map to the right instant).
    assert parse_time(text).replace(tzinfo=None) == moment.replace(tzinfo=None) - offset


# -- kinds and sources ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_is_accepted(kind: Kind) -> None:
    assert check_kind(kind.value) == kind.value
    assert json.loads(Record.create(kind, "t", {}, time=T0).leaf)["kind"] == kind.value


@pytest.mark.parametrize("kind", ["", "file", "FILE.UPDATE", "file.update ", "x.y", "erasure2"])
def test_unknown_kinds_are_refused(kind: str) -> None:
    with pytest.raises(InputError, match="unknown record kind"):
        check_kind(kind)
    with pytest.raises(InputError, match="unknown record kind"):
        Record.create(kind, "t", {}, time=T0)


@pytest.mark.parametrize("source", ["t", "claude-code.hook", "otel:logs/v1", "a_b", "0", "a" * 64])
def test_valid_sources(source: str) -> None:
    assert check_source(source) == source


@pytest.mark.parametrize(
    "source",
    ["", "Claude", "has space", "-lead", ".lead", "a" * 65, "tab\t", "line\n", "é", "a\u0660", 7],
)
def test_invalid_sources_are_refused(source: Any) -> None:
    with pytest.raises(InputError, match="source"):
        check_source(source)


def test_record_with_invalid_source_is_refused() -> None:
    with pytest.raises(InputError, match="source"):
        Record.create(Kind.FILE_READ, "Bad Source", {}, time=T0)


# -- Envelope.from_leaf strictness ----------------------------------------------------------


def leaf_of(**fields: Any) -> bytes:
    data: dict[str, Any] = json.loads(make().leaf)
    data.update(fields)
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def test_from_leaf_accepts_the_canonical_leaf_only() -> None:
    r = make()
    assert Envelope.from_leaf(leaf_of()) == r.envelope
    spaced = json.dumps(json.loads(r.leaf), sort_keys=True).encode()
    unsorted = json.dumps(dict(reversed(json.loads(r.leaf).items())), separators=(",", ":"))
    for text in (spaced, unsorted.encode(), r.leaf + b"\n", b" " + r.leaf):
        with pytest.raises(InputError, match="canonical"):
            Envelope.from_leaf(text)


def test_from_leaf_refuses_duplicate_keys_and_escaped_text() -> None:
    r = make()
    duplicated = r.leaf.replace(b'"kind":"file.update"', b'"kind":"x","kind":"file.update"')
    escaped = r.leaf.replace(b"file.update", b"file\\u002eupdate")
    for text in (duplicated, escaped):
        with pytest.raises(InputError, match="canonical"):
            Envelope.from_leaf(text)


@pytest.mark.parametrize(
    "leaf",
    [
        leaf_of(extra=1),
        b'{"commitment":"AA==","kind":"x","source":"y","time":"z"}',
        b"[]",
        b'"envelope"',
        b"null",
    ],
)
def test_from_leaf_refuses_missing_or_extra_fields(leaf: bytes) -> None:
    with pytest.raises(InputError, match="five fields"):
        Envelope.from_leaf(leaf)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": 1},
        {"source": None},
        {"time": ["2026"]},
        {"kind": {"a": 1}},
        {"commitment": base64.b64encode(bytes(31)).decode()},
        {"commitment": base64.b64encode(bytes(33)).decode()},
        {"commitment": ""},
    ],
)
def test_from_leaf_refuses_wrong_types(fields: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="wrong types"):
        Envelope.from_leaf(leaf_of(**fields))


@pytest.mark.parametrize("v", [2**53, 10**30, -1, True, 1.0, "1", None, 9007199254740993, -(2**53)])
def test_from_leaf_refuses_a_bad_schema_version(v: Any) -> None:
    with pytest.raises(InputError, match="schema version"):
        Envelope.from_leaf(leaf_of(v=v))


def test_from_leaf_refuses_a_version_with_thousands_of_digits() -> None:
    leaf = make().leaf.replace(b'"v":1', b'"v":' + b"9" * 5000)
    with pytest.raises(InputError):
        Envelope.from_leaf(leaf)


def test_from_leaf_accepts_the_largest_safe_version() -> None:
    assert Envelope.from_leaf(leaf_of(v=2**53 - 1)).v == 2**53 - 1


@pytest.mark.parametrize(
    "commitment",
    [
        "not base64!",
        "A" * 43 + "=" + "=",
        base64.b64encode(bytes(32)).decode().rstrip("="),
        base64.urlsafe_b64encode(b"\xff" * 32).decode(),
        7,
        ["AA=="],
        None,
    ],
)
def test_from_leaf_refuses_bad_base64(commitment: Any) -> None:
    with pytest.raises(InputError, match="base64"):
        Envelope.from_leaf(leaf_of(commitment=commitment))


def test_from_leaf_refuses_non_canonical_base64_padding_bits() -> None:
    good = base64.b64encode(bytes(32)).decode()  # ends "A="; "B=" decodes the same
    assert good.endswith("A=")
    with pytest.raises(InputError, match="canonical"):
        Envelope.from_leaf(leaf_of(commitment=good[:-2] + "B="))


@pytest.mark.parametrize(
    "leaf",
    [b"", b"{", b"\xff\xfe", b'{"commitment":"\xff"}', make().leaf[:-1], b"\x00" * 8],
)
def test_from_leaf_refuses_non_json(leaf: bytes) -> None:
    with pytest.raises(InputError):
        Envelope.from_leaf(leaf)


def test_from_leaf_refuses_a_lone_surrogate() -> None:
    with pytest.raises(InputError, match="Unicode"):
        Envelope.from_leaf(make().leaf.replace(b"claude-code.hook", b"\\ud800"))


def test_from_leaf_refuses_utf16_and_bom_encodings() -> None:
    leaf = make().leaf
    for text in (leaf.decode().encode("utf-16"), b"\xef\xbb\xbf" + leaf):
        with pytest.raises(InputError):
            Envelope.from_leaf(text)


# -- canonical JSON: the fast path against the rfc8785 package ------------------------------

SAFE = 2**53 - 1
# Every code point but surrogates, with the awkward ones drawn often: astral characters
# (UTF-16 key order differs from code point order only past U+FFFF), controls, quotes.
CHARS = st.one_of(
    st.characters(exclude_categories=["Cs"]),
    st.sampled_from('\U0001f600\U00010000\U0010ffff\ue000\uffff\ufb01a\x00\x1f\x7f"\\/\u2028'),
)
TEXT = st.text(CHARS, max_size=8)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-SAFE, SAFE),
    st.sampled_from([SAFE, -SAFE, 0]),
    TEXT,
)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)


def json_values(scalars: st.SearchStrategy[Any], keys: st.SearchStrategy[str]) -> Any:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
        max_leaves=30,
    )


PLAIN_KEYS = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]), max_size=6)


@given(json_values(SCALARS, PLAIN_KEYS))
def test_fast_path_values_equal_rfc8785(value: Any) -> None:
    # These values take the fast path (no floats, no astral keys): the C encoder's bytes.
    assert record._plain(value)
    assert canonical_json(value) == rfc8785.dumps(value)


@given(json_values(st.one_of(SCALARS, FLOATS), TEXT))
def test_canonical_json_equals_rfc8785_for_any_json_value(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


@given(st.dictionaries(st.text(CHARS, min_size=1, max_size=4), st.integers(), min_size=2))
def test_object_keys_sort_by_utf16_code_units(value: dict[str, int]) -> None:
    value = {k: v % SAFE for k, v in value.items()}
    keys = list(json.loads(canonical_json(value)))
    assert keys == sorted(value, key=lambda k: k.encode("utf-16-be"))


def test_astral_keys_sort_before_high_bmp_keys() -> None:
    # By code point U+1F600 > U+FFFF; in UTF-16 it is D83D DE00 < FFFF, which RFC 8785 uses.
    out = canonical_json({"\uffff": 1, "\U0001f600": 2})
    assert out == '{"\U0001f600":2,"\uffff":1}'.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-0.0, b"0"), (1e21, b"1e+21"), (1.5, b"1.5"), (1e-7, b"1e-7"), (100.0, b"100")],
)
def test_floats_use_ecmascript_number_formatting(value: float, expected: bytes) -> None:
    assert canonical_json(value) == expected
    assert canonical_json({"x": [value]}) == b'{"x":[' + expected + b"]}"


def test_payload_with_float_commits_over_rfc8785_bytes() -> None:
    r = make({"x": 1e21, "y": -0.0})
    assert r.payload_json == b'{"x":1e+21,"y":0}'


UNSAFE_INTS = st.one_of(st.integers(min_value=SAFE + 1), st.integers(max_value=-SAFE - 1))
SURROGATE = st.characters(categories=["Cs"])


def embed(bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``bad`` somewhere inside a JSON value, sometimes next to a float (the slow path)."""
    return st.tuples(bad, st.sampled_from(["bare", "list", "dict", "float", "deep"])).map(
        lambda pair: {
            "bare": pair[0],
            "list": [1, "a", pair[0]],
            "dict": {"a": {"b": pair[0]}},
            "float": [0.5, {"k": pair[0]}],
            "deep": [[[[{"z": [pair[0]]}]]]],
        }[pair[1]]
    )


@given(embed(UNSAFE_INTS))
def test_unsafe_integers_are_input_errors(value: Any) -> None:
    with pytest.raises(InputError):
        canonical_json(value)


@given(embed(st.sampled_from([float("nan"), float("inf"), float("-inf")])))
def test_nan_and_infinity_are_input_errors(value: Any) -> None:
    with pytest.raises(InputError):
        canonical_json(value)


@given(
    st.tuples(TEXT, SURROGATE, TEXT).map("".join),
    st.sampled_from(["value", "key", "value+float", "key+float"]),
)
def test_lone_surrogates_are_input_errors(text: str, where: str) -> None:
    value: Any = {text: 1} if where.startswith("key") else [text]
    if where.endswith("float"):
        value = [0.25, value]
    with pytest.raises(InputError, match=r"Unicode|UTF-8"):
        canonical_json(value)


def test_circular_structures_are_input_errors() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    cycle: dict[str, Any] = {"x": 0.5}
    cycle["self"] = {"again": cycle}
    for value in (loop, cycle):
        with pytest.raises(InputError):
            canonical_json(value)


@pytest.mark.parametrize("container", ["list", "dict", "list+float"])
def test_very_deep_nesting_is_an_input_error(container: str) -> None:
    value: Any = 0.5 if container.endswith("float") else 1
    for _ in range(10**5):
        value = {"a": value} if container == "dict" else [value]
    with pytest.raises(InputError, match="deep"):
        canonical_json(value)


def test_moderate_nesting_is_fine() -> None:
    value: Any = 1
    for _ in range(200):
        value = [value]
    assert canonical_json(value) == b"[" * 200 + b"1" + b"]" * 200


@pytest.mark.parametrize("value", [b"bytes", {1, 2}, object(), (1, 2j), {1: "int key"}])
def test_non_json_types_are_input_errors(value: Any) -> None:
    with pytest.raises(InputError):
        canonical_json(value)


def test_record_create_turns_bad_payload_values_into_input_errors() -> None:
    for payload in ({"n": 2**60}, {"f": float("nan")}, {"s": "\udc00"}):
        with pytest.raises(InputError):
            Record.create(Kind.FILE_READ, "t", payload, time=T0)
