"""Who is on the other end of a Unix socket, from the kernel, not from the peer.

Linux: ``SO_PEERCRED`` gives the peer's pid, uid and gid as they were at ``connect()``.
macOS and the BSDs: ``LOCAL_PEERCRED`` gives an ``xucred`` (uid and groups; its layout is
``u_int cr_version; uid_t cr_uid; short cr_ngroups; gid_t cr_groups[16]``) and
``LOCAL_PEERPID`` the pid. Only the Linux branch runs in this project's tests.
"""

from __future__ import annotations

import pwd
import socket
import struct
import sys
from dataclasses import dataclass

_UCRED = struct.Struct("3i")  # struct ucred: pid_t pid; uid_t uid; gid_t gid
SOL_LOCAL = 0  # macOS <sys/un.h>
LOCAL_PEERCRED = 0x001
LOCAL_PEERPID = 0x002
_XUCRED = struct.Struct("IIh2x16I")  # cr_version, cr_uid, cr_ngroups, pad, cr_groups[16]


@dataclass(frozen=True, slots=True)
class Peer:
    pid: int | None
    uid: int
    gid: int | None

    def user(self) -> str | None:
        """The peer's account name (None for a uid without one)."""
        try:
            return pwd.getpwuid(self.uid).pw_name
        except KeyError:
            return None

    def actor(self, host: str, claims: dict[str, object]) -> dict[str, object]:
        """The actor of this peer's records: the kernel's facts, then what it claimed."""
        user = self.user()
        actor: dict[str, object] = {"uid": self.uid, "host": host, "via": "peer-credentials"}
        if user is not None:
            actor["user"] = user
        if self.pid is not None:
            actor["pid"] = self.pid
        if claims:
            actor["claimed"] = claims  # the hook's own view: kept, never trusted
        return actor


def credentials(sock: socket.socket) -> Peer:
    """The peer of a connected Unix socket; OSError where the platform cannot say."""
    if sys.platform.startswith("linux"):
        data = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
        pid, uid, gid = _UCRED.unpack(data)
        return Peer(pid, uid, gid)
    if sys.platform == "darwin" or "bsd" in sys.platform:
        raw = sock.getsockopt(SOL_LOCAL, LOCAL_PEERCRED, _XUCRED.size)
        _, uid, ngroups, *groups = _XUCRED.unpack(raw[: _XUCRED.size])
        try:
            peer_pid: int | None = struct.unpack("i", sock.getsockopt(SOL_LOCAL, LOCAL_PEERPID, 4))[
                0
            ]
        except OSError:
            peer_pid = None
        return Peer(peer_pid, uid, groups[0] if ngroups > 0 else None)
    raise OSError(f"peer credentials are not supported on {sys.platform}")
