"""``affidavit import``: fill the ledger from what agents wrote down themselves.

Parses the command line, calls :func:`affidavit.capture.transcripts.import_paths`, prints.
"""

from __future__ import annotations

from pathlib import Path

import click

from affidavit.cli.commands import Paths, cli, emit_json, json_option, pass_paths, progress_bar, say
from affidavit.errors import InputError

SHOWN_ERRORS = 50


@cli.group("import")
def import_() -> None:
    """Import records from agents' own logs (transcripts) into the ledger.

    Use it for sessions that ran before the hook was installed, on machines without it, or
    to check the hook: what both saw is corroborated, what only the log shows becomes a
    capture.gap record, so a gap in capture is visible instead of silent.
    """


@import_.command("claude-code")
@click.argument(
    "sources", metavar="PATH...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option("--user", help="Who ran the sessions. Default: the local OS user.")
@click.option("--email", help="Their email. Default: the Claude account in ~/.claude.json.")
@json_option
@pass_paths
def claude_code(
    paths: Paths, sources: tuple[Path, ...], user: str | None, email: str | None, as_json: bool
) -> None:
    """Import Claude Code transcripts and Cowork sessions from PATH... (files or folders).

    \b
    PATH can be:
      ~/.claude/projects                 every Claude Code session (subagents included)
      ~/.claude/projects/<proj>/<id>.jsonl   one transcript
      .../Claude/local-agent-mode-sessions   Cowork: local_<id>.json + audit.jsonl
    Folders are searched for *.jsonl transcripts and local_*.json Cowork session records.

    Each tool call becomes the record the hook would have written (file writes with their
    before/after hashes, commands, web fetches, prompts...), source claude-code.transcript,
    timed by the transcript. Importing again adds nothing (duplicates). A tool call a hook
    already recorded is not copied: it is counted as corroborated, and one
    capture.corroboration record per session lists the hook records it confirms. A tool
    call no hook saw is recorded with a capture.gap record.

    A malformed line is reported as FILE:LINE: reason on stderr and skipped; the import goes
    on. Exit status 0 even then (the summary says how many), 2 if no PATH could be read.
    --json prints {"sessions", "records", "duplicates", "corroborated", "gaps", "errors"}.
    """
    from affidavit.capture import transcripts

    with paths.open() as ledger:
        found, problems = transcripts.discover(sources)
        actor = transcripts.default_actor(ledger.store, user=user, email=email)
        importer = transcripts.Importer(ledger.store, actor=actor)
        for message in problems:
            importer.result.error(message)
        with progress_bar(sum(s.size for s in found), "importing") as progress:
            importer.run(found, progress)
        result = importer.result
    for message in result.errors[:SHOWN_ERRORS]:
        say(message)
    if result.error_count > SHOWN_ERRORS:
        say(f"... and {result.error_count - SHOWN_ERRORS} more error(s)")
    if as_json:
        emit_json(result.to_json())
    if result.files_read == 0:
        raise InputError("nothing imported: no PATH could be read")
    say(
        f"imported {result.records} record(s) from {result.files_read} file(s), "
        f"{result.sessions} session(s): {result.duplicates} duplicate(s), "
        f"{result.corroborated} corroborated, {result.gaps} gap(s), "
        f"{result.error_count} error(s)" + (" (see above)" if result.error_count else "")
    )
