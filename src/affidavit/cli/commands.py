"""The ledger commands: parse, call one core function, print.

Data goes to stdout, progress and summaries to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click

from affidavit.cli.common import (
    Paths,
    b64,
    emit_json,
    json_option,
    progress_bar,
    read_text,
    say,
)
from affidavit.cli.group import cli, pass_paths
from affidavit.errors import InputError
from affidavit.files import write_atomically
from affidavit.ledger import Ledger
from affidavit.record import Record, parse_time

# The shared helpers live in :mod:`affidavit.cli.common` and the group in
# :mod:`affidavit.cli.group`; command modules import them from here, so they are re-exported.
__all__ = [
    "Paths",
    "b64",
    "cli",
    "emit_json",
    "json_option",
    "pass_paths",
    "progress_bar",
    "read_text",
    "say",
]


@cli.command()
@click.option(
    "--origin",
    help="The log's name in its checkpoints (a URL-like string without spaces or '+'). "
    "Default: affidavit/<hostname>/<random>.",
)
@json_option
@pass_paths
def init(paths: Paths, origin: str | None, as_json: bool) -> None:
    """Create a ledger and its signing key; print the verifier key.

    Refuses to overwrite an existing ledger or key. Give the verifier key to whoever will
    check your checkpoints.
    """
    if origin is None:
        import socket  # only here: every command loads this module

        host = "".join(c if c.isalnum() or c in ".-" else "-" for c in socket.gethostname())
        origin = f"affidavit/{host or 'host'}/{os.urandom(4).hex()}"
    with Ledger.create(paths.ledger, origin=origin, key_path=paths.key) as ledger:
        vkey = ledger.verifier.vkey()
    if as_json:
        emit_json(
            {"ledger": str(paths.ledger), "key": str(paths.key), "origin": origin, "vkey": vkey}
        )
        return
    say(f"created ledger {paths.ledger}")
    say(f"signing key   {paths.key} (mode 0600; keep it off the agent's folders)")
    say("verifier key:")
    click.echo(vkey)


def _read_lines(stream: IO[bytes], name: str, now: Callable[[], Any]) -> Iterator[Record]:
    # Bytes in, decoded line by line: a text stream decodes ahead in chunks, so its
    # UnicodeDecodeError could name neither the line nor the byte within it.
    for number, raw in enumerate(stream, start=1):
        where = f"{name}:{number}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{where}: not UTF-8 text ({e.reason} at byte {e.start + 1})") from e
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as e:
            raise InputError(f"{where}: not JSON ({e})") from e
        except RecursionError as e:
            raise InputError(f"{where}: JSON nests too deeply") from e
        if not isinstance(item, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(item).__name__}")
        unknown = set(item) - {"kind", "source", "time", "payload"}
        if unknown:
            names = (k if k.isprintable() else repr(k) for k in sorted(unknown))
            raise InputError(f"{where}: unknown field(s) {', '.join(names)}")
        for field in ("kind", "source", "payload"):
            if field not in item:
                raise InputError(f"{where}: missing field {field!r}")
        if not isinstance(item["payload"], dict):
            raise InputError(f"{where}: field 'payload' must be an object")
        for field in ("kind", "source"):
            if not isinstance(item[field], str):
                raise InputError(f"{where}: field {field!r} must be a string")
        if item["kind"] == "erasure":
            raise InputError(f"{where}: erasure records are written by `affidavit erase` only")
        try:
            time = parse_time(item["time"]) if "time" in item else now()
            yield Record.create(item["kind"], item["source"], item["payload"], time=time)
        except InputError as e:
            raise InputError(f"{where}: {e}") from e


@cli.command()
@click.argument("file", type=click.File("rb"), default="-")
@json_option
@pass_paths
def append(paths: Paths, file: IO[bytes], as_json: bool) -> None:
    """Append records from JSON Lines (FILE, or - for stdin); print their seqs.

    Each line: {"kind": "file.update", "source": "my-tool", "time": "2026-11-26T10:00:00Z",
    "payload": {...}}; "time" is optional (default: now). All or nothing: a bad line is
    reported with its line number and nothing is appended.
    """
    from datetime import UTC, datetime

    name = "<stdin>" if file.name == "<stdin>" else file.name
    with paths.open_privileged("affidavit append", signs=False) as ledger:
        seqs = ledger.append(_read_lines(file, name, lambda: datetime.now(UTC)))
    if as_json:
        emit_json({"seqs": list(seqs)})
    else:
        sys.stdout.writelines(f"{s}\n" for s in seqs)
    say(f"appended {len(seqs)} record(s)" + (f": {seqs.start}..{seqs.stop - 1}" if seqs else ""))


@cli.command()
@json_option
@pass_paths
def seal(paths: Paths, as_json: bool) -> None:
    """Integrate new records into the tree and publish a signed checkpoint; print it."""
    with paths.open_privileged("affidavit seal") as ledger:
        note = ledger.seal()
        latest = ledger.latest_checkpoint()
    size = latest[0] if latest else 0
    if as_json:
        emit_json({"size": size, "checkpoint": note})
    else:
        sys.stdout.write(note)
        say(f"published checkpoint of size {size}")


@cli.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the checkpoint to this file (for an auditor to keep) instead of printing it.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing --out file.")
@pass_paths
def checkpoint(paths: Paths, out: Path | None, force: bool) -> None:
    """Print the latest signed checkpoint exactly as signed.

    An auditor keeps it (--out FILE) and runs `affidavit verify --from FILE` at the next
    review: that proves the log only grew in between.
    """
    with paths.open(readonly=True) as ledger:
        latest = ledger.latest_checkpoint()
    if latest is None:
        raise InputError("nothing is published yet; run `affidavit seal`")
    if out is None:
        sys.stdout.write(latest[1])
        return
    if out.exists() and not force:
        raise InputError(f"{out} exists; use --force to overwrite it")
    try:
        write_atomically(out, latest[1], exclusive=not force)
    except FileExistsError:
        raise InputError(f"{out} exists; use --force to overwrite it") from None
    say(f"saved checkpoint of size {latest[0]} to {out}")


@cli.command()
@pass_paths
def key(paths: Paths) -> None:
    """Print the ledger's verifier key (name+keyid+base64 key, as C2SP signed-note)."""
    with paths.open(readonly=True) as ledger:
        click.echo(ledger.verifier.vkey())


