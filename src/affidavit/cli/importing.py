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
@click.option(
    "--user",
    help="Whose sessions these are, when you know better than the files: replaces the owner "
    "inferred from each transcript's location and cwd (recorded as stated by the importer).",
)
@click.option("--email", help="Their email, recorded with --user the same way.")
@json_option
@pass_paths
@click.pass_context
def claude_code(
    ctx: click.Context,
    paths: Paths,
    sources: tuple[Path, ...],
    user: str | None,
    email: str | None,
    as_json: bool,
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

    Whose actions: each record's actor is the session's owner as far as the evidence goes
    (the account whose home holds the transcript under ~/.claude/projects or Cowork's
    folder, else the home the session's cwd lies in, else "unknown"); who ran this import
    and when is recorded apart (imported_by, imported_at), never as the actor.

    A malformed line is reported as FILE:LINE: reason on stderr, recorded as a capture.error
    (file, line, first characters with secrets masked; once, however often you import) and
    skipped; the import goes on. A last line without a newline that is not yet whole is
    "pending" (the session is still being written): not an error, read by the next import.

    \b
    Exit status:
      0  imported, no errors (pending lines allowed)
      1  imported, but with findings: lines that could not be read (on stderr, and
         each a capture.error record) or files that could not be read (on stderr)
      2  usage error, or no PATH could be read
    --json prints {"sessions", "records", "duplicates", "corroborated", "gaps", "errors",
    "pending"}.
    """
    from affidavit.capture import transcripts

    with paths.open() as ledger:
        found, problems = transcripts.discover(sources)
        importer = transcripts.Importer(
            ledger.store,
            imported_by=transcripts.importer_identity(ledger.store),
            owner={"user": user, "email": email},
        )
        for message in problems:
            importer.result.error(message)
        with progress_bar(sum(s.size for s in found), "importing") as progress:
            importer.run(found, progress)
        result = importer.result
    for message in result.errors[:SHOWN_ERRORS]:
        say(message)
    if result.error_count > SHOWN_ERRORS:
        say(f"... and {result.error_count - SHOWN_ERRORS} more error(s)")
    for message in result.pending[:SHOWN_ERRORS]:
        say(message)
    if as_json:
        emit_json(result.to_json())
    if result.files_read == 0:
        raise InputError("nothing imported: no PATH could be read")
    say(
        f"imported {result.records} record(s) from {result.files_read} file(s), "
        f"{result.sessions} session(s): {result.duplicates} duplicate(s), "
        f"{result.corroborated} corroborated, {result.gaps} gap(s), "
        f"{result.error_count} error(s)"
        + (" (see above; recorded as capture.error)" if result.error_count else "")
        + (f", {len(result.pending)} line(s) pending" if result.pending else "")
    )
    if result.error_count:
        ctx.exit(1)
