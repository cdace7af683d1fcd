"""The recorder service's wire format: length-prefixed JSON frames over a Unix socket.

A frame is a 4-byte big-endian length, then that many bytes of UTF-8 JSON holding one
object. Frames larger than :data:`MAX_FRAME` are refused before a byte of their body is
read, so a peer cannot make the service buffer without bound. Requests carry ``op``; every
reply carries ``ok`` and, when it is false, ``error``: one line saying what was wrong.

Standard library only: the hook speaks it (:mod:`affidavit.capture.client`), and the
service (:mod:`affidavit.service.server`) answers it.
"""

from __future__ import annotations

import _socket  # socket.py's C module: all the hook needs (see capture.client)

from affidavit.capture import jsontext

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_FRAME = 64 * 2**20
"""Largest frame either side accepts: an event (at most 32 MiB) and its kept file contents."""

_HEAD = 4  # bytes of the big-endian length (int.from_bytes: the hook needs no struct module)


class FrameError(ValueError):
    """A frame that is not one: too large, cut short, not JSON, not an object."""


def encode(message: dict[str, Any]) -> bytes:
    body = jsontext.dumps(message, compact=True).encode("utf-8", "surrogatepass")
    if len(body) > MAX_FRAME:
        raise FrameError(f"frame of {len(body)} bytes is over the {MAX_FRAME}-byte limit")
    return len(body).to_bytes(_HEAD, "big") + body


def send(sock: _socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(encode(message))


def _read_exactly(sock: _socket.socket, n: int) -> bytes:
    parts: list[bytes] = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise EOFError("the peer closed the connection")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def receive(sock: _socket.socket) -> dict[str, Any] | None:
    """The next frame's object; None when the peer closed cleanly between frames."""
    size = receive_size(sock)
    return None if size is None else receive_body(sock, size)


def receive_size(sock: _socket.socket) -> int | None:
    """The next frame's announced size, its body not yet read (None: closed between frames).

    The service decides from it whether it has room for the body before reading a byte of it.
    """
    head = sock.recv(_HEAD, _socket.MSG_WAITALL)
    if not head:
        return None
    if len(head) < _HEAD:  # a socket with a timeout returns what has come so far
        try:
            head += _read_exactly(sock, _HEAD - len(head))
        except EOFError:
            raise FrameError(f"frame header cut short after {len(head)} of {_HEAD} bytes") from None
    size = int.from_bytes(head, "big")
    if size > MAX_FRAME:
        raise FrameError(f"frame of {size} bytes is over the {MAX_FRAME}-byte limit")
    return int(size)


def receive_body(sock: _socket.socket, size: int) -> dict[str, Any]:
    """The object of a frame whose header announced ``size`` bytes."""
    try:
        body = _read_exactly(sock, size)
    except EOFError:
        raise FrameError(f"frame body cut short (announced {size} bytes)") from None
    return decode(body)


def decode(body: bytes) -> dict[str, Any]:
    try:
        value = jsontext.loads(body)
    except RecursionError:
        raise FrameError("frame JSON nests too deeply") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise FrameError(f"frame is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise FrameError(f"frame is a JSON {type(value).__name__}, not an object")
    return value


class ServiceError(Exception):
    """The service answered ``ok: false``, or the exchange broke off."""


def exchange(sock: _socket.socket, message: dict[str, Any]) -> dict[str, Any]:
    """Send one request, return its reply; :class:`ServiceError` unless the reply is ok."""
    try:
        send(sock, message)
    except OSError:
        # A service that refuses a connection (busy) answers before it reads, then closes:
        # its line says more than the broken pipe does.
        try:
            said = receive(sock)
        except (OSError, ValueError, EOFError):
            said = None
        if said is not None and not said.get("ok"):
            raise ServiceError(str(said.get("error") or "refused")) from None
        raise
    reply = receive(sock)
    if reply is None:
        raise ServiceError("the service closed the connection without an answer")
    if not reply.get("ok"):
        raise ServiceError(str(reply.get("error") or "the service refused the request"))
    return reply