def _parse_range(spec: str) -> tuple[int, int | None]:
    try:
        if ".." in spec:
            a, b = spec.split("..", 1)
            return int(a), int(b) + 1
        return int(spec), int(spec) + 1
    except ValueError:
        raise click.BadParameter(f"{spec!r} is not SEQ or START..END") from None


def row_json(row: tuple[int, bytes, bytes, bytes | None, bytes | None]) -> dict[str, Any]:
    seq, leaf, leaf_hash, salt, body = row
    return {
        "seq": seq,
        "envelope": json.loads(leaf),
        "leaf": b64(leaf),
        "leaf_hash": b64(leaf_hash),
        "payload": None if body is None else json.loads(body),
        "salt": None if salt is None else b64(salt),
    }


@cli.command()
@click.argument("spec", required=False)
@click.option("--all", "show_all", is_flag=True, help="Every record.")
@json_option
@pass_paths
def show(paths: Paths, spec: str | None, show_all: bool, as_json: bool) -> None:
    """Show records SEQ, START..END (inclusive) or --all, one JSON object per line.

    Fields: seq, envelope, leaf (base64 leaf bytes), leaf_hash, payload, salt (payload and
    salt are null once erased). Streams, so --all works on any size in constant memory.
    """
    if show_all == (spec is not None):
        raise click.UsageError("give SEQ, START..END, or --all")
    start, end = (0, None) if spec is None else _parse_range(spec)
    with paths.open(readonly=True) as ledger:
        found = False
        for row in ledger.rows(start, end):
            found = True
            sys.stdout.write(json.dumps(row_json(row), ensure_ascii=False) + "\n")
        if not found and spec is not None:
            raise InputError(f"no record in {spec}; the ledger holds {ledger.store.size()}")
    del as_json  # JSON Lines is the only form: show is for reading by tools and people alike


