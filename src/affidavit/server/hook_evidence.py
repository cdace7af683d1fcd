"""Before/after evidence of a file edit, from what an ``http`` hook's payload carries.

The collector cannot read the user's files, so for an edit captured over ``http`` it keeps
what Claude Code put in the PostToolUse event (code.claude.com/docs/en/hooks, PostToolUse
input; the fields as real payloads show them, e.g. the public agent-verdict fixtures):
``tool_response.originalFile`` (the text before; ``null`` for a new file), the text after
(the Write ``content``; for Edit and MultiEdit the original with the edits applied, as
:func:`affidavit.capture.events.after_text` computes it) and ``tool_response.structuredPatch``
(the hunks Claude Code itself computed). Stored in the record's payload as::

    evidence {before, after, patch, cut}

``before``/``after`` are left out when unknown; a text over :data:`EVIDENCE_CAP` characters is
not kept (its hash is in ``file``) and named in ``cut``. The payload is erasable like the rest.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from affidavit.capture import events

EVIDENCE_CAP = 2**20  # characters per text: a record is not a file store


def evidence_of(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """The evidence of a PostToolUse file edit, or None for any other event."""
    tool = event.get("tool_name")
    if event.get("hook_event_name") != "PostToolUse" or tool not in events.FILE_WRITERS:
        return None
    raw_input = event.get("tool_input")
    tool_input: Mapping[str, Any] = raw_input if isinstance(raw_input, Mapping) else {}
    response = event.get("tool_response")
    r: Mapping[str, Any] = response if isinstance(response, Mapping) else {}
    original = r.get("originalFile")
    out: dict[str, Any] = {}
    cut: list[str] = []
    texts = {
        "before": original if isinstance(original, str) else None,
        "after": events.after_text(str(tool), tool_input, response),
    }
    for name, text in texts.items():
        if text is None:
            continue
        if len(text) > EVIDENCE_CAP:
            cut.append(name)
        else:
            out[name] = text
    patch = r.get("structuredPatch")
    if isinstance(patch, list) and patch:
        out["patch"] = events.cap(patch, EVIDENCE_CAP)
    if cut:
        out["cut"] = cut
    return out or None
