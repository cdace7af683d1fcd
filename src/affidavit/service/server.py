"""The socket server: one thread per connection, one writer thread, syncer threads, a
sealing schedule.

Connection threads read frames (:mod:`affidavit.capture.wire`), learn the peer from the
kernel (:mod:`.peer`) and hand each request to the writer thread through a queue. The writer
is the only code that writes the ledger: it takes every request waiting in the queue, stages
all the events among them in one transaction and commits; their connections send the acks
once that commit is fsync-ed (group commit, below), so 16 hooks at once cost one fsync, not
16. When the queue is idle it seals: every ``seal_interval`` seconds if anything new was
appended, and when a client sends ``seal``.

A malformed frame gets one ``ok: false`` line and the connection is closed (its framing can
no longer be trusted); a well-framed request with a bad field gets the line and the
connection stays. Neither changes the ledger.

Group commit: the writer takes every request waiting (at most :data:`MAX_BATCH`, and no more
once :data:`MAX_BATCH_BYTES` of frames are in it) into one transaction and commits it without
waiting for the fsync; a syncer thread (one of :data:`SYNCERS`) fsyncs the ledger's
write-ahead log and only then wakes the connections of every batch committed before that
fsync began, to send their acks. While one fsync runs, the writer stages and commits the next
batches, which the next fsync covers: the disk's fsync rate bounds the number of fsyncs, not
of events, and durable before ack holds for every record. Everything else (seals, drains,
gap reports, questions) commits with its own fsync, as every other writer of a ledger does.

Limits (:mod:`.admission`), so that no client can exhaust the service: at most
``max_connections`` open at once, and at most ``max_per_user`` of them from one uid (one
more is answered ``ok: false``, "busy", and closed: its hook spools the event, which the next
hook hands over); at most ``max_queued_bytes`` of request frames held at once, counted from
each frame's header before its body is read (a frame that would pass it is refused the same
way, unread); a client that sends nothing for ``read_deadline`` seconds is told so and
closed; a frame is at most :data:`~affidavit.capture.wire.MAX_FRAME` bytes.

A ``gaps`` request (a hook reporting its account's in-flight markers of killed hook runs;
:mod:`affidavit.capture.inflight`) waits until no connection of a marker's pid is open: a
hook killed after it sent its event has its connection open until the service has recorded
that event, so the gap check then finds it recorded and records no gap.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from affidavit.capture import wire
from affidavit.service import checks
from affidavit.service.admission import Admission
from affidavit.service.peer import Peer, credentials
from affidavit.service.recorder import Recorder, Reply
from affidavit.service.schedule import ArchiveSchedule

SEAL_INTERVAL = 10.0
MAX_BATCH = 256  # requests in one transaction
MAX_BATCH_BYTES = 32 * 2**20  # frame bytes after which a transaction takes no more requests
MAX_CONNECTIONS = 64
# fsyncs at once: a batch committed while one runs starts its own at once instead of
# waiting for it to end (it could not cover the batch) and then for a whole second one.
SYNCERS = 2
MAX_QUEUED_BYTES = 256 * 2**20  # request frames held at once, all connections together
READ_DEADLINE = 30.0  # seconds a client may stay silent; the hook answers in far less
GAP_WAIT = 5.0  # seconds a gaps request waits for the connections of its markers' pids
QUESTIONS = ("pending", "recall", "meta")


class Request:
    """One request, answered exactly once (by the writer, or by a syncer after the fsync).

    Its connection thread waits on a bare lock, held from the start and released by the
    answer: one waiter needs no Event (a Condition and a new lock per wait)."""

    __slots__ = ("_unanswered", "msg", "peer", "reply", "size")

    def __init__(self, peer: Peer, msg: dict[str, Any], size: int = 0) -> None:
        self.peer, self.msg, self.size = peer, msg, size
        self.reply: Reply = {"ok": False, "error": "the service stopped before answering"}
        self._unanswered = threading.Lock()
        self._unanswered.acquire()

    def answer(self) -> None:
        self._unanswered.release()

    def wait(self) -> Reply:
        self._unanswered.acquire()
        return self.reply


class Server:
    def __init__(
        self,
        open_recorder: Callable[[], Recorder],
        path: str,
        *,
        seal_interval: float = SEAL_INTERVAL,
        group: int | None = None,
        archive: ArchiveSchedule | None = None,
        max_connections: int = MAX_CONNECTIONS,
        max_per_user: int | None = None,
        max_queued_bytes: int = MAX_QUEUED_BYTES,
        read_deadline: float = READ_DEADLINE,
    ) -> None:
        # SQLite connections belong to the thread that made them: the writer opens it.
        self.open_recorder = open_recorder
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.path = path
        self.seal_interval = seal_interval
        self.group = group
        self.archive = archive
        self.next_archive_check = 0.0
        self.requests: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.listener: socket.socket | None = None
        self.read_deadline = read_deadline
        self.admission = Admission(max_connections, max_per_user, max_queued_bytes)
        self.unsynced: list[Request] = []  # committed, not yet fsync-ed: not acknowledged
        self.sync_ready = threading.Condition()
        self.sync_stop = False

    # -- the socket ------------------------------------------------------------------------

    def bind(self) -> None:
        """Listen at ``path``: the socket 0660 (0770 folder made if missing), group ``group``."""
        folder = os.path.dirname(self.path) or "."
        if not os.path.isdir(folder):
            os.makedirs(folder, mode=0o770)
            os.chmod(folder, 0o770)  # makedirs' mode is masked by the umask
            if self.group is not None:
                os.chown(folder, -1, self.group)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(self.path).st_mode):
                os.unlink(self.path)  # left by a service that died; a live one holds no lock
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o117)  # created 0660 from the start: no instant of a wider mode
        try:
            listener.bind(self.path)
        finally:
            os.umask(old)
        if self.group is not None:
            os.chown(self.path, -1, self.group)
        listener.listen(128)
        self.listener = listener

    def serve(self) -> None:
        """Accept until :meth:`stop`; then finish queued work, seal, and return."""
        if self.listener is None:
            self.bind()
        assert self.listener is not None
        writer = threading.Thread(target=self.write_loop, name="writer")
        writer.start()
        self.ready.wait()
        if self.failure is not None:
            writer.join()
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            raise self.failure
        try:
            while not self.stopping.is_set():
                try:
                    conn, _ = self.listener.accept()
                except OSError:
                    if self.stopping.is_set():
                        break
                    raise
                self.admit(conn)
        finally:
            self.requests.put(None)
            writer.join()
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def stop(self) -> None:
        self.stopping.set()
        if self.listener is not None:
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()

    # -- one connection ----------------------------------------------------------------------

    def admit(self, conn: socket.socket) -> None:
        """Count the connection under its peer's pid (here, in accept order, so a gaps
        request never overtakes the connection of a hook that died before it), or refuse it."""
        conn.settimeout(self.read_deadline)
        try:
            peer = credentials(conn)
        except OSError as e:
            refuse(conn, f"cannot identify the peer: {e}")
            return
        busy = self.admission.enter(peer)
        if busy is not None:
            refuse(conn, busy)
            return
        threading.Thread(target=self.converse, args=(conn, peer), daemon=True).start()

    def converse(self, conn: socket.socket, peer: Peer) -> None:
        try:
            with conn:
                self.talk(conn, peer)
        finally:
            self.admission.leave(peer)

    def talk(self, conn: socket.socket, peer: Peer) -> None:
        while True:
            size = 0
            try:
                announced = wire.receive_size(conn)
                if announced is None:
                    return  # closed between frames
                full = self.admission.reserve(announced)
                if full is not None:
                    refuse(conn, full)  # its body unread: the framing ends here
                    return
                size = announced
                reply = self.handle(peer, wire.receive_body(conn, size), size)
            except wire.FrameError as e:
                with contextlib.suppress(OSError):
                    wire.send(conn, {"ok": False, "error": f"malformed frame: {e}"})
                return
            except TimeoutError:
                refuse(conn, f"no request within {self.read_deadline:g} s; closed")
                return
            except (OSError, EOFError):
                return
            finally:
                self.admission.release(size)
            try:
                wire.send(conn, reply)
            except OSError:
                return

    def handle(self, peer: Peer, msg: dict[str, Any], size: int = 0) -> Reply:
        try:
            op = checks.op_of(msg)
            if op == "record":
                checks.record(msg)
            elif op == "gaps":
                msg["markers"] = self.settled_pids(peer, checks.gap_markers(msg))
        except wire.FrameError as e:
            return {"ok": False, "error": f"refused: {e}"}
        request = Request(peer, msg, size)
        self.requests.put(request)
        return request.wait()

    def settled_pids(self, peer: Peer, markers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The markers no open connection can still be recording (see the module docstring);
        the others stay with the hook for a later run."""
        own = peer.pid or 0
        counts = self.admission

        def open_of(pid: int) -> int:
            return counts.open.get(pid, 0) - (1 if pid == own else 0)

        deadline = time.monotonic() + GAP_WAIT
        with counts.opened:
            while any(open_of(m["pid"]) > 0 for m in markers):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                counts.opened.wait(left)
            return [m for m in markers if open_of(m["pid"]) <= 0]

    # -- the writer ------------------------------------------------------------------------------

    def write_loop(self) -> None:
        try:
            self.recorder = self.open_recorder()
        except BaseException as e:
            self.failure = e
            self.ready.set()
            return
        self.ready.set()
        syncers = [threading.Thread(target=self.sync_loop) for _ in range(SYNCERS)]
        for syncer in syncers:
            syncer.start()
        try:
            self.write_requests()
        finally:
            with self.sync_ready:
                self.sync_stop = True
                self.sync_ready.notify_all()
            for syncer in syncers:  # every committed batch synced and acknowledged first
                syncer.join()
            self.recorder.close()

    def write_requests(self) -> None:
        next_seal = time.monotonic() + self.seal_interval
        running = True
        while running:
            timeout = max(0.0, next_seal - time.monotonic())
            try:
                first = self.requests.get(timeout=timeout)
            except queue.Empty:
                self.seal_if_new()
                self.archive_if_due()
                next_seal = time.monotonic() + self.seal_interval
                continue
            batch: list[Request] = []
            item: Request | None = first
            size = 0
            while item is not None:
                batch.append(item)
                size += item.size
                if len(batch) >= MAX_BATCH or size >= MAX_BATCH_BYTES:
                    break
                try:
                    item = self.requests.get_nowait()
                except queue.Empty:
                    break
            running = item is not None
            self.run_batch(batch)
        self.seal_if_new()

    def run_batch(self, batch: list[Request]) -> None:
        events = [r for r in batch if r.msg["op"] == "record"]
        committed = False
        try:
            if events:
                replies = self.recorder.record([(r.peer, r.msg) for r in events], synced=False)
                committed = True
                for r, reply in zip(events, replies, strict=True):
                    r.reply = reply
            for r in batch:
                if r.msg["op"] != "record":
                    r.reply = self.other(r)
        except Exception as e:
            line = f"not recorded: {type(e).__name__}: {e}".splitlines()[0]
            print(f"affidavit service: {line}", file=sys.stderr)
            for r in events:
                r.reply = {"ok": False, "error": line}
        finally:
            for r in batch:
                if not (committed and r.msg["op"] == "record"):
                    r.answer()
            if committed:  # acknowledged by the syncer, once on disk
                with self.sync_ready:
                    self.unsynced.extend(events)
                    self.sync_ready.notify()

    def sync_loop(self) -> None:
        """fsync the log for every batch committed so far; then wake their connections."""
        while True:
            with self.sync_ready:
                while not self.unsynced and not self.sync_stop:
                    self.sync_ready.wait()
                synced, self.unsynced = self.unsynced, []
            if not synced:
                return  # stopping, and nothing left
            try:
                self.recorder.sync()
            except Exception as e:  # committed, not known durable: the hooks spool, dedup later
                line = f"not recorded durably: fsync of the ledger's log failed: {e}"
                print(f"affidavit service: {line}", file=sys.stderr)
                for r in synced:
                    r.reply = {"ok": False, "error": line}
            for r in synced:
                r.answer()

    def other(self, r: Request) -> Reply:
        op = r.msg["op"]
        try:
            if op in QUESTIONS:
                return self.recorder.answer(r.peer, r.msg)
            if op == "drain":
                return self.recorder.drain(r.peer, r.msg)
            if op == "gaps":
                return self.recorder.gaps(r.peer, r.msg)
            return self.recorder.seal()
        except wire.FrameError as e:
            return {"ok": False, "error": f"refused: {e}"}
        except Exception as e:
            line = f"{op} failed: {type(e).__name__}: {e}".splitlines()[0]
            print(f"affidavit service: {line}", file=sys.stderr)
            return {"ok": False, "error": line}

    def seal_if_new(self) -> None:
        try:
            if self.recorder.unpublished():
                self.recorder.seal()
        except Exception as e:  # the next tick tries again; appends go on meanwhile
            print(f"affidavit service: seal failed: {type(e).__name__}: {e}", file=sys.stderr)

    def archive_if_due(self) -> None:
        """The monthly archive (:mod:`.schedule`), looked at once a minute when idle."""
        if self.archive is None or time.monotonic() < self.next_archive_check:
            return
        self.next_archive_check = time.monotonic() + 60
        try:
            self.archive.tick(self.recorder.ledger, datetime.now(UTC))
        except Exception as e:  # recorded by the schedule when it can be; never stop serving
            print(f"affidavit service: archive failed: {type(e).__name__}: {e}", file=sys.stderr)


def refuse(conn: socket.socket, line: str) -> None:
    """One ``ok: false`` line, then close (the caller's ``with`` or here)."""
    with contextlib.suppress(OSError):
        conn.settimeout(1.0)
        wire.send(conn, {"ok": False, "error": line})
    conn.close()
