"""After an ack: the user's spool and the in-flight markers of killed runs, handed to the
recorder service (:mod:`affidavit.capture.client`, which calls :func:`drain`).

A spool file is deleted only once the service recorded it; a marker only once the service
recorded its gap or found its event arrived (``gaps``; :mod:`affidavit.service.recorder`).
One hook at a time hands over, under a lock in the spool folder. Standard library only: this
runs in the hook.
"""

from __future__ import annotations

import contextlib
import os

from affidavit.capture import inflight
from affidavit.capture.wire import exchange

try:
    import fcntl
except ImportError:  # Windows: no service mode yet
    fcntl = None  # type: ignore[assignment]

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket

DRAIN_BATCH = 64  # spool files handed over per frame


def drain(sock: _socket.socket, base: str) -> None:
    """Hand the user's spool to the service, then the markers of killed runs; a file is
    deleted only once it was recorded."""
    folder = base + ".spool"  # spool.folder_of, without importing it on the fast path
    try:  # the folder stays once made (its lock is in it): only entries count
        spooled = any(n.endswith((".json", ".claimed")) for n in os.listdir(folder))
    except OSError:
        spooled = False
    try:
        marked = bool(os.listdir(inflight.folder_of(base)))
    except OSError:
        marked = False
    if not spooled and not marked:
        return
    from affidavit.files import make_private_folder

    make_private_folder(folder, narrow=True)  # for its lock, when only markers are left

    # One drainer at a time: a second hook would otherwise rename files the first one is
    # still reading. The kernel drops the lock of a hook that dies, and the next drainer
    # takes over the files it had claimed.
    fd = os.open(os.path.join(folder, "drain.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # another hook is handing the spool over right now
        if spooled:
            from affidavit.capture import spool

            _drain_claimed(sock, spool.claim(base))  # raises unless all was handed over
        report_gaps(sock, base)
    finally:
        os.close(fd)


def report_gaps(sock: _socket.socket, base: str) -> None:
    """Hand over the markers of killed runs (call under the drain lock, after a drain).

    A run killed after it spooled its event and before it dropped its marker leaves both;
    the drain above handed over all it claimed, and a marker whose delivery is still in the
    spool (spooled after that claim) waits for the next drain.
    """
    found = inflight.orphans(base)
    if not found:
        return
    waiting = _spooled_deliveries(base)
    markers = [
        {"name": name, "facts": facts}
        for name, facts in found
        if not (facts.get("delivery") and facts.get("delivery") in waiting)
    ]
    if not markers:
        return
    settled = exchange(sock, {"op": "gaps", "markers": markers}).get("settled")
    names = {m["name"] for m in markers}
    if isinstance(settled, list):
        inflight.discard(base, [n for n in settled if isinstance(n, str) and n in names])


def _spooled_deliveries(base: str) -> set[str]:
    from affidavit.capture import spool

    folder = base + ".spool"
    out: set[str] = set()
    try:
        names = os.listdir(folder)
    except OSError:
        return out
    for name in names:
        if name.endswith((".json", ".claimed")):
            with contextlib.suppress(OSError, ValueError):
                delivery = spool.read(os.path.join(folder, name)).get("delivery")
                if isinstance(delivery, str):
                    out.add(delivery)
    return out


def _drain_claimed(sock: _socket.socket, claimed: list[tuple[str, str]]) -> None:
    from affidavit.capture import spool

    done = 0
    try:
        while done < len(claimed):
            batch = claimed[done : done + DRAIN_BATCH]
            entries = []
            for key, path in batch:
                try:
                    entries.append({"key": key, "entry": spool.read(path)})
                except FileNotFoundError:
                    continue  # gone: nothing to hand over, and nothing to mark as seen
                except (OSError, ValueError) as e:
                    entries.append({"key": key, "unreadable": str(e)})
            exchange(sock, {"op": "drain", "entries": entries})
            spool.settle([path for _, path in batch], committed=True)
            done += len(batch)
    finally:  # what was not acknowledged goes back for the next run
        spool.settle([path for _, path in claimed[done:]], committed=False)
