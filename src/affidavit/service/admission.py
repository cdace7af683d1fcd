"""The recorder service's limits: who may hold a connection, and how many request bytes may
wait at once (:mod:`.server` asks; it answers a refusal with the one line given here).

At most ``max_connections`` connections, and ``max_per_user`` of them per uid, so that no user
takes every slot; at most ``max_queued_bytes`` of request frames, each counted from its header,
before a byte of its body is read, until it is answered. Open connections are also counted
per peer pid, for the server's ``gaps`` requests (they wait for a pid's connections to end).
"""

from __future__ import annotations

import threading

from affidavit.service.peer import Peer


def default_share(max_connections: int) -> int:
    """Connections one uid may hold by default: half of all, so no user takes every slot."""
    return max(1, (max_connections + 1) // 2)


class Admission:
    def __init__(
        self, max_connections: int, max_per_user: int | None, max_queued_bytes: int
    ) -> None:
        self.max_connections = max_connections
        self.max_per_user = max_per_user or default_share(max_connections)
        self.max_queued_bytes = max_queued_bytes
        self.open: dict[int, int] = {}  # open connections per peer pid (0: pid unknown)
        self.users: dict[int, int] = {}  # open connections per peer uid
        self.opened = threading.Condition()  # notified whenever a connection ends
        self.queued = 0  # bytes of the frames being read or waiting for their answer
        self.queue_lock = threading.Lock()

    def enter(self, peer: Peer) -> str | None:
        """Count a new connection of ``peer``; or the one line refusing it (not counted)."""
        with self.opened:
            mine = self.users.get(peer.uid, 0)
            if sum(self.open.values()) >= self.max_connections:
                return f"busy: {self.max_connections} connections open, the limit"
            if mine >= self.max_per_user:
                return (
                    f"busy: uid {peer.uid} has {mine} connections open, its share of the "
                    f"{self.max_connections} (--max-connections-per-user)"
                )
            self.open[peer.pid or 0] = self.open.get(peer.pid or 0, 0) + 1
            self.users[peer.uid] = mine + 1
            return None

    def leave(self, peer: Peer) -> None:
        with self.opened:
            left = self.open.get(peer.pid or 0, 1) - 1
            if left > 0:
                self.open[peer.pid or 0] = left
            else:
                self.open.pop(peer.pid or 0, None)
            if self.users.get(peer.uid, 1) > 1:
                self.users[peer.uid] -= 1
            else:
                self.users.pop(peer.uid, None)
            self.opened.notify_all()

    def reserve(self, size: int) -> str | None:
        """Count a frame of ``size`` bytes before its body is read; or the line refusing it."""
        with self.queue_lock:
            if self.queued + size > self.max_queued_bytes:
                return (
                    f"busy: {self.queued} bytes of requests queued; this {size}-byte frame "
                    f"would pass the {self.max_queued_bytes}-byte limit (--max-queued-mb)"
                )
            self.queued += size
            return None

    def release(self, size: int) -> None:
        """The frame of ``size`` bytes was answered (or dropped): its bytes are free."""
        if size:
            with self.queue_lock:
                self.queued -= size
