"""``affidavit verify``: recheck the whole ledger, its derived tables, and on a damaged file
say what is still provable (:mod:`affidavit.cli.salvage`)."""

from __future__ import annotations

from typing import IO

import click

from affidavit.cli.commands import cli, pass_paths
from affidavit.cli.common import Paths, b64, emit_json, json_option, progress_bar, read_text
from affidavit.cli.salvage import salvaging
from affidavit.errors import InputError, VerificationError
from affidavit.note import Verifier
from affidavit.views import VIEWS


@cli.command()
@click.option(
    "--from",
    "from_file",
    type=click.File("rb"),
    help="A checkpoint you kept earlier: also prove the log only grew since.",
)
@click.option("--vkey", help="Pin the verifier key instead of trusting the one in the ledger.")
@json_option
@pass_paths
def verify(paths: Paths, from_file: IO[bytes] | None, vkey: str | None, as_json: bool) -> None:
    """Recheck every record, subtree hash, checkpoint root and signature.

    Exit 0 when everything holds, 1 naming the first record or checkpoint that fails and
    why, 2 for usage errors or unreadable input. On a damaged file (a torn page, a truncated
    file, a wrong header, a damaged WAL) it lists what is unreadable and which records are
    still provable against the last good checkpoint, and exits 1 (2 when nothing of a ledger
    is readable).
    """
    from affidavit.shipping import Witnessed, witnessed

    seen: Witnessed | None = None
    kept = read_text(from_file) if from_file is not None else None
    pinned = Verifier.from_vkey(vkey) if vkey else None
    with salvaging(paths, kept=kept, key=pinned, as_json=as_json) as ledger:
        total = ledger.store.size()
        try:
            with progress_bar(total, "verifying") as progress:
                report = ledger.verify(
                    from_checkpoint=kept, key=pinned, progress=progress, views=VIEWS
                )
            seen = witnessed(ledger, paths.ledger)  # the collector's cosignature, if shipped
        except InputError as e:  # only the kept checkpoint is parsed from input here
            name = from_file.name if from_file is not None else "--from"
            raise InputError(f"{name}: {e}") from e
        except VerificationError as e:
            if as_json:
                emit_json({"ok": False, "where": e.where, "error": str(e)})
            raise
    result = {
        "ok": True,
        "records": report.records,
        "erased": report.erased,
        "subtrees": report.nodes,
        "checkpoints": report.checkpoints,
        "tree_size": report.tree_size,
        "root": b64(report.root),
        "from_size": report.from_size,
        "views": dict(report.views),
    }
    if seen is not None:  # shipped to a collector: its cosignature was checked
        result["witnessed"] = {"by": seen.name, "size": seen.size, "at": seen.time}
    if as_json:
        emit_json(result)
        return
    click.echo(
        f"OK: {report.records} records ({report.erased} erased), {report.nodes} subtree "
        f"hashes, {report.checkpoints} checkpoints; tree size {report.tree_size}, "
        f"root {result['root']}"
    )
    click.echo(
        "OK: derived tables agree with the records: "
        + ", ".join(f"{name} ({count} rows)" for name, count in report.views)
    )
    if report.from_size is not None:
        click.echo(f"OK: the log only grew since your checkpoint of size {report.from_size}")
    if seen is not None:
        from datetime import UTC, datetime

        at = datetime.fromtimestamp(seen.time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        click.echo(f"OK: witnessed by {seen.name} at {at} (checkpoint of size {seen.size})")