@cli.command()
@click.argument("seq", type=int, required=False)
@click.option(
    "--consistency",
    nargs=2,
    type=int,
    metavar="OLD NEW",
    help="Prove that the published tree of size NEW extends the tree of size OLD.",
)
@json_option
@pass_paths
def prove(
    paths: Paths, seq: int | None, consistency: tuple[int, int] | None, as_json: bool
) -> None:
    """Print an inclusion proof for record SEQ, or a consistency proof with --consistency.

    Proofs are RFC 9162 audit paths against a signed checkpoint (the latest by default), so
    any RFC 9162 / C2SP verifier can check them. Hashes are base64.
    """
    if (seq is None) == (consistency is None):
        raise click.UsageError("give SEQ or --consistency OLD NEW")
    with paths.open(readonly=True) as ledger:
        if consistency is not None:
            c = ledger.prove_consistency(consistency[0], consistency[1])
            out: dict[str, Any] = {
                "size1": c.size1,
                "size2": c.size2,
                "proof": [b64(h) for h in c.proof],
                "checkpoint": c.checkpoint,
            }
        else:
            assert seq is not None
            p = ledger.prove_inclusion(seq)
            out = {
                "index": p.index,
                "tree_size": p.tree_size,
                "leaf_hash": b64(p.leaf_hash),
                "proof": [b64(h) for h in p.proof],
                "checkpoint": p.checkpoint,
            }
    if as_json:
        emit_json(out)
        return
    for name, value in out.items():
        if name == "proof":
            click.echo("proof:")
            for h in value:
                click.echo(f"  {h}")
        elif name == "checkpoint":
            click.echo("checkpoint:")
            sys.stdout.write("".join(f"  {line}\n" for line in value.splitlines()))
        else:
            click.echo(f"{name}: {value}")


@cli.command()
@click.argument("seqs", type=int, nargs=-1, required=True)
@click.option("--reason", required=True, help="Why (recorded in the erasure record).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_paths
def erase(paths: Paths, seqs: tuple[int, ...], reason: str, yes: bool, as_json: bool) -> None:
    """Erase the payloads of records SEQ... (for example a GDPR request).

    Deletes payload and salt for good (SQLite secure_delete) and appends an `erasure`
    record naming the seqs and the reason. Envelopes stay, so the ledger still verifies.
    """
    if not yes:
        if not sys.stdin.isatty():
            raise InputError("erase needs --yes when not run from a terminal")
        click.confirm(f"Erase the payloads of {len(seqs)} record(s) for good?", abort=True)
    with paths.open_privileged("affidavit erase") as ledger:
        seq = ledger.erase(list(seqs), reason)
    if as_json:
        emit_json({"erased": sorted(set(seqs)), "erasure_seq": seq})
    else:
        say(f"erased {len(set(seqs))} payload(s); erasure recorded as record {seq}")


@cli.command()
@click.option(
    "--check",
    is_flag=True,
    help="Also run SQLite's page check over the whole file (reads all of it; exit 1 and "
    "name the damage if any page is damaged). Writes only check the pages they touch.",
)
@json_option
@pass_paths
def status(paths: Paths, check: bool, as_json: bool) -> None:
    """Show size, integrated and published counts, the last checkpoint and erased count."""
    from affidavit.errors import LedgerCorruptError

    pages = None
    try:
        with paths.open(readonly=True) as ledger:
            if check:
                ledger.store.check_pages()  # notes damage beside the ledger; clears a note
                pages = "ok"
            st = ledger.status()
    except LedgerCorruptError as e:
        if not check:
            raise
        if as_json:
            emit_json({"ok": False, "error": str(e)})
        click.echo(f"FAILED: {e}", err=True)
        raise click.exceptions.Exit(1) from e
    fields = {
        "ledger": str(paths.ledger),
        "origin": st.origin,
        "vkey": st.vkey,
        "size": st.size,
        "integrated": st.integrated,
        "published": st.published,
        "unpublished": st.size - st.published,
        "last_published_at": st.last_published_at,
        "erased": st.erased,
        "last_checkpoint": st.last_checkpoint,
    }
    if check:
        fields["pages"] = pages
    from affidavit.shipping import unshipped

    with paths.open(readonly=True) as ledger:
        left = unshipped(ledger, paths.ledger)
    if left is not None:  # enrolled with a collector
        fields["unshipped"] = left
    if as_json:
        emit_json(fields)
        return
    for name, value in fields.items():
        if name != "last_checkpoint":
            click.echo(f"{name + ':':<19}{'-' if value is None else value}")
    unpublished = st.size - st.published
    if unpublished:
        say(f"{unpublished} record(s) not yet published; run `affidavit seal`")
