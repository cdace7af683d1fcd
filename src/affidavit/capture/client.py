"""Service mode: the hook as a thin client of the recorder service.

The hook runs as the user, so it alone can read the user's files. It reads what the event
touched (:class:`~affidavit.capture.observe.Observation`), asks the service the two things
only the ledger knows (what the PreToolUse of this tool call saw; the last hash of a file
under its stat), sends one ``record`` frame (:mod:`affidavit.capture.wire`) and waits for
the ack, which the service sends only after the records are durably committed.

The event goes over the socket as parsed, not redacted: the folder policy must judge the text
an agent wrote (a credential written to a file is a finding), and the service redacts before
anything is stored, as the hook does in direct mode. Everything that leaves the trusted path,
the spool, is redacted.

Each delivery carries a random id. When no ack comes (the service died), the event is
spooled with that id, so a service that had committed it before dying records it once.

From the moment it has a connection until the event is acknowledged or spooled, the hook
holds an in-flight marker (:mod:`affidavit.capture.inflight`) in the user's own folder
(``<spool base>.inflight/``), naming the event and the delivery id. After an ack, the hook
hands over the user's spool and then the markers of killed runs (:mod:`.handover`); the
service records a ``capture.gap`` for each whose delivery never arrived. Standard library
only.
"""

from __future__ import annotations

# The C module under ``socket``: the hook needs a Unix stream socket and nothing of what
# socket.py adds (its enums and the selectors module cost every run about 2 ms).
import _socket
import binascii  # base64 without base64.py, which the hook would import for two calls
import contextlib
import os
import sys
import zlib

from affidavit.capture import conventions, digest, inflight, jsontext, wire
from affidavit.capture.intake import actor_of, decode, error_draft
from affidavit.capture.observe import Observation
from affidavit.capture.options import DEFAULT_SOCKET as DEFAULT_SOCKET
from affidavit.capture.wire import ServiceError as ServiceError
from affidavit.capture.wire import exchange

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from affidavit.capture import snapshots
    from affidavit.capture.options import Options


def user_spool_base() -> str:
    """The base of this account's spool (``<base>.spool/``), outside any service folder."""
    chosen = os.environ.get("AFFIDAVIT_SPOOL")
    if chosen:
        return chosen
    # platformdirs' user data folder, spelled out for the two platforms with a service mode:
    # importing platformdirs would cost every hook run a few milliseconds.
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "affidavit", "service")
    if os.name == "posix":
        data = os.environ.get("XDG_DATA_HOME", "").strip() or os.path.join(home, ".local", "share")
        return os.path.join(data, "affidavit", "service")
    import platformdirs

    from affidavit.locations import APP

    return str(platformdirs.user_data_path(APP) / "service")


