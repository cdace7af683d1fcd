"""JSON for the hook, straight from ``_json``, the C module under the standard ``json`` package.

Importing ``json`` imports ``re`` (and ``enum`` with it) and compiles its patterns: about 5 ms
of CPU on every hook run, a quarter of a service-mode hook's whole process (``bench_service``).
The C scanner and encoder under it are all the hook needs. :func:`loads` and :func:`dumps`
give exactly what ``json.loads`` and ``json.dumps`` give (ASCII output, default or compact
separators); anything the fast path does not handle (a byte-order mark, UTF-16 or UTF-32
input, a document that is not valid JSON) goes to ``json`` itself, so its errors, with their
line and column, are the ones a caller sees. Where ``_json`` is missing or its interface
changed, everything goes to ``json``. ``tests/test_jsontext.py`` compares the two.

Standard library only: the hook (:mod:`affidavit.capture.client`) and the wire format
(:mod:`affidavit.capture.wire`) use it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_WHITESPACE = " \t\n\r"  # what json skips around a document


class _Context:
    """The attributes ``_json.make_scanner`` reads from a ``json.JSONDecoder`` (its defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {
        "-Infinity": float("-inf"),
        "Infinity": float("inf"),
        "NaN": float("nan"),
    }.__getitem__


def _default(value: object) -> Any:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


_scan: Callable[[str, int], tuple[Any, int]] | None
_encoder: Any
try:
    import _json

    # typeshed types the context as a scanner; the C code reads the attributes above.
    _scan = _json.make_scanner(_Context())  # type: ignore[arg-type]
    _encoder = _json.encode_basestring_ascii
    _json.make_encoder({}, _default, _encoder, None, ":", ",", False, False, True)
except Exception:  # another Python, another _json: the json package does all of it
    _scan = None


def loads(data: str | bytes) -> Any:
    """``json.loads(data)``."""
    if isinstance(data, bytes):
        if data[:3] == b"\xef\xbb\xbf" or b"\0" in data[:4]:
            return _slow_loads(data)  # a BOM, or UTF-16/32: json detects the encoding
        text = data.decode("utf-8", "surrogatepass")  # as json decodes UTF-8 bytes
    else:
        text = data
    if _scan is None:
        return _slow_loads(text)
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except Exception:
        # Not JSON (or nested too deeply): json says what and where. The C scanner can say it
        # only once json.decoder is loaded (else it fails with a SystemError).
        return _slow_loads(text)
    if text[end:].strip(_WHITESPACE):
        return _slow_loads(text)  # extra data after the document
    return value


def dumps(value: Any, *, compact: bool = False) -> str:
    """``json.dumps(value)``; ``compact``: with ``separators=(",", ":")``."""
    if _scan is None:
        import json

        return json.dumps(value, separators=(",", ":") if compact else None)
    items, keys = (",", ":") if compact else (", ", ": ")
    encode = _json.make_encoder({}, _default, _encoder, None, keys, items, False, False, True)
    return "".join(encode(value, 0))


def _slow_loads(data: str | bytes) -> Any:
    import json

    return json.loads(data)
