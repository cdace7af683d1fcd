"""External witnesses of the org log: the client side of c2sp.org/tlog-witness.

An admin adds a witness by its URL prefix and its ``cosignature/v1`` vkey (``affidavit
server witnesses add URL --vkey VKEY``). After each seal the integrator asks every witness
whose newest cosignature is older than the org log's checkpoint: ``POST <url>/add-checkpoint``
with the size the witness last cosigned for this log (0 at first), the RFC 9162 consistency
proof from it, and the checkpoint. A 409 answer names the size the witness holds; the request
is made once more from that size. The cosignature is checked against the pinned vkey (lines
by other keys are ignored, as the spec asks) and stored in ``org_cosignatures``; ``GET
/checkpoint`` serves the org checkpoint with those lines added, so a tlog client that trusts
the witness sees them.

A witness that is down or refuses costs a warning in the server log and nothing else: this
worker asks it again only after :data:`RETRY_S` (each worker keeps its own clock), so an
unreachable witness does not cost every seal a timeout while the integrator holds its lock.
"""

from __future__ import annotations

import base64
import http.client
import logging
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import psycopg

from affidavit.cosignature import Cosigner, verify_cosignature
from affidavit.errors import AffidavitError, InputError
from affidavit.http_body import read_body
from affidavit.ledger import Ledger
from affidavit.note import Checkpoint
from affidavit.server.schema import Collector
from affidavit.store.postgres import PostgresStore

TIMEOUT_S = 10
RETRY_S = 60.0
log = logging.getLogger("affidavit.server")
_failed: dict[str, float] = {}  # witness URL -> when this process may ask it again
_failed_lock = threading.Lock()


class WitnessError(AffidavitError):
    """An external witness did not cosign (unreachable, refused, or a bad answer)."""


def add(conn: psycopg.Connection[Any], c: Collector, url: str, vkey: str) -> Cosigner:
    """Pin the witness at ``url`` by its cosigner key."""
    if not url.startswith(("http://", "https://")):
        raise InputError(f"witness URL {url!r}: expected http:// or https://")
    cosigner = Cosigner.from_vkey(vkey)
    conn.execute(
        f'INSERT INTO "{c.schema}".witnesses (url, vkey) VALUES (%s, %s) '
        "ON CONFLICT (url) DO UPDATE SET vkey = EXCLUDED.vkey",
        (url.rstrip("/"), cosigner.vkey()),
    )
    return cosigner


def listed(conn: psycopg.Connection[Any], c: Collector) -> list[dict[str, Any]]:
    rows = conn.execute(
        f'SELECT w.url, w.vkey, max(o.size) FROM "{c.schema}".witnesses w '
        f'LEFT JOIN "{c.schema}".org_cosignatures o ON o.witness = w.vkey '
        "GROUP BY w.url, w.vkey ORDER BY w.url"
    ).fetchall()
    return [{"url": u, "vkey": v, "cosigned_size": s or 0} for u, v, s in rows]


def ask_all(conn: psycopg.Connection[Any], c: Collector, ledger: Ledger[PostgresStore]) -> int:
    """Ask every witness behind the org log's newest checkpoint; returns cosignatures got."""
    latest = ledger.latest_checkpoint()
    if latest is None:
        return 0
    size, note = latest
    got = 0
    for w in listed(conn, c):
        url = w["url"]
        with _failed_lock:
            resting = _failed.get(url, 0.0) > time.monotonic()
        if w["cosigned_size"] >= size or resting:
            continue
        try:
            ask(conn, c, ledger, url, Cosigner.from_vkey(w["vkey"]), note)
            got += 1
            with _failed_lock:
                _failed.pop(url, None)
        except AffidavitError as e:
            log.warning("witness %s: %s; next try in %g s", url, str(e).splitlines()[0], RETRY_S)
            with _failed_lock:
                _failed[url] = time.monotonic() + RETRY_S
    return got


def ask(
    conn: psycopg.Connection[Any],
    c: Collector,
    ledger: Ledger[PostgresStore],
    url: str,
    cosigner: Cosigner,
    note: str,
) -> str:
    """One add-checkpoint exchange (and one retry after a 409); the stored cosignature."""
    body = note[: note.index("\n\n") + 1]
    cp = Checkpoint.parse_body(body)
    row = conn.execute(
        f'SELECT max(size) FROM "{c.schema}".org_cosignatures WHERE witness = %s',
        (cosigner.vkey(),),
    ).fetchone()
    old = int(row[0]) if row is not None and row[0] is not None else 0
    for _ in range(2):
        status, answer = _post(url, _request(ledger, old, cp.size, note))
        if status == 409 and answer.strip().isdigit() and int(answer) != old:
            old = int(answer)
            if old > cp.size:
                raise WitnessError(f"it holds size {old}, past the org log's {cp.size}")
            continue
        if status != 200:
            raise WitnessError(f"add-checkpoint answered {status}: {answer.strip()[:200]}")
        for line in answer.splitlines():
            if line.startswith(f"\u2014 {cosigner.name} "):
                try:
                    when = verify_cosignature(line, body, cosigner)
                except AffidavitError:
                    continue  # another key of the same name: ignored
                conn.execute(
                    f'INSERT INTO "{c.schema}".org_cosignatures VALUES (%s, %s, %s, %s) '
                    "ON CONFLICT (witness, size) DO NOTHING",
                    (cosigner.vkey(), cp.size, line, when),
                )
                return line
        raise WitnessError("its answer holds no cosignature by the pinned key")
    raise WitnessError(f"it answered 409 twice (it holds size {old})")


def _request(ledger: Ledger[PostgresStore], old: int, size: int, note: str) -> bytes:
    proof = ledger.prove_consistency(old, size).proof if 0 < old < size else ()
    lines = [f"old {old}", *(base64.b64encode(p).decode() for p in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


def _post(url: str, data: bytes) -> tuple[int, str]:
    req = urllib.request.Request(
        url.rstrip("/") + "/add-checkpoint", data=data, method="POST",
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            return int(resp.status), read_body(resp, 64 * 1024).decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return int(e.code), e.read(64 * 1024).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        raise WitnessError(f"cannot reach it: {getattr(e, 'reason', e)}") from None
    except http.client.HTTPException as e:
        raise WitnessError(f"it broke off its answer: {e!r}") from None


def cosigned_note(conn: psycopg.Connection[Any], c: Collector, size: int, note: str) -> str:
    """The org checkpoint ``note`` with the witnesses' cosignature lines for ``size`` added."""
    rows = conn.execute(
        f'SELECT cosignature FROM "{c.schema}".org_cosignatures WHERE size = %s ORDER BY witness',
        (size,),
    ).fetchall()
    return note + "".join(line + "\n" for (line,) in rows)