class RemoteLookup:
    """The ledger's answers, asked over the socket (see :class:`observe.ConnLookup`)."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock

    def pending(self, use_id: str, *, packed: bool) -> Any:
        if not packed:
            # A Write/Edit's before-hash: the service adds it from its own table when it
            # records the event (Recorder.merge_pending), which saves a round trip.
            return None
        reply = exchange(self.sock, {"op": "pending", "tool_use_id": use_id})
        data = reply.get("state")
        if data is None:
            return None
        raw = binascii.a2b_base64(data, strict_mode=True)
        return jsontext.loads(zlib.decompress(raw) if packed else raw)

    def recall(self, items: list[tuple[str, snapshots.Stat]]) -> list[str | None]:
        if not items:
            return []
        reply = exchange(self.sock, {"op": "recall", "items": [[p, list(st)] for p, st in items]})
        hashes = reply.get("hashes")
        if not isinstance(hashes, list) or len(hashes) != len(items):
            raise ServiceError("the service's recall answer does not match the question")
        return [h if isinstance(h, str) else None for h in hashes]

    def meta(self, key: str) -> str | None:
        value = exchange(self.sock, {"op": "meta", "key": key}).get("value")
        return value if isinstance(value, str) else None


class Outcome:
    __slots__ = ("acked", "block", "problem")

    def __init__(self, acked: bool, block: str | None = None, problem: str | None = None) -> None:
        # problem: the service was reached and then failed; None: no service was there.
        self.acked, self.block, self.problem = acked, block, problem


class Delivery:
    """One event sent to the service."""

    def __init__(self, opts: Options, raw: bytes) -> None:
        self.opts, self.raw = opts, raw
        self.id = ""
        self.fingerprint: tuple[str, str] | None = None  # conventions sent, to remember
        self.marker: inflight.Marker | None = None
        self.decoded: tuple[dict[str, Any] | None, str | None] = (None, None)

    def run(self) -> Outcome:
        path = self.opts.socket
        if not path or not os.path.exists(path):
            return Outcome(False)
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.settimeout(self.opts.service_timeout)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            return Outcome(False)  # nobody listening: the other modes
        self.id = os.urandom(16).hex()
        self.decoded = decode(self.raw)
        self.marker = mark(self.raw, self.decoded[0], self.id)
        try:
            try:
                reply = exchange(sock, self.message(sock))
            except Exception as e:  # no ack: the event is spooled, whatever went wrong
                return Outcome(False, problem=f"recorder service at {path}: {e}")
            self.release()  # recorded: a kill from here on loses nothing
            block = reply.get("block")
            if self.fingerprint is not None:
                remember_fingerprint(*self.fingerprint)
            # The event is recorded; a spool not handed over stays for the next run.
            from affidavit.capture.handover import drain

            with contextlib.suppress(OSError, ValueError, ServiceError, EOFError):
                drain(sock, user_spool_base())
        finally:
            sock.close()
        return Outcome(True, block if isinstance(block, str) else None)

    def release(self) -> None:
        """The event is acknowledged or spooled: drop the marker."""
        if self.marker is not None:
            self.marker.remove()
            self.marker = None

    def message(self, sock: _socket.socket) -> dict[str, Any]:
        opts, raw = self.opts, self.raw
        event, problem = self.decoded
        obs = Observation(opts.max_file_bytes, opts.manifest_cap)
        lookup = RemoteLookup(sock)
        message: dict[str, Any] = {
            "op": "record",
            "delivery": self.id,
            "claims": actor_of(None),
            "problems": opts.problems,
        }
        if event is None:
            message["problem"] = problem or "unreadable event"
            message["input"] = error_draft({}, "", raw)[1]["input"]
            return message
        obs.observe(event, lookup)
        message["event"] = event
        message["observed"] = obs.observed
        message["extra"] = obs.extra
        message["reads"] = [[p, c, s.sha256, s.size] for p, c, s in obs.reads]
        message["remembered"] = [[p, list(st), sha] for p, st, sha in obs.remembered]
        if obs.pending is not None:
            message["pending"] = [obs.pending[0], _b64(obs.pending[1])]
        message["done_pending"] = obs.done_pending
        blobs = list(obs.blobs)
        found = conventions.fingerprint(event)
        if found is not None:
            key, print_, stats = found
            forced = conventions.forced(event)
            # Ask the service only when this account has not had this fingerprint recorded.
            if forced or known_fingerprint(key) != print_:
                if forced or lookup.meta(key) != print_:
                    draft, snaps = conventions.snapshot_draft(event, stats, {}, opts.max_file_bytes)
                    blobs += snaps
                    message["conventions"] = {"key": key, "print": print_, "draft": list(draft)}
                self.fingerprint = (key, print_)
        message["blobs"] = pack_blobs(blobs)
        return message


def mark(raw: bytes, event: dict[str, Any] | None, delivery: str) -> inflight.Marker | None:
    """This run's in-flight marker, in the user's own folder (see the module docstring)."""
    facts = inflight.facts_of(event, len(raw), digest.sha256_hex(raw))
    facts["delivery"] = delivery
    return inflight.Marker.create(user_spool_base(), facts)


def _fingerprints_path() -> str:
    return user_spool_base() + ".conventions.json"


def known_fingerprint(key: str) -> str | None:
    """The conventions fingerprint this account last had recorded for ``key`` (a cwd).

    A cache in the user's own folder that spares every event a question to the service. The
    user can change it, and so skip a convention snapshot: no more than a user can do by not
    running the hook, and the service still records every event.
    """
    try:
        with open(_fingerprints_path(), encoding="utf-8") as f:
            value = jsontext.loads(f.read()).get(key)
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def remember_fingerprint(key: str, print_: str) -> None:
    path = _fingerprints_path()
    try:
        with open(path, encoding="utf-8") as f:
            known = jsontext.loads(f.read())
        known = known if isinstance(known, dict) else {}
    except (OSError, ValueError):
        known = {}
    if known.get(key) == print_:
        return
    known[key] = print_
    if len(known) > 256:  # one entry per working folder: keep the newest
        known = dict(list(known.items())[-256:])
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(jsontext.dumps(known))
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)


def pack_blobs(blobs: list[snapshots.Snapshot]) -> list[list[Any]]:
    """[sha256, size, base64 of zlib] per kept content, as far as the frame limit allows."""
    out: list[list[Any]] = []
    room = wire.MAX_FRAME // 2  # the event itself gets the other half
    seen: set[str] = set()
    for snap in blobs:
        if snap.sha256 is None or snap.sha256 in seen:
            continue
        seen.add(snap.sha256)
        data = None
        if snap.data is not None:
            packed = _b64(zlib.compress(snap.data, 1))
            if len(packed) <= room:  # else hashed, not kept, as for a file over the cap
                room -= len(packed)
                data = packed
        out.append([snap.sha256, snap.size, data])
    return out


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")
